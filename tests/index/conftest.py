from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.adapters.index.sqlite import SqliteIndex
from tests.index.corpus import corpus


def opensearch_index(url: str, name: str = "media") -> OpenSearchIndex:
    index = OpenSearchIndex(OpenSearch(hosts=[url]), name, backoff_base=0.01)
    index.ensure_ready()
    return index


def load(index, documents) -> None:
    for doc in documents:
        index.put(doc, None)
    index.refresh()


@pytest.fixture(params=["sqlite", "opensearch"])
def empty_index(request, tmp_path):
    """A fresh, empty index of each backend (one test runs once per backend)."""
    if request.param == "sqlite":
        index = SqliteIndex(str(tmp_path / "index.db"))
        index.ensure_ready()
        yield index
        index.close()
    else:
        clone = request.getfixturevalue("osmem_clone")
        yield opensearch_index(clone.url)


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
