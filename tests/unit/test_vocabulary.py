"""The vocabulary enums are the plain strings stored in documents and JSON: switching to them changes no byte."""

from __future__ import annotations

import json

from mediaindex.domain import document as docs
from mediaindex.domain import messages
from mediaindex.domain.vocabulary import Action, Difference, EventKind, Status
from mediaindex.services import indexing, people, reconcile


def test_members_are_the_stored_strings():
    assert Status.INDEXED == "indexed" and f"{Status.DELETED}" == "deleted" and str(EventKind.CREATED) == "created"
    assert json.dumps({"status": Status.FAILED, Action.REMOVED: 1}) == '{"status": "failed", "removed": 1}'
    assert {"indexed": 1}[Status.INDEXED] == 1  # the same hash as the string: counters keyed either way agree


def test_existing_names_refer_to_the_enums():
    assert (docs.INDEXED, docs.FAILED, docs.DELETED) == (Status.INDEXED, Status.FAILED, Status.DELETED)
    assert all(isinstance(s, Status) for s in (docs.INDEXED, docs.FAILED, docs.DELETED))
    assert messages.CREATED is EventKind.CREATED and messages.REMOVED is EventKind.REMOVED
    assert indexing.REMOVED_DOC is Action.REMOVED and indexing.UNCHANGED is Action.UNCHANGED
    assert people.ENROLLED is Action.ENROLLED and reconcile.ORPHANED is Difference.ORPHANED


def test_values_are_distinct_within_each_enum():
    for enum in (EventKind, Status, Action, Difference):
        assert len({m.value for m in enum}) == len(enum)
