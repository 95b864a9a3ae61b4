"""The rules of look-alikes (domain/look_alikes.py) and copies shown once in a page of hits."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from mediaindex.domain import look_alikes as rules
from mediaindex.domain.look_alikes import LayoutMatch, Member
from mediaindex.ports import SearchResult
from mediaindex.services.look_alikes import collapse_copies


def test_a_pair_is_a_copy_only_when_its_pixels_agree():
    aligned = LayoutMatch(0.9, plain=False)
    assert rules.pair_reason(0.7, aligned) == rules.EDITED_COPY
    assert rules.pair_reason(0.99, LayoutMatch(0.99, plain=True)) == rules.NEAR_IDENTICAL
    assert rules.pair_reason(0.99, LayoutMatch(0.99, plain=False)) == rules.EDITED_COPY  # mirrored: edited
    assert rules.pair_reason(0.9, LayoutMatch(0.4, plain=False)) == rules.SIMILAR  # the same scene, moved
    assert rules.pair_reason(0.5, aligned) is None  # below the candidates: unrelated
    assert rules.pair_reason(0.1, None, same_bytes=True) == rules.SAME_BYTES


def test_photos_taken_at_different_moments_are_never_copies():
    assert rules.taken_apart("2024-07-01T12:00:00", "2024-07-01T12:00:01")
    assert not rules.taken_apart("2024-07-01T12:00:00", None)  # a copy that lost its time
    assert rules.pair_reason(0.99, LayoutMatch(1.0, plain=True), taken_apart=True) == rules.SIMILAR


def test_the_keeper_is_the_largest_then_sharpest_then_oldest():
    small = Member("a", "a.jpg", "1", size=10, pixels=100)
    big = Member("b", "b.jpg", "2", size=5, pixels=400)
    assert rules.suggested_keeper([small, big]) is big
    blurred = Member("c", "c.jpg", "3", size=5, pixels=400, sharpness=1.0)
    sharp = Member("d", "d.jpg", "4", size=5, pixels=400, sharpness=9.0)
    assert rules.suggested_keeper([blurred, sharp]) is sharp
    old = Member("e", "e.jpg", "5", size=5, pixels=400, taken_at="2001-01-01T00:00:00")
    new = Member("f", "f.jpg", "6", size=5, pixels=400, taken_at="2020-01-01T00:00:00")
    assert rules.suggested_keeper([new, old]) is old


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from(
    [rules.SAME_BYTES, rules.NEAR_IDENTICAL, rules.EDITED_COPY, rules.SIMILAR])), max_size=30))
def test_groups_are_the_connected_copies_and_never_hold_a_similar_only_pair(pairs):
    members = {str(i): Member(str(i), f"{i}.jpg", str(i), size=i * 10, pixels=100) for i in range(10)}
    groups = rules.group_pairs(members, [(str(a), str(b), r, 0.9) for a, b, r in pairs])
    seen = [m.id for g in groups for m in g.members]
    assert len(seen) == len(set(seen))  # a file in one group at most
    copies = {(str(a), str(b)) for a, b, r in pairs if r in rules.COPY_REASONS and a != b}
    for a, b in copies:
        assert any({a, b} <= {m.id for m in g.members} for g in groups)
    for g in groups:
        assert len(g.members) >= 2 and g.keeper.id not in g.reasons
        assert g.reclaimable == sum(m.size for m in g.members) - g.keeper.size
    assert [g.reclaimable for g in groups] == sorted((g.reclaimable for g in groups), reverse=True)


def test_exact_copies_show_once_in_a_page_with_the_other_paths():
    hits = [{"id": "1", "key": "a.jpg", "content_sha256": "x", "status": "indexed"},
            {"id": "2", "key": "b.jpg", "content_sha256": "y", "status": "indexed"},
            {"id": "3", "key": "copy of a.jpg", "content_sha256": "x", "status": "indexed"}]
    page = collapse_copies(SearchResult(total=3, hits=hits))
    assert [h["key"] for h in page.hits] == ["a.jpg", "b.jpg"] and page.hits[0]["copies"] == ["copy of a.jpg"]
    assert page.total == 3
