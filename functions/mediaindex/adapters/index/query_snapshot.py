"""The query side saved beside the index file (`<file>.<index>.query`, a numpy archive: no pickle), so that a new
process (each `mediaindex search`) starts from it and reads only the changes written since, instead of building
from every document: about a second at a million documents where a build takes most of a minute (docs/performance.md).

It is a cache: whoever finds it missing, unreadable, of another file generation or older than the change log
builds afresh, and a folder it cannot be written to only costs the next process a build."""

from __future__ import annotations

import logging
import os
import zipfile
from typing import Any

import numpy as np
from pyroaring import BitMap

from mediaindex.adapters.index.bitmap_columns import RowTable, SortedColumn, bitmap_of, slots_of
from mediaindex.adapters.index.bitmap_engine import QueryColumns

FORMAT = 2  # 2: label rows carry their tier (relevance)
_SEP = "\x00"
log = logging.getLogger(__name__)


def _strings(values: list[str]) -> np.ndarray:
    return np.frombuffer(_SEP.join(values).encode("utf-8", "surrogatepass"), dtype=np.uint8)


def _unstrings(data: np.ndarray, count: int) -> list[str]:
    return data.tobytes().decode("utf-8", "surrogatepass").split(_SEP) if count else []


def _bitmaps(bitmaps: list[BitMap]) -> tuple[np.ndarray, np.ndarray]:
    blobs = [b.serialize() for b in bitmaps]
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), np.array([len(b) for b in blobs], dtype=np.int64)


def _unbitmaps(data: np.ndarray, sizes: np.ndarray) -> list[BitMap]:
    raw, found, at = data.tobytes(), [], 0
    for size in sizes:
        found.append(BitMap.deserialize(raw[at:at + int(size)]))
        at += int(size)
    return found


def save(path: str, columns: QueryColumns, seq: int, generation: str) -> bool:
    """Write the snapshot (atomically); False when it cannot be (a value with a NUL, an unwritable folder)."""
    codes = sorted(columns.term_of)
    sorted_values = {name: column.values for name, column in columns.sorted.items()}
    changed = {name: column.changed for name, column in columns.sorted.items()}
    texts = [t for term in columns.term_of.values() for t in term]
    texts += [t for group in sorted_values.values() for t in group]
    texts += [v for c in changed.values() for v in c.values() if v is not None]
    if any(_SEP in str(t) for t in texts):
        return False
    arrays: dict[str, Any] = {"format": np.array([FORMAT, seq]), "generation": _strings([generation]),
                              "codes": np.array(codes, dtype=np.int64),
                              "kinds": _strings([columns.term_of[c][0] for c in codes]),
                              "values": _strings([columns.term_of[c][1] for c in codes])}
    arrays["bitmaps"], arrays["bitmap_sizes"] = _bitmaps([columns.bitmaps[c] for c in codes] + [columns.present])
    for table_name in ("terms", "labels", "faces"):
        table: RowTable = getattr(columns, table_name)
        for name in table.dtypes:
            arrays[f"{table_name}.{name}"] = table.view(name)
        arrays[f"{table_name}.start"], arrays[f"{table_name}.end"] = table.start, table.end
        arrays[f"{table_name}.dead"] = np.array([table.dead])
    for name, column in columns.sorted.items():
        slots = sorted(column.changed)
        values = [column.changed[s] for s in slots]
        arrays.update({
            f"sorted.{name}.order": column.order, f"sorted.{name}.nulls": np.array([column.nulls, len(column.values)]),
            f"sorted.{name}.values": _strings([str(v) for v in column.values]),
            f"sorted.{name}.changed": np.array(slots, dtype=np.int64),
            f"sorted.{name}.changed_null": np.array([v is None for v in values], dtype=bool),
            f"sorted.{name}.changed_values": _strings([str(v) for v in values if v is not None]),
            f"sorted.{name}.changed_count": np.array([sum(v is not None for v in values)]),
            f"sorted.{name}.stale": slots_of(column.stale),
        })
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
        return True
    except OSError as e:
        log.debug("query side not saved to %s: %s", path, e)
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False


def load(path: str, generation: str | None) -> tuple[QueryColumns, int] | None:
    """The saved query side and the change-log position it reflects; None when absent, unreadable or of another
    file generation."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            form, seq = (int(x) for x in saved["format"])
            if form != FORMAT or _unstrings(saved["generation"], 1) != [generation]:
                return None
            return _columns(saved), seq
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as e:
        if not isinstance(e, FileNotFoundError):
            log.debug("query side snapshot %s unreadable: %s", path, e)
        return None


def _columns(saved: Any) -> QueryColumns:
    columns = QueryColumns()
    codes = saved["codes"]
    kinds, values = _unstrings(saved["kinds"], len(codes)), _unstrings(saved["values"], len(codes))
    columns.learn(zip((int(c) for c in codes), kinds, values))
    bitmaps = _unbitmaps(saved["bitmaps"], saved["bitmap_sizes"])
    columns.bitmaps = {int(c): b for c, b in zip(codes, bitmaps)}
    columns.present = bitmaps[-1]
    for table_name in ("terms", "labels", "faces"):
        table: RowTable = getattr(columns, table_name)
        table.columns = {name: saved[f"{table_name}.{name}"].copy() for name in table.dtypes}
        table.size = len(table.columns["slot"])
        table.start, table.end = saved[f"{table_name}.start"].copy(), saved[f"{table_name}.end"].copy()
        table.dead = int(saved[f"{table_name}.dead"][0])
    columns.labels.index_by("code")
    columns.faces.index_by("emotion")
    for name in columns.sorted:
        nulls, count = (int(x) for x in saved[f"sorted.{name}.nulls"])
        column = SortedColumn(saved[f"sorted.{name}.order"], _unstrings(saved[f"sorted.{name}.values"], count), nulls)
        slots, nulls_of = saved[f"sorted.{name}.changed"], saved[f"sorted.{name}.changed_null"]
        values = iter(_unstrings(saved[f"sorted.{name}.changed_values"], int(saved[f"sorted.{name}.changed_count"][0])))
        column.changed = {int(s): None if null else next(values) for s, null in zip(slots, nulls_of)}
        column.stale = bitmap_of(saved[f"sorted.{name}.stale"])
        columns.sorted[name] = column
    return columns
