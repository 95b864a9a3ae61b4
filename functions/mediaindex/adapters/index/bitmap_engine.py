"""The embedded index's query side: every searchable fact of every document in memory, as compressed bitmaps of
document slots (SQLite rowids) per term, numpy tables of label and face rows for thresholds and age ranges, and
the documents in the order of each sort field. A count is the size of a bitmap, a facet is the size of an
intersection, the first page is a partial sort of positions: milliseconds at a million documents, where SQL over
side tables took seconds (docs/performance.md).

SQLite stays the store of record. This is built from it and kept in step with other writers' changes through its
change log (sqlite_sync.py); the words of texts and keys stay in SQLite's FTS5 table and arrive as bitmaps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from pyroaring import BitMap

from mediaindex.adapters.index import common
from mediaindex.adapters.index.bitmap_columns import RowTable, SortedColumn, bitmap_of, union
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.facts import document_facts, place_label
from mediaindex.domain.expressions import (
    FACE_BOOLEANS, TIER_WEIGHTS, All, And, Concept, ContentIn, DateRange, EmotionIs, Expr, FaceHas, FactIs, KeyPrefix, LabelIs,
    MediaTypeIs, Not, Or, PersonIs, StatusIs, TextHas, option_answer, scoring_concepts,
)

FACET_KINDS = {"labels": "label", "people": "person", "emotions": "emotion", "media_type": "media_type",
               "places": "place"}
SORTED_FIELDS = ("key", "taken_at", "indexed_at")
NAN = float("nan")
# how a document's facts are packed in its row (sqlite.py): term codes, label rows and face rows as raw arrays, so a
# build of the query side reads a million rows with one numpy call per column
TERM = np.dtype("<i4")
LABEL_ROW = np.dtype([("code", "<i4"), ("confidence", "<f8"), ("tier", "<i4")])  # tier: expressions.TIER_WEIGHTS
FACE_ROW = np.dtype([("age_low", "<f8"), ("age_high", "<f8"), ("emotion", "<i4"), ("emotion_confidence", "<f8")])


def document_terms(doc: SearchDocument) -> set[tuple[str, str]]:
    """(kind, value) pairs of a document for facets and person queries; none for tombstones."""
    if doc.get("status") == "deleted":
        return set()
    terms = {("label", str(n)) for n in doc.get("label_names") or [] if n}
    terms |= {("person", str(p)) for p in doc.get("people") or [] if p}
    terms |= {("person_lc", p) for p in common.people_lower(doc)}
    terms |= {("emotion", e) for e in common.face_emotions(doc)}
    if doc.get("media_type"):
        terms.add(("media_type", str(doc["media_type"])))
    place = place_label(doc)
    if place:
        terms.add(("place", place))
    terms |= {(f"fact:{field}", value) for field, values in document_facts(doc).items() for value in values}
    return terms


@dataclass
class Facts:
    """What the query side holds of one document: its terms (facets, and every equality a query can ask), its label
    names with their confidence, and its faces' ages and top emotion."""

    terms: set[tuple[str, str]]
    labels: list[tuple[str, Any, int]] = field(default_factory=list)
    faces: list[tuple[Any, Any, str | None, Any]] = field(default_factory=list)

    def pack(self, code: Callable[[str, str], int]) -> tuple[bytes, bytes, bytes]:
        """As stored: term codes, label rows, face rows (`code` gives a term's number in the file's vocabulary)."""
        terms = np.array(sorted(code(k, v) for k, v in self.terms), dtype=TERM)
        labels = np.array([(code("lname", n), _number(c), tier) for n, c, tier in self.labels], dtype=LABEL_ROW)
        faces = np.array([(_number(low), _number(high), code("emotion", e) if e else -1, _number(c))
                          for low, high, e, c in self.faces], dtype=FACE_ROW)
        return terms.tobytes(), labels.tobytes(), faces.tobytes()


def search_facts(doc: SearchDocument) -> Facts:
    """A document's facts; a tombstone has only its status and media type (the columns a query may still name)."""
    terms = {("status", str(doc.get("status")))}
    if doc.get("media_type") is not None:
        terms.add(("mt", str(doc["media_type"])))  # the column, tombstones included (the facet term is not)
    if doc.get("status") == "deleted":
        return Facts(terms)
    terms |= document_terms(doc)
    labels = [(name, label.get("confidence"), tier) for label in doc.get("labels") or []
              for name, tier in common.label_entry_tiers(label)]
    terms |= {("lname", name) for name, _, _ in labels}
    faces = []
    for face in doc.get("faces") or []:
        terms |= {(b, str(int(bool(value)))) for b in FACE_BOOLEANS if (value := face.get(b)) is not None}
        if face.get("gender"):
            terms.add(("gender", str(face["gender"]).lower()))
        emotion, emotion_confidence = common.top_emotion(face)
        faces.append((face.get("age_low"), face.get("age_high"), emotion, emotion_confidence))
    return Facts(terms, labels, faces)


def _number(value: Any) -> float:
    return NAN if value is None else float(value)


def _flat(slots: np.ndarray, blobs: Sequence[bytes | None], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The rows packed in each slot's blob, end to end, and the slot of each row."""
    counts = np.fromiter((len(b) // dtype.itemsize if b else 0 for b in blobs), np.int64, len(blobs))
    data = np.frombuffer(b"".join(b for b in blobs if b), dtype=dtype)
    return np.repeat(slots, counts), data


class QueryColumns:
    """The query side of one index (see the module docstring). Not thread-safe: its owner serialises access."""

    def __init__(self) -> None:
        self.vocabulary: dict[tuple[str, str], int] = {}  # term -> code, as the file numbers them
        self.term_of: dict[int, tuple[str, str]] = {}
        self.bitmaps: dict[int, BitMap] = {}  # or a DeferredBitmaps: those of a saved query side, read at first use
        self.by_kind: dict[str, list[int]] = defaultdict(list)
        self.top_code = 0
        self.present = BitMap()  # every document, tombstones included
        self.terms = RowTable(code=TERM)  # the term codes of each slot: what to take out when it changes
        self.labels = RowTable(code=np.int32, confidence=np.float64, tier=np.int32)
        self.faces = RowTable(age_low=np.float64, age_high=np.float64, emotion=np.int32, emotion_confidence=np.float64)
        self.sorted: dict[str, SortedColumn] = {f: SortedColumn([], []) for f in SORTED_FIELDS}

    # ---- terms -----------------------------------------------------------------------------------------------
    def learn(self, vocabulary: Iterable[tuple[int, str, str]]) -> None:
        """Terms the file numbered (code, kind, value)."""
        for code, kind, value in vocabulary:
            if code not in self.term_of:
                self.term_of[code] = (kind, value)
                self.vocabulary[(kind, value)] = code
                self.by_kind[kind].append(code)
                if code not in self.bitmaps:
                    self.bitmaps[code] = BitMap()
                self.top_code = max(self.top_code, code)

    def term(self, kind: str, value: Any) -> BitMap:
        code = self.vocabulary.get((kind, str(value)))
        return self.bitmaps[code] if code is not None else BitMap()

    # ---- building and changing -----------------------------------------------------------------------------------
    def load(self, slots: Sequence[int], terms: Sequence[bytes | None], labels: Sequence[bytes | None],
             faces: Sequence[bytes | None], sorted_columns: dict[str, tuple[list[int], list[Any]]]) -> None:
        """Everything at once: each slot's packed facts (Facts.pack), in ascending slot order, and each sort field's
        (slots, values) as SQLite ordered them (by value, then id). Learn the vocabulary first."""
        slot_array = np.asarray(slots, dtype=np.int64)
        term_slots, codes = _flat(slot_array, terms, TERM)
        self.terms.load(term_slots, code=codes)
        narrow = codes.astype(np.int16) if self.top_code < 2**15 else codes  # 16 bits: numpy's radix sort
        order = np.argsort(narrow, kind="stable")
        grouped = codes[order]
        edges = np.flatnonzero(np.diff(grouped)) + 1
        for start, end in zip(np.r_[0, edges], np.r_[edges, len(grouped)]):
            if end > start:
                self.bitmaps[int(grouped[start])] = bitmap_of(term_slots[order[start:end]])
        label_slots, label_rows = _flat(slot_array, labels, LABEL_ROW)
        self.labels.load(label_slots, code=label_rows["code"], confidence=label_rows["confidence"],
                         tier=label_rows["tier"])
        face_slots, face_rows = _flat(slot_array, faces, FACE_ROW)
        self.faces.load(face_slots, **{name: face_rows[name] for name in FACE_ROW.names or ()})
        self.labels.index_by("code")
        self.faces.index_by("emotion")
        self.present = bitmap_of(slot_array)
        for name, (sorted_slots, values) in sorted_columns.items():
            self.sorted[name] = SortedColumn(sorted_slots, values)

    def remove(self, slot: int) -> None:
        for code in self.terms.rows_of(slot)["code"]:
            self.bitmaps[int(code)].discard(slot)
        for table in (self.terms, self.labels, self.faces):
            table.remove(slot)
        for column in self.sorted.values():
            column.remove(slot)
        self.present.discard(slot)

    def put(self, slot: int, terms: bytes | None, labels: bytes | None, faces: bytes | None,
            columns: dict[str, Any]) -> None:
        """One document as it is now (after `remove` if it was held): its packed facts and its sort columns."""
        codes = np.frombuffer(terms or b"", dtype=TERM)
        for code in codes:
            self.bitmaps[int(code)].add(slot)
        self.terms.add(slot, code=codes)
        label_rows = np.frombuffer(labels or b"", dtype=LABEL_ROW)
        self.labels.add(slot, code=label_rows["code"], confidence=label_rows["confidence"], tier=label_rows["tier"])
        face_rows = np.frombuffer(faces or b"", dtype=FACE_ROW)
        self.faces.add(slot, **{name: face_rows[name] for name in FACE_ROW.names or ()})
        for name, column in self.sorted.items():
            column.set(slot, columns.get(name))
        self.present.add(slot)

    def stale_columns(self, limit: int) -> list[str]:
        """The sort fields with more changed slots than `limit`: cheaper to have SQLite sort them again."""
        return [name for name, column in self.sorted.items() if len(column.stale) > limit]

    # ---- queries -------------------------------------------------------------------------------------------------
    def matching(self, e: Expr, text: Callable[[Any], BitMap]) -> BitMap:
        """The slots matching `e`; `text` answers word conditions (from FTS5). Stored bitmaps are never changed
        here: every operator makes a new one."""
        if isinstance(e, All):
            return self.present
        if isinstance(e, And):
            if not e.parts:
                return self.present
            wanted = [p for p in e.parts if not isinstance(p, Not)]
            found = self.matching(wanted[0], text) if wanted else self.present
            for other in wanted[1:]:
                found = found & self.matching(other, text)
            for part in e.parts:
                if isinstance(part, Not):  # AND NOT x: a difference, never the complement of x
                    found = found - self.matching(part.part, text)
            return found
        if isinstance(e, Or):
            return union(self.matching(p, text) for p in e.parts)
        if isinstance(e, Concept):
            return union(self.matching(p, text) for p in e.options)
        if isinstance(e, Not):
            return self.present - self.matching(e.part, text)
        if isinstance(e, LabelIs):
            if e.min_confidence is None:
                return union(self.term("lname", f) for f in e.forms)
            return self._label_at_least(e.forms, e.min_confidence)
        if isinstance(e, PersonIs):
            people = [e.name.lower()] if e.names is None else list(e.names)
            return union(self.term("person_lc", p) for p in people)
        if isinstance(e, EmotionIs):
            if e.min_confidence is None:
                return self.term("emotion", e.type)
            code = self.vocabulary.get(("emotion", str(e.type)))
            rows = self.faces.rows_where("emotion", [] if code is None else [code])
            return self._at_least(self.faces, rows, self.faces.view("emotion_confidence"), e.min_confidence)
        if isinstance(e, FaceHas):
            if e.attr in FACE_BOOLEANS:
                return self.term(e.attr, int(e.value))
            if e.attr == "gender":
                return self.term("gender", e.value)
            low, high = e.value  # an age range: some face's estimated range overlaps it
            mask = np.ones(self.faces.size, dtype=bool)
            if high is not None:
                mask &= self.faces.view("age_low") <= high
            if low is not None:
                mask &= self.faces.view("age_high") >= low
            return self._face_slots(mask)
        if isinstance(e, TextHas):
            return text(e) if e.tokens else BitMap()
        if isinstance(e, ContentIn):
            return text(e)  # the content hash column is the file's (sqlite.py looks it up)
        if isinstance(e, MediaTypeIs):
            return self.term("mt", e.media_type)
        if isinstance(e, FactIs):
            return self.term(f"fact:{e.field}", e.value)
        if isinstance(e, StatusIs):
            return self.term("status", e.status)
        if isinstance(e, KeyPrefix):
            return self.sorted["key"].range(e.prefix, common.next_prefix(e.prefix))
        if isinstance(e, DateRange):
            return self.sorted[e.field].range(e.since, e.before)
        raise TypeError(f"not a query expression: {e!r}")

    # ---- relevance -----------------------------------------------------------------------------------------------
    def scores(self, where: Expr, matches: BitMap, text: Callable[[Any], BitMap]) -> tuple[np.ndarray, np.ndarray]:
        """The matching slots (ascending) and each one's relevance: the sum over the query's concepts of the best
        option's weight x answer (domain/expressions.py)."""
        slots = np.fromiter(matches, dtype=np.int64, count=len(matches))
        total = np.zeros(len(slots), dtype=np.float64)
        for concept in scoring_concepts(where):
            best = np.zeros(len(slots), dtype=np.float64)
            for option, weight in zip(concept.options, concept.weights):
                if isinstance(option, LabelIs) and option.min_confidence is None:
                    self._label_answers(option.forms, weight, slots, best)
                    continue
                found = self.matching(option, text) & matches
                if found:
                    where_found = np.searchsorted(slots, np.fromiter(found, dtype=np.int64, count=len(found)))
                    np.maximum.at(best, where_found, weight * option_answer(option))
            total += best
        return slots, total

    def _label_answers(self, forms: list[str], weight: float, slots: np.ndarray, best: np.ndarray) -> None:
        """best[i] = max(best[i], weight x confidence / 100 x tier weight) over the label rows of slots[i] naming
        one of `forms`."""
        rows = self._label_rows(forms)
        if not len(rows):
            return
        row_slots = self.labels.view("slot")[rows]
        position = np.searchsorted(slots, row_slots)
        inside = (position < len(slots)) & (row_slots >= 0)
        inside[inside] &= slots[position[inside]] == row_slots[inside]
        confidence = np.nan_to_num(self.labels.view("confidence")[rows][inside], nan=0.0)
        tiers = np.asarray(TIER_WEIGHTS)[np.clip(self.labels.view("tier")[rows][inside], 0, len(TIER_WEIGHTS) - 1)]
        np.maximum.at(best, position[inside], weight * (confidence / 100.0) * tiers)

    def _label_rows(self, forms: list[str]) -> np.ndarray:
        """The label rows (dead ones included) naming one of `forms`."""
        return self.labels.rows_where("code", [self.vocabulary[("lname", f)] for f in forms
                                               if ("lname", f) in self.vocabulary])

    def _label_at_least(self, forms: list[str], confidence: float) -> BitMap:
        rows = self._label_rows(forms)
        return self._at_least(self.labels, rows, self.labels.view("confidence"), confidence)

    @staticmethod
    def _at_least(table: RowTable, rows: np.ndarray, values: np.ndarray, threshold: float) -> BitMap:
        slots = table.view("slot")[rows]
        return bitmap_of(slots[(values[rows] >= threshold) & (slots >= 0)])

    def _face_slots(self, mask: np.ndarray) -> BitMap:
        slots = self.faces.view("slot")[mask]
        return bitmap_of(slots[slots >= 0])

    def facets(self, matches: BitMap, names: Iterable[str], size: int | None) -> dict[str, dict[str, int]]:
        """Per facet, its values and how many of `matches` hold each, most first (then by value, as OpenSearch)."""
        result = {}
        for name in names:
            kind = FACET_KINDS[name]
            counted = []
            for code in self.by_kind.get(kind, []):
                bitmap = self.bitmaps.get(code)
                count = matches.intersection_cardinality(bitmap) if bitmap else 0
                if count:
                    counted.append((self.term_of[code][1], count))
            counted.sort(key=lambda vc: (-vc[1], vc[0]))
            result[name] = dict(counted if size is None else counted[:size])
        return result

    def values(self, kind: str) -> list[str]:
        """The values of one kind of term that some document holds."""
        return [self.term_of[code][1] for code in self.by_kind.get(kind, []) if self.bitmaps.get(code)]

    def first(self, matches: BitMap, field: str, count: int, descending: bool) -> list[int]:
        return self.sorted[field].first(matches, count, descending)
