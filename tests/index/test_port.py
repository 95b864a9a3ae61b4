"""Every index (both backends and the test fake) implements the whole Index port, with the port's parameters: the
use cases call these methods without asking whether they are there."""

from __future__ import annotations

import inspect

import pytest

from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.ports import Index
from tests.fakes import FakeIndex

PORT_METHODS = {name: member for name, member in vars(Index).items()
                if inspect.isfunction(member) and not name.startswith("_")}


def test_the_port_declares_what_the_use_cases_call():
    assert {"get", "get_many", "iter_documents", "put", "update_fields", "put_many", "delete_document",
            "purge_tombstones", "find_by_content", "search", "count", "person_names", "stats", "refresh",
            "ensure_ready"} <= set(PORT_METHODS)


@pytest.mark.parametrize("implementation", [SqliteIndex, OpenSearchIndex, FakeIndex])
@pytest.mark.parametrize("name", sorted(PORT_METHODS))
def test_each_index_implements_the_method_with_the_ports_parameters(implementation, name):
    method = getattr(implementation, name, None)
    assert callable(method), f"{implementation.__name__} lacks {name}"
    declared = list(inspect.signature(PORT_METHODS[name]).parameters)
    implemented = list(inspect.signature(method).parameters)
    assert implemented[:len(declared)] == declared, f"{implementation.__name__}.{name}"
