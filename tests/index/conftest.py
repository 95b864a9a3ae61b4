from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from tests.conftest import opensearch_index
from tests.index.corpus import corpus


def load(index, documents) -> None:
    for doc in documents:
        index.put(doc, None)
    index.refresh()


@contextmanager
def both_backends(osmem_server, folder: Path, docs: list) -> Iterator[dict]:
    """SQLite (in `folder`) and a clone of the OpenSearch server, both holding `docs`: {"sqlite", "opensearch",
    "docs"}."""
    sqlite = SqliteIndex(str(folder / "index.db"))
    sqlite.ensure_ready()
    load(sqlite, docs)
    clone = osmem_server.clone()
    os_index = opensearch_index(clone.url)
    load(os_index, docs)
    try:
        yield {"sqlite": sqlite, "opensearch": os_index, "docs": docs}
    finally:
        clone.close()
        sqlite.close()


@pytest.fixture(scope="module")
def loaded_pair(osmem_server, tmp_path_factory):
    """Both backends holding the same corpus, shared by the read-only tests of a module."""
    with both_backends(osmem_server, tmp_path_factory.mktemp("contract"), corpus()) as pair:
        yield pair
