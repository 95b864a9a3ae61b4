"""The query model (domain/query.py) as SQL on the embedded index's tables: a condition on `d` (the docs table),
its order, and the facet counts read from the packed facet values.

Under a NOT, comparisons with columns that may be NULL are wrapped so they are 0, never NULL: NOT then means exactly
"does not match", as in OpenSearch. Elsewhere they stay bare so SQLite can use the column indexes (NULL acts as
false there). Conditions on labels, people, faces and words are `d.rowid IN (...)` on their side tables.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, Iterable

from mediaindex.adapters.index import common
from mediaindex.domain.expressions import (
    FACE_BOOLEANS, All, And, DateRange, EmotionIs, Expr, FaceHas, KeyPrefix, LabelIs, MediaTypeIs, Not, Or,
    PersonIs, StatusIs, TextHas,
)
from mediaindex.domain.query import Query

SEP, KIND_SEP = "\x1f", "\x1e"  # packing of a document's facet values in docs.facets
FACET_KINDS = {"labels": "label", "people": "person", "emotions": "emotion", "media_type": "media_type"}


@dataclass(frozen=True)
class SideTables:
    """The names of the tables a condition reads besides the docs table."""

    labels: str
    terms: str
    faces: str
    fts: str


def compile_where(expr: Expr, tables: SideTables) -> tuple[str, list[Any]]:
    """The expression as an SQL condition on `d` and its parameters."""
    compilation = _Compilation(tables)
    return compilation.condition(expr, negated=False), compilation.params


@dataclass
class _Compilation:
    """One expression being compiled: the parameters are collected in the order the condition names them."""

    tables: SideTables
    params: list[Any] = field(default_factory=list)

    def condition(self, e: Expr, negated: bool) -> str:
        compile_one = _COMPILERS.get(type(e))
        if compile_one is None:
            raise TypeError(f"not a query expression: {e!r}")
        return compile_one(self, e, negated)

    # ---- helpers ----
    def _rows(self, sql: str, *values: Any) -> str:
        """Documents whose rowid a side-table query returns."""
        self.params.extend(values)
        return f"d.rowid IN ({sql})"

    def _column(self, condition: str, negated: bool, *values: Any) -> str:
        """A comparison on docs columns, which may be NULL (see the module docstring)."""
        self.params.extend(values)
        return f"coalesce({condition}, 0)" if negated else f"({condition})"

    # ---- logic ----
    def all_(self, e: All, negated: bool) -> str:
        return "1"

    def and_(self, e: And, negated: bool) -> str:
        return "(" + " AND ".join(self.condition(p, negated) for p in e.parts) + ")" if e.parts else "1"

    def or_(self, e: Or, negated: bool) -> str:
        return "(" + " OR ".join(self.condition(p, negated) for p in e.parts) + ")" if e.parts else "0"

    def not_(self, e: Not, negated: bool) -> str:
        return f"NOT {self.condition(e.part, not negated)}"

    # ---- side tables ----
    def label(self, e: LabelIs, negated: bool) -> str:
        names = ", ".join("?" * len(e.forms))
        sql = f"SELECT doc FROM {self.tables.labels} WHERE name IN ({names})"
        if e.min_confidence is None:
            return self._rows(sql, *e.forms)
        return self._rows(f"{sql} AND confidence >= ?", *e.forms, e.min_confidence)

    def person(self, e: PersonIs, negated: bool) -> str:
        people = [e.name.lower()] if e.names is None else list(e.names)
        if not people:
            return "0"
        marks = ", ".join("?" * len(people))
        return self._rows(f"SELECT doc FROM {self.tables.terms} WHERE kind = 'person_lc' AND value IN ({marks})",
                          *people)

    def emotion(self, e: EmotionIs, negated: bool) -> str:
        sql = f"SELECT doc FROM {self.tables.faces} WHERE emotion = ?"
        if e.min_confidence is None:
            return self._rows(sql, e.type)
        return self._rows(f"{sql} AND emotion_confidence >= ?", e.type, e.min_confidence)

    def face(self, e: FaceHas, negated: bool) -> str:
        faces = self.tables.faces
        if e.attr in FACE_BOOLEANS:
            return self._rows(f"SELECT doc FROM {faces} WHERE {e.attr} = ?", int(e.value))
        if e.attr == "gender":
            return self._rows(f"SELECT doc FROM {faces} WHERE gender = ?", e.value)
        low, high = e.value  # an age range: some face's estimated range overlaps it
        conditions, values = [], []
        if high is not None:
            conditions.append("age_low <= ?")
            values.append(high)
        if low is not None:
            conditions.append("age_high >= ?")
            values.append(low)
        return self._rows(f"SELECT doc FROM {faces} WHERE {' AND '.join(conditions)}", *values)

    def text(self, e: TextHas, negated: bool) -> str:
        tokens = e.tokens
        if not tokens:
            return "0"
        match = f'"{" ".join(tokens)}"' if e.phrase else " AND ".join(f'"{t}"' for t in tokens)
        return self._rows(f"SELECT rowid FROM {self.tables.fts} WHERE {self.tables.fts} MATCH ?", match)

    # ---- docs columns ----
    def media_type(self, e: MediaTypeIs, negated: bool) -> str:
        return self._column("d.media_type = ?", negated, e.media_type)

    def status(self, e: StatusIs, negated: bool) -> str:
        return self._column("d.status = ?", negated, e.status)

    def key_prefix(self, e: KeyPrefix, negated: bool) -> str:
        upper = common.next_prefix(e.prefix)
        if upper is None:
            return self._column("d.key >= ?", negated, e.prefix)
        return self._column("d.key >= ? AND d.key < ?", negated, e.prefix, upper)

    def date_range(self, e: DateRange, negated: bool) -> str:
        column = f"d.{e.field}"
        conditions, values = [], []
        if e.since is not None:
            conditions.append(f"{column} >= ?")
            values.append(e.since)
        if e.before is not None:
            conditions.append(f"{column} < ?")
            values.append(e.before)
        return self._column(" AND ".join(conditions) or f"{column} IS NOT NULL", negated, *values)


# each kind of expression and the method that compiles it
_COMPILERS: dict[type, Callable[[_Compilation, Any, bool], str]] = {
    All: _Compilation.all_, And: _Compilation.and_, Or: _Compilation.or_, Not: _Compilation.not_,
    LabelIs: _Compilation.label, PersonIs: _Compilation.person, EmotionIs: _Compilation.emotion,
    FaceHas: _Compilation.face, TextHas: _Compilation.text, MediaTypeIs: _Compilation.media_type,
    StatusIs: _Compilation.status, KeyPrefix: _Compilation.key_prefix, DateRange: _Compilation.date_range,
}


def order_by(query: Query) -> str:
    sort = query.sort
    if sort.field == "relevance":
        return "d.indexed_at DESC, d.id DESC"  # SQLite does not score: newest first
    direction = "DESC" if sort.descending else "ASC"
    # NULLs count as smallest and ties follow the direction, so the (status, field, id) indexes serve the order
    return f"d.{sort.field} {direction}, d.id {direction}"


def only_statuses(expr: Expr) -> list[str] | None:
    """The statuses when the condition is nothing but a status (the default "everything" query), else None."""
    parts = expr.parts if isinstance(expr, Or) else (expr,)
    if all(isinstance(p, StatusIs) for p in parts):
        return sorted({p.status for p in parts if isinstance(p, StatusIs)})
    return None


def document_terms(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, value) pairs of a document for person queries and facets; none for tombstones."""
    if doc.get("status") == "deleted":
        return set()
    terms = {("label", str(n)) for n in doc.get("label_names") or [] if n}
    terms |= {("person", str(p)) for p in doc.get("people") or [] if p}
    terms |= {("person_lc", p) for p in common.people_lower(doc)}
    terms |= {("emotion", e) for e in common.face_emotions(doc)}
    if doc.get("media_type"):
        terms.add(("media_type", str(doc["media_type"])))
    return terms


def pack_facets(terms: set[tuple[str, str]]) -> str:
    """A document's facet values as one text column, read back by `count_facets` for the matching rows."""
    facet_kinds = set(FACET_KINDS.values())
    return SEP.join(
        f"{kind}{KIND_SEP}{value.replace(SEP, ' ')}" for kind, value in sorted(terms) if kind in facet_kinds
    )


def count_facets(packed: Iterable[str | None], names: Iterable[str], size: int | None) -> dict[str, dict[str, int]]:
    counts = Counter(chain.from_iterable(p.split(SEP) for p in packed if p))
    per_kind: dict[str, list[tuple[str, int]]] = {kind: [] for kind in FACET_KINDS.values()}
    for entry, count in counts.items():
        kind, _, value = entry.partition(KIND_SEP)
        per_kind[kind].append((value, count))
    result = {}
    for name in names:
        ordered = sorted(per_kind[FACET_KINDS[name]], key=lambda vc: (-vc[1], vc[0]))  # as OpenSearch orders
        result[name] = dict(ordered if size is None else ordered[:size])
    return result
