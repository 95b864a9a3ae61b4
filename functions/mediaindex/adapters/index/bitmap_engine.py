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
from typing import Any, Callable, Iterable

import numpy as np
from pyroaring import BitMap

from mediaindex.adapters.index import common
from mediaindex.adapters.index.bitmap_columns import RowTable, SortedColumn, bitmap_of, union
from mediaindex.domain.expressions import (
    FACE_BOOLEANS, All, And, DateRange, EmotionIs, Expr, FaceHas, KeyPrefix, LabelIs, MediaTypeIs, Not, Or,
    PersonIs, StatusIs, TextHas,
)

FACET_KINDS = {"labels": "label", "people": "person", "emotions": "emotion", "media_type": "media_type"}
SORTED_FIELDS = ("key", "taken_at", "indexed_at")
NAN = float("nan")


def document_terms(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, value) pairs of a document for facets and person queries; none for tombstones."""
    if doc.get("status") == "deleted":
        return set()
    terms = {("label", str(n)) for n in doc.get("label_names") or [] if n}
    terms |= {("person", str(p)) for p in doc.get("people") or [] if p}
    terms |= {("person_lc", p) for p in common.people_lower(doc)}
    terms |= {("emotion", e) for e in common.face_emotions(doc)}
    if doc.get("media_type"):
        terms.add(("media_type", str(doc["media_type"])))
    return terms


def search_facts(doc: dict[str, Any]) -> dict[str, Any] | None:
    """What the query side holds of a document beside its columns, stored with it (docs.search) so a build reads
    this, not the whole document; None for tombstones, which are never searched."""
    if doc.get("status") == "deleted":
        return None
    labels = [[name, label.get("confidence")] for label in doc.get("labels") or []
              for name in common.label_entry_names(label)]
    faces = []
    for face in doc.get("faces") or []:
        emotion, emotion_confidence = common.top_emotion(face)
        flags = [None if face.get(b) is None else int(bool(face.get(b))) for b in FACE_BOOLEANS]
        gender = face.get("gender")
        faces.append([*flags, gender.lower() if gender else None, face.get("age_low"), face.get("age_high"),
                      emotion, emotion_confidence])
    return {"terms": sorted(document_terms(doc)), "labels": labels, "faces": faces}


def _number(value: Any) -> float:
    return NAN if value is None else float(value)


class QueryColumns:
    """The query side of one index (see the module docstring). Not thread-safe: its owner serialises access."""

    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], int] = {}
        self.bitmaps: list[BitMap] = []
        self.term_values: list[str] = []  # by code
        self.by_kind: dict[str, list[int]] = defaultdict(list)
        self.present = BitMap()  # every document, tombstones included
        self.terms = RowTable(code=np.int64)  # the term codes of each slot: what to take out when it changes
        self.labels = RowTable(code=np.int64, confidence=np.float64)
        self.faces = RowTable(age_low=np.float64, age_high=np.float64, emotion=np.int64, emotion_confidence=np.float64)
        self.sorted: dict[str, SortedColumn] = {f: SortedColumn([], []) for f in SORTED_FIELDS}

    # ---- terms -----------------------------------------------------------------------------------------------
    def code(self, kind: str, value: str) -> int:
        found = self.codes.get((kind, value))
        if found is None:
            found = self.codes[(kind, value)] = len(self.bitmaps)
            self.bitmaps.append(BitMap())
            self.term_values.append(value)
            self.by_kind[kind].append(found)
        return found

    def term(self, kind: str, value: Any) -> BitMap:
        found = self.codes.get((kind, str(value)))
        return self.bitmaps[found] if found is not None else BitMap()

    def _slot_terms(self, status: Any, media_type: Any, facts: dict[str, Any] | None) -> set[tuple[str, str]]:
        terms = {("status", str(status))}
        if media_type is not None:
            terms.add(("mt", str(media_type)))  # the column, tombstones included (the facet term is not)
        if facts:
            terms.update((str(k), str(v)) for k, v in facts["terms"])
            terms.update(("lname", str(name)) for name, _ in facts["labels"])
            for face in facts["faces"]:
                terms.update((flag, str(value)) for flag, value in zip(FACE_BOOLEANS, face) if value is not None)
                if face[len(FACE_BOOLEANS)]:
                    terms.add(("gender", str(face[len(FACE_BOOLEANS)])))
        return terms

    def _label_rows(self, facts: dict[str, Any] | None) -> tuple[list[int], list[float]]:
        rows = facts["labels"] if facts else []
        return [self.code("lname", str(n)) for n, _ in rows], [_number(c) for _, c in rows]

    def _face_rows(self, facts: dict[str, Any] | None) -> dict[str, list[Any]]:
        at = len(FACE_BOOLEANS)
        faces = facts["faces"] if facts else []
        return {"age_low": [_number(f[at + 1]) for f in faces], "age_high": [_number(f[at + 2]) for f in faces],
                "emotion": [self.code("emotion_q", str(f[at + 3])) if f[at + 3] else -1 for f in faces],
                "emotion_confidence": [_number(f[at + 4]) for f in faces]}

    # ---- building and changing -----------------------------------------------------------------------------------
    def load(self, rows: Iterable[tuple[int, Any, Any, dict[str, Any] | None]],
             sorted_columns: dict[str, tuple[list[int], list[Any]]]) -> None:
        """Everything at once: rows of (slot, status, media_type, facts) in ascending slot order, and each sort
        field's (slots, values) as SQLite ordered them (by value, then id)."""
        members: dict[int, list[int]] = defaultdict(list)
        term_slots, term_codes = [], []
        label_slots, label_codes, label_confidences = [], [], []
        face_slots, face_columns = [], defaultdict(list)
        for slot, status, media_type, facts in rows:
            for kind, value in self._slot_terms(status, media_type, facts):
                code = self.code(kind, value)
                members[code].append(slot)
                term_slots.append(slot)
                term_codes.append(code)
            codes, confidences = self._label_rows(facts)
            label_slots.extend([slot] * len(codes))
            label_codes.extend(codes)
            label_confidences.extend(confidences)
            faces = self._face_rows(facts)
            face_slots.extend([slot] * len(faces["age_low"]))
            for name, values in faces.items():
                face_columns[name].extend(values)
            self.present.add(slot)
        for code, slots in members.items():
            self.bitmaps[code] = bitmap_of(slots)
        self.terms.load(term_slots, code=term_codes)
        self.labels.load(label_slots, code=label_codes, confidence=label_confidences)
        self.faces.load(face_slots, **{n: face_columns[n] for n in ("age_low", "age_high", "emotion", "emotion_confidence")})
        for name, (slots, values) in sorted_columns.items():
            self.sorted[name] = SortedColumn(slots, values)

    def remove(self, slot: int) -> None:
        for code in self.terms.rows_of(slot)["code"]:
            self.bitmaps[int(code)].discard(slot)
        for table in (self.terms, self.labels, self.faces):
            table.remove(slot)
        for column in self.sorted.values():
            column.remove(slot)
        self.present.discard(slot)

    def put(self, slot: int, status: Any, media_type: Any, columns: dict[str, Any], facts: dict[str, Any] | None) -> None:
        """One document as it is now (after `remove` if it was held): its columns are key, taken_at, indexed_at."""
        codes = [self.code(kind, value) for kind, value in self._slot_terms(status, media_type, facts)]
        for code in codes:
            self.bitmaps[code].add(slot)
        self.terms.add(slot, code=codes)
        label_codes, confidences = self._label_rows(facts)
        self.labels.add(slot, code=label_codes, confidence=confidences)
        self.faces.add(slot, **self._face_rows(facts))
        for name, column in self.sorted.items():
            column.set(slot, columns.get(name))
        self.present.add(slot)

    def stale_columns(self, limit: int) -> list[str]:
        """The sort fields with more changed slots than `limit`: cheaper to have SQLite sort them again."""
        return [name for name, column in self.sorted.items() if len(column.stale) > limit]

    # ---- queries -------------------------------------------------------------------------------------------------
    def matching(self, e: Expr, text: Callable[[TextHas], BitMap]) -> BitMap:
        """The slots matching `e`; `text` answers word conditions (from FTS5). Stored bitmaps are never changed
        here: every operator makes a new one."""
        if isinstance(e, All):
            return self.present
        if isinstance(e, And):
            if not e.parts:
                return self.present
            wanted = [p for p in e.parts if not isinstance(p, Not)]
            found = self.matching(wanted[0], text) if wanted else self.present
            for part in wanted[1:]:
                found = found & self.matching(part, text)
            for part in e.parts:
                if isinstance(part, Not):  # AND NOT x: a difference, never the complement of x
                    found = found - self.matching(part.part, text)
            return found
        if isinstance(e, Or):
            return union(self.matching(p, text) for p in e.parts)
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
            code = self.codes.get(("emotion_q", str(e.type)))
            if code is None:
                return BitMap()
            return self._face_slots((self.faces.view("emotion") == code)
                                    & (self.faces.view("emotion_confidence") >= e.min_confidence))
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
        if isinstance(e, MediaTypeIs):
            return self.term("mt", e.media_type)
        if isinstance(e, StatusIs):
            return self.term("status", e.status)
        if isinstance(e, KeyPrefix):
            return self.sorted["key"].range(e.prefix, common.next_prefix(e.prefix))
        if isinstance(e, DateRange):
            return self.sorted[e.field].range(e.since, e.before)
        raise TypeError(f"not a query expression: {e!r}")

    def _label_at_least(self, forms: list[str], confidence: float) -> BitMap:
        codes = [self.codes[("lname", f)] for f in forms if ("lname", f) in self.codes]
        if not codes:
            return BitMap()
        names = self.labels.view("code")
        mask = names == codes[0] if len(codes) == 1 else np.isin(names, codes)
        slots = self.labels.view("slot")[mask]
        # rows of a changed document stay until compaction with slot -1: never a match
        return bitmap_of(slots[(self.labels.view("confidence")[mask] >= confidence) & (slots >= 0)])

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
                bitmap = self.bitmaps[code]
                count = matches.intersection_cardinality(bitmap) if bitmap else 0
                if count:
                    counted.append((self.term_values[code], count))
            counted.sort(key=lambda vc: (-vc[1], vc[0]))
            result[name] = dict(counted if size is None else counted[:size])
        return result

    def values(self, kind: str) -> list[str]:
        """The values of one kind of term that some document holds."""
        return [self.term_values[code] for code in self.by_kind.get(kind, []) if self.bitmaps[code]]

    def first(self, matches: BitMap, field: str, count: int, descending: bool) -> list[int]:
        return self.sorted[field].first(matches, count, descending)
