"""The expression tree every index backend executes (the `where` of a `Query`, domain/query.py), its vocabulary
and limits, and the helpers that walk, rebuild, simplify and check it. The user-facing syntax that produces it is
domain/query_syntax.py.

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
- `FactIs(field, value)`: the document has that exact fact (FACT_FIELDS; domain/facts.py): a place's name
  ("paris", "france", "fr"), a kind (photo, video, screenshot, selfie), a word of its camera ("iphone"), the month
  ("12") or day ("12-25") of a trusted date.
- `MediaTypeIs`, `KeyPrefix` (case-sensitive, as S3 keys are), `DateRange` (string comparison of ISO 8601:
  `since` inclusive, `before` exclusive; a document without the field never matches), `StatusIs`.
- A search shows `indexed` documents unless the tree names a status or `statuses` says otherwise; tombstones
  (`deleted`) are never shown.
- `Concept(word, options, weights)`: one thing a person typed ("dog", "ice cream", "lake"): it matches as the OR
  of its options (the word as a label, a person, a face, text; labels WordNet relates to it), and it is what
  ranks. A document's relevance is the sum, over the concepts of the query not under a NOT, of the concept's best
  option: `weight x answer`, where a label answers with its confidence / 100 times how specific the match is
  (its own name or an alias 1.0, a parent 0.8, a broader term 0.5: `TIER_WEIGHTS`), and a person, a face or a word
  of the text or path answers `OPTION_ANSWERS`. Both backends compute exactly this (domain/ranking.py says it in
  plain Python for the tests).
- Sorting: documents without the sort field count as smallest (first ascending, last descending, as SQLite orders
  NULLs, so its indexes serve every sort); ties are broken by `id` in the same direction. `relevance` is the score
  above, ties newest taken first (then id, descending; a file without a date last); a query without concepts has
  no score, so relevance is the date taken, newest first: the order of a photo library.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Union

from mediaindex.domain.vocabulary import Status
from mediaindex.domain.words import singulars

# the statuses a StatusIs may name, as the plain strings of the documents (they appear in messages)
STATUSES = tuple(status.value for status in Status)
MEDIA_TYPES = ("image", "video")
FACE_BOOLEANS = ("smile", "eyeglasses", "sunglasses", "beard", "mustache", "eyes_open", "mouth_open")
FACE_ATTRS = (*FACE_BOOLEANS, "gender", "age")
GENDERS = ("male", "female")
EMOTIONS = ("happy", "sad", "angry", "confused", "disgusted", "surprised", "calm", "fear")
DATE_FIELDS = ("taken_at", "indexed_at")
SORT_FIELDS = ("relevance", "indexed_at", "taken_at", "key")
FACETS = ("labels", "people", "emotions", "media_type", "places")
# Exact facts of a document free text can name (domain/facts.py computes them): its place's names, its kinds
# (photo, video, screenshot, selfie), its camera's words, the month ("07") and day ("07-14") it was taken.
FACT_FIELDS = ("place", "kind", "camera", "month", "day")
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
        check_confidence(self.min_confidence)

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
        check_confidence(self.min_confidence)


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
class FactIs:
    """The document has this fact (FACT_FIELDS): `FactIs("place", "paris")`, `FactIs("kind", "screenshot")`."""

    field: str
    value: str

    def __post_init__(self) -> None:
        if self.field not in FACT_FIELDS:
            raise ValueError(f"unknown fact {self.field!r}; known: {', '.join(FACT_FIELDS)}")


@dataclass(frozen=True)
class ContentIn:
    """The document's bytes are one of these (content_sha256): what a look-alike search (`similar:`) becomes once
    the vectors have named the nearest contents (services/look_alikes.py)."""

    hashes: tuple[str, ...]


@dataclass(frozen=True)
class SimilarTo:
    """`similar:FILE`: documents that look like that file's picture, most alike first. The search use case turns it
    into ContentIn before an index sees it (services/look_alikes.py); `target` is a path, key or document id."""

    target: str


@dataclass(frozen=True)
class Concept:
    """Something typed as free text: matches when any option does; ranks by its best option (module docstring)."""

    word: str  # as understood: a lemma or a multi-word name ("ice cream"), for messages
    options: tuple["Expr", ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.options) != len(self.weights) or not self.options:
            raise ValueError("a concept needs one weight per option, and at least one option")


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


Expr = Union[All, LabelIs, PersonIs, OnlyPeople, EmotionIs, FaceHas, TextHas, MediaTypeIs, KeyPrefix, DateRange, StatusIs,
             FactIs, ContentIn, SimilarTo, Concept, And, Or, Not]

# How specific a label's match is: the concept is the label's own name (or an alias), one of its parents, or one of
# its over-general broader terms. And what a non-label option answers (a person named, a face, a word of the text).
TIER_WEIGHTS = (1.0, 0.8, 0.5)
OPTION_ANSWERS = {"person": 1.0, "face": 0.9, "text": 0.3, "other": 1.0}


def option_answer(option: "Expr") -> float:
    """What a concept's option other than a label answers when it matches (OPTION_ANSWERS): a person, a face (an
    attribute, or several of one word: `girl`), a word of the text or path, anything else."""
    kind = ("person" if isinstance(option, PersonIs) else "text" if isinstance(option, TextHas)
            else "face" if isinstance(option, (FaceHas, And)) else "other")
    return OPTION_ANSWERS[kind]


def check_confidence(value: float | None) -> None:
    if value is not None and not (0 <= value <= 100):
        raise ValueError(f"a confidence is a percentage from 0 to 100, not {value}")


def walk(expr: Expr) -> Iterator[Expr]:
    yield expr
    if isinstance(expr, (And, Or)):
        for part in expr.parts:
            yield from walk(part)
    elif isinstance(expr, Concept):
        for part in expr.options:
            yield from walk(part)
    elif isinstance(expr, Not):
        yield from walk(expr.part)


def scoring_concepts(expr: Expr) -> list[Concept]:
    """The concepts that rank: every Concept of the tree not under a NOT."""
    found: list[Concept] = []
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Concept):
            found.append(e)
        elif isinstance(e, (And, Or)):
            stack.extend(reversed(e.parts))
    return found


def transform(expr: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """Rebuild the tree bottom-up, replacing each node by fn(node)."""
    if isinstance(expr, And):
        return fn(And(*(transform(p, fn) for p in expr.parts)))
    if isinstance(expr, Or):
        return fn(Or(*(transform(p, fn) for p in expr.parts)))
    if isinstance(expr, Not):
        return fn(Not(transform(expr.part, fn)))
    if isinstance(expr, Concept):
        return fn(replace(expr, options=tuple(transform(p, fn) for p in expr.options)))
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
    if isinstance(e, Concept):
        return {n for p in e.options for n in _named(p)}
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


def check_limits(expr: Expr) -> None:
    """Refuse a tree too big or too deep for the backends (MAX_CONDITIONS, MAX_DEPTH), or holding a value that
    is too long or not text (a lone surrogate: bytes that were not UTF-8). Iterative: any depth is safe here."""
    conditions, stack = 0, [(expr, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (And, Or)):
            stack.extend((p, depth + (not isinstance(p, type(node)))) for p in node.parts)
        elif isinstance(node, Concept):
            stack.extend((p, depth + 1) for p in node.options)
        elif isinstance(node, Not):
            stack.append((node.part, depth + 1))
        elif not isinstance(node, All):
            conditions += 1
            for value in (getattr(node, name, None) for name in ("name", "text", "prefix", "value")):
                if isinstance(value, str):
                    check_text(value)
        if depth > 2 * MAX_DEPTH + 2:  # the parser's groups and NOTs, the OR of a bare word and its leaves
            raise ValueError(f"the query nests groups and NOTs more than {MAX_DEPTH} deep: write it flatter")
    if conditions > MAX_CONDITIONS:
        raise ValueError(f"the query has {conditions} conditions; at most {MAX_CONDITIONS} (a bare word counts 3 or "
                         "more: label, person, text, and related labels): search for fewer things at once")


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

