"""The user-facing query syntax: `parse_query("dog AND person:obama")` is an expression tree (domain/expressions.py).

A tokenizer cuts the text into words, quoted strings and parentheses; `_Parser` reads them by precedence (OR, then
AND, then NOT and -term, then a term); each `field:value` is read by its own small method. Every error is a
ParseError that says what is wrong and where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from typing import Callable

from mediaindex.domain import free_text
from mediaindex.domain.expressions import (
    DATE_FIELDS, EMOTIONS, FACE_BOOLEANS, GENDERS, MAX_AGE, MAX_CONDITIONS, MAX_DEPTH, MAX_QUERY_CHARS, MAX_TERMS,
    MEDIA_TYPES, All, And, DateRange, SimilarTo, EmotionIs, Expr, FaceHas, FactIs, KeyPrefix, LabelIs, MediaTypeIs, Not, OnlyPeople, Or,
    PersonIs, StatusIs, TextHas, simplify, text_tokens,
)
from mediaindex.domain.kinds import KINDS
from mediaindex.domain.places import fold
from mediaindex.domain.vocabulary import Status


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
    "place": "place", "places": "place", "where": "place",
    "camera": "camera",
    "kind": "kind", "is": "kind",
    "similar": "similar", "like": "similar",
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


@dataclass(frozen=True)
class _Field:
    """One `field:value` term, its field as FIELDS names it."""

    name: str
    value: str
    pos: int  # where the value starts in the query text
    quoted_len: int | None  # the length of the quoted part when the value was quoted, else None


class _Parser:
    def __init__(self, text: str, today: date | None = None) -> None:
        self.text = text
        self.today = today or date.today()  # "last summer", "this year"
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # parentheses and NOTs open around the current token
        self.terms = 0
        # related labels each free-text concept may bring, so that a long sentence stays within the limits
        words = sum(1 for t in self.tokens if t.kind in ("word", "str"))
        self.related_budget = free_text.budget_for(words, MAX_CONDITIONS)

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
            return self.parse_group(tok)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"more than {MAX_TERMS} search terms in one query: search for fewer things at once", tok.pos)
        if tok.kind == "word" and tok.value.upper() in ("AND", "OR"):
            raise self.error(f"{tok.value} needs a search term on both sides", tok.pos)
        if tok.kind == "str":
            return self.bare(tok.value, tok.pos, quoted=True)
        m = _FIELD.match(tok.value)
        if not m:
            return self.free_text(tok)
        return self.field_term(tok, m.group(1), m.group(2))

    def plain(self, tok: _Tok) -> bool:
        """A word of free text: no operator, field, NOT sign or parenthesis."""
        return (tok.kind == "word" and tok.value.upper() not in ("AND", "OR", "NOT") and not tok.value.startswith("-")
                and not _FIELD.match(tok.value))

    def free_text(self, first: _Tok) -> Expr:
        """A run of plain words side by side ("a horse in a field"): the concepts they name, ANDed."""
        run = [first]
        while self.plain(self.peek()):
            tok = self.take()
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise self.error(f"more than {MAX_TERMS} search terms in one query: search for fewer things at once",
                                 tok.pos)
            run.append(tok)
        filters, words = free_text.time_filters([t.value for t in run], self.today)
        parts = filters + [free_text.concept(text, budget=self.related_budget)
                           for text, _ in free_text.read_words(words)] if words else filters
        return parts[0] if len(parts) == 1 else And(*parts)

    def parse_group(self, opening: _Tok) -> Expr:
        """`( ... )`, its `(` already taken."""
        if self.peek().kind == "rp":
            raise self.error("empty parentheses", opening.pos)
        self.nest(opening.pos)
        expr = self.parse_or()
        self.depth -= 1
        if self.take().kind != "rp":
            raise self.error("missing ')' to close the '(' here", opening.pos)
        return expr

    def bare(self, value: str, pos: int, quoted: bool) -> Expr:
        """A quoted string: one concept, as written (no stop words dropped, no related labels)."""
        if not value.strip():
            raise self.error("empty quotes", pos)
        return free_text.concept(value, quoted=quoted, budget=self.related_budget)

    # ---- field:value ---------------------------------------------------------------------------------------------
    def field_term(self, tok: _Tok, written_name: str, value: str) -> Expr:
        """`name:value`, or `name:"a quoted value"` (the string glued to the colon), optionally followed by a glued
        threshold: `label:"golden retriever">=90`."""
        name = written_name.lower()
        if name not in FIELDS:
            known = ", ".join(sorted({k for k, v in FIELDS.items() if k == v or k in ("taken", "indexed")}))
            raise self.error(f"unknown field {written_name!r}; known fields: {known}", tok.pos)
        if value != "":
            return self.field(_Field(FIELDS[name], value, tok.pos + len(written_name) + 1, quoted_len=None))
        quoted = self.peek()
        if not (quoted.kind == "str" and quoted.glued):
            raise self.error(f"{name}: needs a value (write {name}:VALUE, no space after the colon)", tok.pos)
        self.take()
        value = quoted.value
        after = self.peek()
        if after.kind == "word" and after.glued and after.value.startswith((">=", ">")):
            self.take()
            value += after.value
        return self.field(_Field(FIELDS[name], value, quoted.pos, quoted_len=len(quoted.value)))

    def field(self, f: _Field) -> Expr:
        """The term of one field, by the reader for its name; a value the tree refuses is an error at its spot."""
        try:
            return _FIELD_READERS[f.name](self, f)
        except ParseError:
            raise
        except ValueError as e:
            raise self.error(str(e), f.pos) from None

    def where(self, f: _Field) -> tuple[str, int]:
        return self.text, f.pos

    def value_and_threshold(self, f: _Field) -> tuple[str, float | None]:
        """`dog>=90` -> ("dog", 90.0); `dog` -> ("dog", None). The threshold follows the value, after the quote's
        end when it was quoted ("golden retriever">=90)."""
        head = f.value if f.quoted_len is None else f.value[:f.quoted_len]
        rest = "" if f.quoted_len is None else f.value[f.quoted_len:]
        if f.quoted_len is None and ">" in head:
            cut = head.index(">")
            head, rest = head[:cut], head[cut:]
        if not rest:
            return head, None
        if not rest.startswith(">="):
            raise self.error(f"{rest!r}: a threshold is written >=N (at least N), e.g. {f.name}:dog>=90", f.pos)
        number = rest[2:]
        try:
            threshold = float(number)
        except ValueError:
            raise self.error(f"{rest!r}: a threshold is >= and a number from 0 to 100, e.g. {f.name}:dog>=90", f.pos) from None
        if not 0 <= threshold <= 100:
            raise self.error(f"threshold {number} is outside 0-100", f.pos)
        return head, threshold

    def read_label(self, f: _Field) -> Expr:
        head, threshold = self.value_and_threshold(f)
        if not head.strip():
            raise self.error("label: needs a name, e.g. label:dog", f.pos)
        return LabelIs(head, threshold)

    def read_person(self, f: _Field) -> Expr:
        if not text_tokens(f.value):
            raise self.error("person: needs a name, e.g. person:\"Ada Lovelace\"", f.pos)
        return PersonIs(f.value, prefix=True)

    def read_only(self, f: _Field) -> Expr:
        if f.value.lower() not in ("people", "person", "persons"):
            raise self.error(f"only: takes people (only:people: nobody known but the person: terms), "
                             f"not {f.value!r}", f.pos)
        return OnlyPeople()

    def read_emotion(self, f: _Field) -> Expr:
        head, threshold = self.value_and_threshold(f)
        return EmotionIs(emotion_name(head, self.where(f)), threshold)

    def read_face_boolean(self, f: _Field) -> Expr:
        return FaceHas(f.name, _boolean(f.value, f.name, self.where(f)))

    def read_gender(self, f: _Field) -> Expr:
        if f.value.lower() not in GENDERS:
            raise self.error(f"gender takes male or female, not {f.value!r}", f.pos)
        return FaceHas("gender", f.value.lower())

    def read_age(self, f: _Field) -> Expr:
        return FaceHas("age", _age(f.value, self.where(f)))

    def read_text(self, f: _Field) -> Expr:
        words = text_tokens(f.value)
        if not words:
            raise self.error(f"text:{f.value!r} has no words to search for", f.pos)
        return TextHas(f.value, phrase=f.quoted_len is not None and len(words) > 1)

    def read_type(self, f: _Field) -> Expr:
        return MediaTypeIs(media_type_name(f.value, self.where(f)))

    def read_path(self, f: _Field) -> Expr:
        if not f.value:
            raise self.error("path: needs a prefix, e.g. path:holidays/2024/", f.pos)
        return KeyPrefix(f.value)

    def read_similar(self, f: _Field) -> Expr:
        if not f.value:
            raise self.error("similar: needs a file, e.g. similar:holidays/beach.jpg", f.pos)
        return SimilarTo(f.value)

    def read_date(self, f: _Field) -> Expr:
        since, before = _date_range(f.value, self.where(f), f.name)
        return DateRange(f.name, since, before)

    def read_place(self, f: _Field) -> Expr:
        name = fold(f.value)
        if not name:
            raise self.error('place: needs a name, e.g. place:paris or place:"new york"', f.pos)
        return FactIs("place", name)

    def read_camera(self, f: _Field) -> Expr:
        words = text_tokens(f.value)
        if not words:
            raise self.error("camera: needs a word of the camera's make or model, e.g. camera:iphone", f.pos)
        return simplify(And(*(FactIs("camera", w) for w in words)))

    def read_kind(self, f: _Field) -> Expr:
        kind = f.value.lower().rstrip("s") if f.value.lower() not in KINDS else f.value.lower()
        if kind not in KINDS:
            raise self.error(f"kind takes {', '.join(KINDS)}, not {f.value!r}", f.pos)
        return FactIs("kind", kind)

    def read_status(self, f: _Field) -> Expr:
        status = f.value.lower()
        if status == "any":
            return Or(StatusIs(Status.INDEXED), StatusIs(Status.FAILED))
        if status not in (Status.INDEXED, Status.FAILED):
            raise self.error(f"status takes indexed, failed or any, not {f.value!r}", f.pos)
        return StatusIs(Status(status))


# How each field (as FIELDS names it) is read.
_FIELD_READERS: dict[str, Callable[[_Parser, _Field], Expr]] = {
    "label": _Parser.read_label,
    "person": _Parser.read_person,
    "only": _Parser.read_only,
    "emotion": _Parser.read_emotion,
    **{name: _Parser.read_face_boolean for name in FACE_BOOLEANS},
    "gender": _Parser.read_gender,
    "age": _Parser.read_age,
    "text": _Parser.read_text,
    "type": _Parser.read_type,
    "path": _Parser.read_path,
    **{name: _Parser.read_date for name in DATE_FIELDS},
    "status": _Parser.read_status,
    "place": _Parser.read_place,
    "camera": _Parser.read_camera,
    "kind": _Parser.read_kind,
    "similar": _Parser.read_similar,
}


def _err(message: str, where: tuple[str, int] | None) -> ParseError:
    return ParseError(message, *where) if where else ParseError(message)


def emotion_name(value: str, where: tuple[str, int] | None = None) -> str:
    """An emotion as the documents spell it (HAPPY); `where` (query text, position) places the error."""
    if value.lower() not in EMOTIONS:
        raise _err(f"unknown emotion {value!r}; known: {', '.join(EMOTIONS)}", where)
    return value.upper()


def media_type_name(value: str, where: tuple[str, int] | None = None) -> str:
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
    # Python's dates begin in year 1; year 0 (allowed: dates run from 0000) has the calendar of year 2000 (both
    # leap years of the proleptic Gregorian calendar), so it is checked and stepped as 2000, then written as 0
    shift = 2000 if int(year) == 0 else 0
    try:
        date(int(year) + shift, int(month or 1), int(day or 1))
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
        d = date.fromordinal(date(int(year) + shift, int(month), int(day)).toordinal() + 1)
        return f"{d.year - shift:04d}-{d.month:02d}-{d.day:02d}"
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


def parse_query(text: str, today: date | None = None) -> Expr:
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
    return _Parser(text, today).parse()
