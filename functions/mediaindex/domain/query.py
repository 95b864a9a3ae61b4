"""The one query model every index backend executes: an expression tree, a `Query` (tree, sort, paging, facets),
the user-facing syntax (`parse_query`) and the CLI flags (`Query.from_options`).

Semantics, shared by OpenSearch and SQLite (the contract tests hold both to them):

- `LabelIs("dog", 90)`: some label entry answers to "dog" (its name, an alias or a parent, case-insensitive) AND
  that same entry has confidence >= 90.
- `LabelIs` also answers to the singular forms of the name (WordNet's morphology, domain/words.py): "dogs" is
  "dog" or "dogs", "mice" is "mouse".
- `PersonIs(name)`: a recognised person whose name (case-insensitive) is that name, or has every word of it as a
  whole word ("obama", "joe biden", "Biden Joe"); with `prefix` (the `person:` field) each word may also be the
  start of one ("person:bar"). The index resolves the words to the exact names it holds (`resolve_people`,
  filling `names`), so both backends compare exact names. `OnlyPeople()` in an AND: no known person in the file
  besides the ones that AND's person terms name (`person:obama person:biden only:people`).
- `EmotionIs("happy", min)`: some face's top emotion is HAPPY (with at least `min` confidence when given).
- `FaceHas(attr, value)`: some face has the attribute: smile, eyeglasses, sunglasses, beard, mustache, eyes_open,
  mouth_open (True/False), gender ("male"/"female"), age ((low, high): the face's estimated range overlaps it).
- `TextHas(text, phrase)`: every word (or the exact phrase) occurs in the OCR text or in the file's key (path).
  Words are `text_tokens`: letters and digits, lower-cased, accents removed; "IMG_0001.jpg" is img, 0001, jpg.
- `MediaTypeIs`, `KeyPrefix` (case-sensitive, as S3 keys are), `DateRange` (string comparison of ISO 8601:
  `since` inclusive, `before` exclusive; a document without the field never matches), `StatusIs`.
- A search shows `indexed` documents unless the tree names a status or `statuses` says otherwise; tombstones
  (`deleted`) are never shown.
- Sorting: documents without the sort field count as smallest (first ascending, last descending, as SQLite orders
  NULLs, so its indexes serve every sort); ties are broken by `id` in the same direction. `relevance` is
  OpenSearch's score; SQLite, which does not score, orders it newest first (indexed_at descending).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any, Callable, Iterable, Iterator, Union

from mediaindex.domain.words import singulars

INDEXED, FAILED, DELETED = "indexed", "failed", "deleted"
STATUSES = (INDEXED, FAILED, DELETED)
MEDIA_TYPES = ("image", "video")
FACE_BOOLEANS = ("smile", "eyeglasses", "sunglasses", "beard", "mustache", "eyes_open", "mouth_open")
FACE_ATTRS = (*FACE_BOOLEANS, "gender", "age")
GENDERS = ("male", "female")
EMOTIONS = ("happy", "sad", "angry", "confused", "disgusted", "surprised", "calm", "fear")
DATE_FIELDS = ("taken_at", "indexed_at")
SORT_FIELDS = ("relevance", "indexed_at", "taken_at", "key")
FACETS = ("labels", "people", "emotions", "media_type")
# Words for people that the face attributes answer (a bare `man` also finds a male face); a child is under 13,
# a boy or girl under 18 (any face of that age: the attributes of one face are not tied together here)
PEOPLE_WORDS: dict[str, tuple[tuple[str, Any], ...]] = {
    "man": (("gender", "male"),), "male": (("gender", "male"),), "gentleman": (("gender", "male"),),
    "woman": (("gender", "female"),), "female": (("gender", "female"),), "lady": (("gender", "female"),),
    "boy": (("gender", "male"), ("age", (None, 17))), "girl": (("gender", "female"), ("age", (None, 17))),
    "child": (("age", (None, 12)),), "kid": (("age", (None, 12)),), "baby": (("age", (None, 2)),),
}
MAX_WINDOW = 10_000  # OpenSearch's default index.max_result_window: offset + limit may not exceed it
# Limits every query is held to before a backend sees it, so a hostile one is a clear error, never a
# RecursionError, SQLite's "Expression tree is too large" or OpenSearch's too-many-clauses 400.
MAX_QUERY_CHARS = 4_000  # of the query text
MAX_TERMS = 100  # search terms in one query (a bare word is one term, matched as label, person or text)
MAX_CONDITIONS = 300  # conditions in the whole tree, flags included (a bare word is three: label, person, text)
MAX_DEPTH = 20  # parentheses and NOTs nested in one another
MAX_VALUE_CHARS = 1024  # of one value (a label, a name, a path prefix, a text); S3 keys are at most 1,024 bytes
MAX_AGE = 150


# ---- words ---------------------------------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+")


def text_tokens(text: str | None) -> list[str]:
    """The words of a text as both backends index and search them: runs of letters and digits, case-folded,
    accents removed. Computed here, once, so OpenSearch and SQLite see exactly the same tokens."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return _WORD.findall(folded)


# ---- the expression tree -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class All:
    """Matches every document (the empty query)."""


@dataclass(frozen=True)
class LabelIs:
    name: str
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.strip().lower())
        _check_confidence(self.min_confidence)

    @property
    def forms(self) -> list[str]:
        """The name and its singular forms: any of them is a match."""
        return singulars(self.name) or [self.name]


@dataclass(frozen=True)
class PersonIs:
    name: str
    prefix: bool = False  # each word may be the start of a word of the name (person:bar finds Barack Obama)
    names: tuple[str, ...] | None = None  # resolved by the index: exactly these lower-case names

    def matches(self, person: str) -> bool:
        """Does this term name that person? (Before resolution: by the words of the name.)"""
        if self.names is not None:
            return person.lower() in self.names
        return person_name_matches(self.name, person, self.prefix)


@dataclass(frozen=True)
class OnlyPeople:
    """Nobody known in the file but the people the person terms beside it (in the same AND) name."""


@dataclass(frozen=True)
class EmotionIs:
    type: str
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", self.type.strip().upper())
        _check_confidence(self.min_confidence)


@dataclass(frozen=True)
class FaceHas:
    attr: str
    value: Any  # bool for FACE_BOOLEANS, "male"/"female" for gender, (low, high) for age

    def __post_init__(self) -> None:
        if self.attr not in FACE_ATTRS:
            raise ValueError(f"unknown face attribute {self.attr!r}; known: {', '.join(FACE_ATTRS)}")
        if self.attr in FACE_BOOLEANS and not isinstance(self.value, bool):
            raise ValueError(f"{self.attr} takes true or false, not {self.value!r}")
        if self.attr == "gender":
            value = str(self.value).lower()
            if value not in GENDERS:
                raise ValueError(f"gender takes male or female, not {self.value!r}")
            object.__setattr__(self, "value", value)
        if self.attr == "age":
            low, high = self.value
            if any(b is not None and not (isinstance(b, int) and 0 <= b <= MAX_AGE) for b in (low, high)):
                raise ValueError(f"age takes whole years from 0 to {MAX_AGE}, not {self.value!r}")
            if low is not None and high is not None and low > high:
                raise ValueError(f"age range {low}..{high} is empty")
            object.__setattr__(self, "value", (low, high))


@dataclass(frozen=True)
class TextHas:
    text: str
    phrase: bool = False

    @property
    def tokens(self) -> list[str]:
        return text_tokens(self.text)


@dataclass(frozen=True)
class MediaTypeIs:
    media_type: str


@dataclass(frozen=True)
class KeyPrefix:
    prefix: str


@dataclass(frozen=True)
class DateRange:
    field: str  # taken_at | indexed_at
    since: str | None = None  # inclusive
    before: str | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.field not in DATE_FIELDS:
            raise ValueError(f"date field must be one of {DATE_FIELDS}, not {self.field!r}")


@dataclass(frozen=True)
class StatusIs:
    status: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")


@dataclass(frozen=True)
class And:
    parts: tuple["Expr", ...]

    def __init__(self, *parts: "Expr") -> None:
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True)
class Or:
    parts: tuple["Expr", ...]

    def __init__(self, *parts: "Expr") -> None:
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True)
class Not:
    part: "Expr"


Expr = Union[All, LabelIs, PersonIs, OnlyPeople, EmotionIs, FaceHas, TextHas, MediaTypeIs, KeyPrefix, DateRange, StatusIs, And, Or, Not]


def _check_confidence(value: float | None) -> None:
    if value is not None and not (0 <= value <= 100):
        raise ValueError(f"a confidence is a percentage from 0 to 100, not {value}")


def walk(expr: Expr) -> Iterator[Expr]:
    yield expr
    if isinstance(expr, (And, Or)):
        for part in expr.parts:
            yield from walk(part)
    elif isinstance(expr, Not):
        yield from walk(expr.part)


def transform(expr: Expr, fn) -> Expr:
    """Rebuild the tree bottom-up, replacing each node by fn(node)."""
    if isinstance(expr, And):
        return fn(And(*(transform(p, fn) for p in expr.parts)))
    if isinstance(expr, Or):
        return fn(Or(*(transform(p, fn) for p in expr.parts)))
    if isinstance(expr, Not):
        return fn(Not(transform(expr.part, fn)))
    return fn(expr)


# ---- people by their names ---------------------------------------------------------------------------------------
def person_name_matches(query: str, name: str, prefix: bool = False) -> bool:
    """"obama", "Barack", "joe biden", "biden joe" all name Joe Biden or Barack Obama by whole words; with `prefix`,
    "bar" and "j bid" too. Every word of the query must match a different word of the name."""
    wanted, words = text_tokens(query), text_tokens(name)
    if not wanted:
        return False
    if wanted == words:
        return True
    free = list(words)
    for word in wanted:
        found = next((w for w in free if w == word), None)
        if found is None and prefix:
            found = next((w for w in free if w.startswith(word)), None)
        if found is None:
            return False
        free.remove(found)
    return True


def _named(e: Expr) -> set[str]:
    """The resolved names a term asks for (not under a NOT): `person:obama` and a bare `obama` both count."""
    if isinstance(e, PersonIs):
        return set(e.names or ())
    if isinstance(e, (And, Or)):
        return {n for p in e.parts for n in _named(p)}
    return set()


def resolve_people(expr: Expr, known: Callable[[], Iterable[str]]) -> Expr:
    """The tree with every PersonIs resolved to the exact names (lower case) of `known()` it matches, and every
    OnlyPeople turned into "none of the other known people". `known` is called once, and only when needed."""
    if not any(isinstance(e, (PersonIs, OnlyPeople)) for e in walk(expr)):
        return expr
    everyone = sorted({n.lower() for n in known() if n})

    def resolved(e: PersonIs) -> PersonIs:
        if e.names is not None:
            return e
        return replace(e, names=tuple(n for n in everyone if person_name_matches(e.name, n, e.prefix)))

    def step(e: Expr) -> Expr:
        if isinstance(e, PersonIs):
            return resolved(e)
        if isinstance(e, And) and any(isinstance(p, OnlyPeople) for p in e.parts):
            named = {n for p in e.parts for n in _named(p)}
            others = tuple(n for n in everyone if n not in named)
            return And(*(Not(PersonIs("", names=others)) if isinstance(p, OnlyPeople) else p for p in e.parts))
        return e

    def alone(e: Expr) -> Expr:  # an only:people with no AND around it: nobody known at all
        return Not(PersonIs("", names=tuple(everyone))) if isinstance(e, OnlyPeople) else e

    return transform(transform(expr, step), alone)


# ---- the query -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sort:
    field: str = "relevance"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.field not in SORT_FIELDS:
            raise ValueError(f"sort by one of {', '.join(SORT_FIELDS)}, not {self.field!r}")

    @classmethod
    def parse(cls, text: str | None) -> "Sort":
        """`relevance`, `taken_at`, `-taken_at` (descending), `key:asc`, `indexed_at:desc`."""
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
        name = {"taken": "taken_at", "indexed": "indexed_at", "path": "key"}.get(text, text)
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
    statuses: tuple[str, ...] = (INDEXED,)
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
            status: Expr = Not(StatusIs(DELETED))
        else:
            status = Or(*(StatusIs(s) for s in self.statuses if s != DELETED))
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

    @classmethod
    def from_options(
        cls,
        query: str | None = None,
        labels: Iterable[str] = (),
        people: Iterable[str] = (),
        min_confidence: float | None = None,
        emotions: Iterable[str] = (),
        text: str | None = None,
        media_type: str | None = None,
        prefix: str | None = None,
        limit: int = 20,
        offset: int = 0,
        sort: str | Sort | None = None,
        include_failed: bool = False,
        facets: bool | Iterable[str] = False,
        exact_people: bool = False,
    ) -> "Query":
        """The CLI flags: `mediaindex search [QUERY] --label L --person P --min-confidence N --emotion E --text T`.
        Every flag narrows (AND); --min-confidence applies to every label without its own threshold."""
        parts: list[Expr] = []
        if query and query.strip():
            parts.append(parse_query(query))
        parts += [LabelIs(name) for name in labels]
        # a facet's checkbox names exactly one person (its count is of that name); a typed --person may be any word
        parts += [PersonIs(name, names=(name.strip().lower(),)) if exact_people else PersonIs(name, prefix=True)
                  for name in people]
        parts += [EmotionIs(_emotion(e, None)) for e in emotions]
        if text:
            if not text_tokens(text):
                raise ParseError(f"--text {text!r} has no words to search for", text, 0)
            parts.append(TextHas(text))
        if media_type:
            parts.append(MediaTypeIs(_media_type(media_type, None)))
        if prefix:
            parts.append(KeyPrefix(prefix))
        where = simplify(And(*parts))
        if min_confidence is not None:
            _check_confidence(min_confidence)
            where = transform(
                where, lambda e: replace(e, min_confidence=min_confidence)
                if isinstance(e, LabelIs) and e.min_confidence is None else e,
            )
        if facets is True:
            facet_names: tuple[str, ...] = FACETS
        elif facets is False or facets is None:
            facet_names = ()
        else:
            facet_names = tuple(facets)
        return cls(
            where=where,
            sort=sort if isinstance(sort, Sort) else Sort.parse(sort),
            offset=offset,
            limit=limit,
            facets=facet_names,
            statuses=(INDEXED, FAILED) if include_failed else (INDEXED,),
        )


def check_limits(expr: Expr) -> None:
    """Refuse a tree too big or too deep for the backends (MAX_CONDITIONS, MAX_DEPTH), or holding a value that
    is too long or not text (a lone surrogate: bytes that were not UTF-8). Iterative: any depth is safe here."""
    conditions, stack = 0, [(expr, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (And, Or)):
            stack.extend((p, depth + (not isinstance(p, type(node)))) for p in node.parts)
        elif isinstance(node, Not):
            stack.append((node.part, depth + 1))
        elif not isinstance(node, All):
            conditions += 1
            for value in (getattr(node, name, None) for name in ("name", "text", "prefix")):
                if isinstance(value, str):
                    check_text(value)
        if depth > 2 * MAX_DEPTH + 2:  # the parser's groups and NOTs, the OR of a bare word and its leaves
            raise ValueError(f"the query nests groups and NOTs more than {MAX_DEPTH} deep: write it flatter")
    if conditions > MAX_CONDITIONS:
        raise ValueError(f"the query has {conditions} conditions; at most {MAX_CONDITIONS} (a bare word counts 3: "
                         "label, person, text): search for fewer things at once")


def check_text(value: str, what: str = "a query value") -> None:
    if len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"{what} of {len(value):,} characters; at most {MAX_VALUE_CHARS}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid UTF-8 text ({value.encode('utf-8', 'backslashreplace')[:60]!r}...)") from None


def simplify(expr: Expr) -> Expr:
    """Flatten nested And/Or, drop All from And, collapse one-part groups."""

    def step(e: Expr) -> Expr:
        if isinstance(e, (And, Or)):
            kind = type(e)
            parts: list[Expr] = []
            for p in e.parts:
                parts.extend(p.parts if isinstance(p, kind) else (p,))
            if kind is And:
                parts = [p for p in parts if not isinstance(p, All)]
                if not parts:
                    return All()
            elif any(isinstance(p, All) for p in parts):
                return All()
            return parts[0] if len(parts) == 1 else kind(*parts)
        if isinstance(e, Not) and isinstance(e.part, Not):
            return e.part.part
        return e

    return transform(expr, step)


# ---- the user-facing syntax ----------------------------------------------------------------------------------------
class ParseError(ValueError):
    """A query the parser cannot read: the message says what is wrong and where (0-based character offset)."""

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        self.message, self.text, self.position = message, text, position
        where = f" at position {position}" if text else ""
        # the query with a caret under the spot, when it fits on a line; a huge one is not echoed back
        shown = text and len(text) <= 200 and text.isprintable()
        pointer = f"\n  {text}\n  {' ' * position}^" if shown else ""
        super().__init__(f"{message}{where}{pointer}")


FIELDS = {
    "label": "label", "labels": "label",
    "person": "person", "people": "person",
    "emotion": "emotion",
    "gender": "gender", "age": "age",
    **{b: b for b in FACE_BOOLEANS}, "glasses": "eyeglasses", "moustache": "mustache",
    "text": "text",
    "type": "type", "media": "type",
    "path": "path", "key": "path", "prefix": "path",
    "taken": "taken_at", "taken_at": "taken_at", "indexed": "indexed_at", "indexed_at": "indexed_at",
    "status": "status",
    "only": "only",
}

_TOKEN = re.compile(r'\s+|(?P<lp>\()|(?P<rp>\))|(?P<str>"(?:[^"\\]|\\.)*"?)|(?P<word>[^\s()"]+)')
_FIELD = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)


@dataclass
class _Tok:
    kind: str  # lp, rp, str, word, end
    value: str
    pos: int
    glued: bool = False  # immediately follows the previous token, no space between


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, prev_end = 0, -1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None  # the pattern matches any character
        kind = m.lastgroup
        if kind is not None:
            raw = m.group()
            if kind == "str":
                if len(raw) < 2 or not raw.endswith('"') or raw.endswith('\\"') and not raw.endswith('\\\\"'):
                    raise ParseError("unterminated quote: add the closing \"", text, pos)
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            tokens.append(_Tok(kind, raw, pos, glued=(pos == prev_end)))
            prev_end = m.end()
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # parentheses and NOTs open around the current token
        self.terms = 0

    def nest(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"parentheses and NOTs nested more than {MAX_DEPTH} deep: write the query flatter", pos)

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, self.text, pos)

    def is_op(self, tok: _Tok, name: str) -> bool:
        return tok.kind == "word" and tok.value.upper() == name

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            return All()
        expr = self.parse_or()
        tok = self.peek()
        if tok.kind == "rp":
            raise self.error("unbalanced ')': no '(' to close", tok.pos)
        if tok.kind != "end":  # pragma: no cover - parse_and consumes everything else
            raise self.error(f"unexpected {tok.value!r}", tok.pos)
        return simplify(expr)

    def parse_or(self) -> Expr:
        parts = [self.parse_and()]
        while self.is_op(self.peek(), "OR"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(*parts)

    def parse_and(self) -> Expr:
        parts = [self.parse_unary()]
        while True:
            tok = self.peek()
            if tok.kind in ("end", "rp") or self.is_op(tok, "OR"):
                break
            if self.is_op(tok, "AND"):
                self.take()
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else And(*parts)

    def parse_unary(self) -> Expr:
        tok = self.peek()
        if self.is_op(tok, "NOT"):
            self.take()
            self.nest(tok.pos)
            part = self.parse_unary()
            self.depth -= 1
            return Not(part)
        if tok.kind == "word" and tok.value.startswith("-"):  # -cat: NOT cat
            if len(tok.value) == 1:
                nxt = self.tokens[self.i + 1]
                if nxt.kind in ("lp", "str") and nxt.glued:  # -(a OR b), -"a phrase"
                    self.take()
                    return Not(self.parse_primary())
                raise self.error("'-' must be followed by a term, e.g. -cat", tok.pos)
            self.tokens[self.i] = _Tok("word", tok.value[1:], tok.pos + 1, tok.glued)
            return Not(self.parse_primary())
        return self.parse_primary()

    def parse_primary(self) -> Expr:
        tok = self.take()
        if tok.kind == "end":
            raise self.error("expected a search term after this point", tok.pos)
        if tok.kind == "rp":
            raise self.error("unbalanced ')': no '(' to close" if self.i == 1 else "empty '()' or a missing term before ')'", tok.pos)
        if tok.kind == "lp":
            if self.peek().kind == "rp":
                raise self.error("empty parentheses", tok.pos)
            self.nest(tok.pos)
            expr = self.parse_or()
            self.depth -= 1
            close = self.take()
            if close.kind != "rp":
                raise self.error("missing ')' to close the '(' here", tok.pos)
            return expr
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"more than {MAX_TERMS} search terms in one query: search for fewer things at once", tok.pos)
        if tok.kind == "word" and tok.value.upper() in ("AND", "OR"):
            raise self.error(f"{tok.value} needs a search term on both sides", tok.pos)
        if tok.kind == "str":
            return self.bare(tok.value, tok.pos, quoted=True)
        m = _FIELD.match(tok.value)
        if not m:
            return self.bare(tok.value, tok.pos, quoted=False)
        name, value = m.group(1).lower(), m.group(2)
        if name not in FIELDS:
            known = ", ".join(sorted({k for k, v in FIELDS.items() if k == v or k in ("taken", "indexed")}))
            raise self.error(f"unknown field {m.group(1)!r}; known fields: {known}", tok.pos)
        value_pos = tok.pos + len(m.group(1)) + 1
        if value == "":
            nxt = self.peek()
            if nxt.kind == "str" and nxt.glued:
                self.take()
                value, value_pos = nxt.value, nxt.pos
                after = self.peek()
                if after.kind == "word" and after.glued and after.value.startswith((">=", ">")):
                    self.take()
                    value += after.value  # label:"golden retriever">=90
                    return self.field(FIELDS[name], value, value_pos, quoted_len=len(nxt.value))
            else:
                raise self.error(f"{name}: needs a value (write {name}:VALUE, no space after the colon)", tok.pos)
            return self.field(FIELDS[name], value, value_pos, quoted_len=len(value))
        return self.field(FIELDS[name], value, value_pos, quoted_len=None)

    def bare(self, value: str, pos: int, quoted: bool) -> Expr:
        if not value.strip():
            raise self.error("empty quotes", pos)
        words = text_tokens(value)
        options: list[Expr] = [LabelIs(value), PersonIs(value)]
        if words:
            options.append(TextHas(value, phrase=quoted and len(words) > 1))
        for form in singulars(value):
            if form in PEOPLE_WORDS:  # man, women, girls: a face with those attributes
                options.append(simplify(And(*(FaceHas(a, v) for a, v in PEOPLE_WORDS[form]))))
                break
        return Or(*options)

    def field(self, name: str, value: str, pos: int, quoted_len: int | None) -> Expr:
        def split_threshold() -> tuple[str, float | None]:
            # the threshold follows the value: dog>=90, "golden retriever">=90 (quoted_len marks the quote's end)
            head = value if quoted_len is None else value[:quoted_len]
            rest = "" if quoted_len is None else value[quoted_len:]
            if quoted_len is None and ">" in head:
                cut = head.index(">")
                head, rest = head[:cut], head[cut:]
            if not rest:
                return head, None
            if not rest.startswith(">="):
                raise self.error(f"{rest!r}: a threshold is written >=N (at least N), e.g. {name}:dog>=90", pos)
            number = rest[2:]
            try:
                threshold = float(number)
            except ValueError:
                raise self.error(f"{rest!r}: a threshold is >= and a number from 0 to 100, e.g. {name}:dog>=90", pos) from None
            if not 0 <= threshold <= 100:
                raise self.error(f"threshold {number} is outside 0-100", pos)
            return head, threshold

        try:
            if name == "label":
                head, threshold = split_threshold()
                if not head.strip():
                    raise self.error("label: needs a name, e.g. label:dog", pos)
                return LabelIs(head, threshold)
            if name == "person":
                if not text_tokens(value):
                    raise self.error("person: needs a name, e.g. person:\"Ada Lovelace\"", pos)
                return PersonIs(value, prefix=True)
            if name == "only":
                if value.lower() not in ("people", "person", "persons"):
                    raise self.error(f"only: takes people (only:people: nobody known but the person: terms), "
                                     f"not {value!r}", pos)
                return OnlyPeople()
            if name == "emotion":
                head, threshold = split_threshold()
                return EmotionIs(_emotion(head, (self.text, pos)), threshold)
            if name in FACE_BOOLEANS:
                return FaceHas(name, _boolean(value, name, (self.text, pos)))
            if name == "gender":
                if value.lower() not in GENDERS:
                    raise self.error(f"gender takes male or female, not {value!r}", pos)
                return FaceHas("gender", value.lower())
            if name == "age":
                return FaceHas("age", _age(value, (self.text, pos)))
            if name == "text":
                if not text_tokens(value):
                    raise self.error(f"text:{value!r} has no words to search for", pos)
                return TextHas(value, phrase=quoted_len is not None and len(text_tokens(value)) > 1)
            if name == "type":
                return MediaTypeIs(_media_type(value, (self.text, pos)))
            if name == "path":
                if not value:
                    raise self.error("path: needs a prefix, e.g. path:holidays/2024/", pos)
                return KeyPrefix(value)
            if name in DATE_FIELDS:
                since, before = _date_range(value, (self.text, pos), name)
                return DateRange(name, since, before)
            if name == "status":
                status = value.lower()
                if status == "any":
                    return Or(StatusIs(INDEXED), StatusIs(FAILED))
                if status not in (INDEXED, FAILED):
                    raise self.error(f"status takes indexed, failed or any, not {value!r}", pos)
                return StatusIs(status)
        except ParseError:
            raise
        except ValueError as e:
            raise self.error(str(e), pos) from None
        raise self.error(f"unknown field {name!r}", pos)  # pragma: no cover - FIELDS and this method agree


def _err(message: str, where: tuple[str, int] | None) -> ParseError:
    return ParseError(message, *where) if where else ParseError(message)


def _emotion(value: str, where: tuple[str, int] | None) -> str:
    if value.lower() not in EMOTIONS:
        raise _err(f"unknown emotion {value!r}; known: {', '.join(EMOTIONS)}", where)
    return value.upper()


def _media_type(value: str, where: tuple[str, int] | None) -> str:
    if value.lower() not in MEDIA_TYPES:
        raise _err(f"type takes image or video, not {value!r}", where)
    return value.lower()


def _boolean(value: str, name: str, where: tuple[str, int] | None) -> bool:
    v = value.lower()
    if v in ("true", "yes", "1", "y"):
        return True
    if v in ("false", "no", "0", "n"):
        return False
    raise _err(f"{name} takes true or false, not {value!r}", where)


def _age(value: str, where: tuple[str, int] | None) -> tuple[int | None, int | None]:
    try:
        if ".." in value:
            low_s, high_s = value.split("..", 1)
            low = int(low_s) if low_s else None
            high = int(high_s) if high_s else None
        else:
            low = high = int(value)
    except ValueError:
        raise _err(f"age takes a number or a range like 20..30, not {value!r}", where) from None
    if low is None and high is None:
        raise _err("age needs at least one bound, e.g. age:..12 or age:65..", where)
    if any(bound is not None and not 0 <= bound <= MAX_AGE for bound in (low, high)):
        raise _err(f"age takes years from 0 to {MAX_AGE}, not {value[:40]!r}", where)
    if low is not None and high is not None and low > high:
        raise _err(f"age range {value!r} is empty (low > high)", where)
    return low, high


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(T.*)?)?)?$", re.S)
_CLOCK = re.compile(r"^T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:\d{2})?$")


def _date_bound(text: str, upper: bool, where: tuple[str, int] | None) -> str:
    """A date of any precision as a string bound. Lower bounds are the date itself; an upper bound of a year,
    month or day is inclusive of the whole period, so it becomes the start of the next one (exclusive)."""
    m = _DATE.match(text)
    if not m:
        raise _err(f"{text[:40]!r} is not a date: write 2024, 2024-05, 2024-05-17 or 2024-05-17T10:00:00", where)
    year, month, day, clock = m.group(1), m.group(2), m.group(3), m.group(4)
    try:
        date(int(year), int(month or 1), int(day or 1))
        if clock:
            c = _CLOCK.match(clock)
            if not c:
                raise ValueError("a time is written T10, T10:30 or T10:30:00, optionally .fraction and Z or +02:00")
            time(int(c.group(1)), int(c.group(2) or 0), int(c.group(3) or 0))
    except ValueError as e:
        raise _err(f"{text[:40]!r} is not a valid date ({e})", where) from None
    if not upper or clock:
        return text
    if f"{year}-{month or 12}-{day or 31}" == "9999-12-31":
        return text + "\uffff"  # no next period to start: just past every time that begins with this one
    if day:
        d = date(int(year), int(month), int(day)).toordinal() + 1
        return date.fromordinal(d).isoformat()
    if month:
        y, mo = (int(year) + 1, 1) if month == "12" else (int(year), int(month) + 1)
        return f"{y:04d}-{mo:02d}"
    return f"{int(year) + 1:04d}"


def _date_range(value: str, where: tuple[str, int], name: str) -> tuple[str | None, str | None]:
    if ".." in value:
        start, end = value.split("..", 1)
    else:
        start = end = value
    if not start and not end:
        raise _err(f"{name} needs a date or a range, e.g. taken:2020-01-01..2021-12-31", where)
    since = _date_bound(start, False, where) if start else None
    before = _date_bound(end, True, where) if end else None
    # an inclusive timestamp upper bound: everything up to and including that instant
    if end and "T" in end:
        before = end + "\uffff"
    if since and before and since >= before:
        raise _err(f"date range {value!r} is empty (start after end)", where)
    return since, before


def parse_query(text: str) -> Expr:
    """The user-facing syntax. Examples:

        dog AND person:"Barack Obama"        label:dog>=90 OR label:cat        NOT emotion:happy
        smile:true gender:female age:20..35   type:video   path:holidays/2024/   taken:2020-01-01..2021-12-31
        person:obama person:biden only:people   (both, and no other known person)
        text:"happy birthday"                 (dog OR cat) NOT status:failed

    Terms side by side are ANDed; AND, OR, NOT (any case; quote them to search the word itself) and -term for NOT;
    a bare word matches a label, a person or a word of the text or path. Raises ParseError saying what is wrong
    and where.
    """
    if not isinstance(text, str):
        raise TypeError("parse_query takes a string")
    if len(text) > MAX_QUERY_CHARS:
        raise ParseError(f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ParseError("the query is not valid UTF-8 text", text.encode("utf-8", "replace").decode(), e.start) from None
    return _Parser(text).parse()
