"""A query as every index backend takes it: an expression tree (domain/expressions.py) with sort, paging, facets
and the statuses shown. `Query.coerce` also takes the user-facing syntax (domain/query_syntax.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mediaindex.domain.expressions import (
    FACETS, MAX_WINDOW, SORT_FIELDS, All, And, Expr, Not, Or, StatusIs, check_limits, simplify, walk,
)
from mediaindex.domain.query_syntax import parse_query
from mediaindex.domain.vocabulary import Status


@dataclass(frozen=True)
class Sort:
    field: str = "relevance"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.field not in SORT_FIELDS:
            raise ValueError(f"sort by one of {', '.join(SORT_FIELDS)}, not {self.field!r}")

    @classmethod
    def parse(cls, text: str | None) -> "Sort":
        """`relevance`, `date` (taken, newest first), `taken_at`, `-taken_at` (descending), `key:asc`,
        `indexed_at:desc`."""
        if not text:
            return cls()
        text = text.strip()
        descending = None
        if text.startswith("-"):
            text, descending = text[1:], True
        elif text.startswith("+"):
            text, descending = text[1:], False
        if ":" in text:
            text, direction = text.split(":", 1)
            if direction.lower() not in ("asc", "desc"):
                raise ValueError(f"sort direction is asc or desc, not {direction!r}")
            descending = direction.lower() == "desc"
        name = {"taken": "taken_at", "indexed": "indexed_at", "path": "key", "date": "taken_at"}.get(text, text)
        if descending is None:  # newest first for dates and relevance, a-z for keys
            descending = name != "key"
        return cls(name, descending)


@dataclass(frozen=True)
class Query:
    where: Expr = field(default_factory=All)
    sort: Sort = field(default_factory=Sort)
    offset: int = 0
    limit: int = 20
    facets: tuple[str, ...] = ()
    statuses: tuple[str, ...] = (Status.INDEXED,)
    facet_size: int = 20

    def __post_init__(self) -> None:
        if self.offset < 0 or self.limit < 0:
            raise ValueError("offset and limit must not be negative")
        if self.offset + self.limit > MAX_WINDOW:
            raise ValueError(f"offset + limit may not exceed {MAX_WINDOW}; narrow the query instead")
        unknown = set(self.facets) - set(FACETS)
        if unknown:
            raise ValueError(f"unknown facets {sorted(unknown)}; known: {', '.join(FACETS)}")
        check_limits(self.where)

    def effective_where(self) -> Expr:
        """The tree plus the status rule: only `statuses` unless the tree names one; never tombstones."""
        names_status = any(isinstance(e, StatusIs) for e in walk(self.where))
        if names_status:
            status: Expr = Not(StatusIs(Status.DELETED))
        else:
            status = Or(*(StatusIs(s) for s in self.statuses if s != Status.DELETED))
        return simplify(And(self.where, status))

    @classmethod
    def coerce(cls, query: "Query | Expr | str | None") -> "Query":
        if query is None:
            return cls()
        if isinstance(query, Query):
            return query
        if isinstance(query, str):
            return cls(where=parse_query(query))
        return cls(where=query)
