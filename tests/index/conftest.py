from __future__ import annotations

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from tests.conftest import opensearch_index
from tests.index.corpus import corpus


def load(index, documents) -> None:
    for doc in documents:
        index.put(doc, None)
    index.refresh()


@pytest.fixture(scope="module")
def loaded_pair(osmem_server, tmp_path_factory):
    """Both backends holding the same corpus, shared by the read-only tests of a module."""
    docs = corpus()
    sqlite = SqliteIndex(str(tmp_path_factory.mktemp("contract") / "index.db"))
    sqlite.ensure_ready()
    load(sqlite, docs)
    clone = osmem_server.clone()
    os_index = opensearch_index(clone.url)
    load(os_index, docs)
    yield {"sqlite": sqlite, "opensearch": os_index, "docs": docs}
    clone.close()
    sqlite.close()
