"""The query side saved beside the index file (`<file>.<index>.query`), so that a new process (each `mediaindex
search`) starts from it and reads only the changes written since, instead of building from every document (most of
a minute at a million documents).

One file of raw little-endian arrays (no pickle) and, at its end, a JSON header naming each array's type, length,
place and CRC-32. Opening it reads the header and the few small parts every query needs (the vocabulary, the set of
all documents); every other array, and each term's bitmap, is read and checked against its CRC when a query first
uses it. So a new process answers its first search after reading what that search needs, not the whole file
(hundreds of MB at a million documents: docs/performance.md).

It is a cache: whoever finds it missing, unreadable, truncated, foreign, of another format or file generation, or
older than the change log builds afresh, and a folder it cannot be written to only costs the next process a build.
An array found damaged after opening raises `Damaged`; the index drops the loaded query side and answers from a
build (sqlite.py), and does not open that file again.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import struct
import zlib
from functools import partial
from typing import Any, Callable

import numpy as np
from pyroaring import BitMap

from mediaindex.adapters.index.bitmap_columns import DeferredBitmaps, PackedStrings, RowTable, SortedColumn
from mediaindex.adapters.index.bitmap_engine import QueryColumns
from mediaindex.adapters.own_files import open_regular, remove_abandoned

FORMAT = 4  # 4: with the stamp of the change-log entry at its position; 3: one file of raw arrays, each read at its first use; 2: a numpy archive read whole (label tiers)
MAGIC = b"MIQUERY\x00"
_TRAILER = struct.Struct("<QQI4x8s")  # the header's offset, its length, its CRC-32, MAGIC
_ALIGN = 64
_DTYPES = {np.dtype(t).str for t in ("<i4", "<i8", "<u4", "<f8", "|u1", "|b1")}
_TABLES = ("terms", "labels", "faces")
log = logging.getLogger(__name__)

Identity = tuple[int, int, int, int]  # a file's device, inode, size and modification time


class Damaged(Exception):
    """Part of an opened snapshot failed its check when read (`identity`: which file)."""

    def __init__(self, identity: Identity, message: str) -> None:
        super().__init__(message)
        self.identity = identity


# ---- writing -------------------------------------------------------------------------------------------------------
class _Writer:
    """Arrays written one after another (each at a multiple of _ALIGN), then the header and the trailer."""

    def __init__(self, f: Any) -> None:
        self.f, self.at = f, len(MAGIC)
        self.arrays: dict[str, Any] = {}
        f.write(MAGIC)

    def add(self, name: str, values: Any, spare: int = 0) -> None:
        """The array, then `spare` more elements of zeros (room to grow into without copying it)."""
        array = np.ascontiguousarray(values)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False).reshape(-1)
        raw = array.view(np.uint8)
        padding = -self.at % _ALIGN
        self.f.write(b"\0" * padding)
        self.at += padding
        self.f.write(raw.data)
        crc = zlib.crc32(raw.data)
        zeros = spare * array.dtype.itemsize
        while zeros:
            chunk = bytes(min(zeros, 1 << 20))
            self.f.write(chunk)
            crc = zlib.crc32(chunk, crc)
            zeros -= len(chunk)
        self.arrays[name] = [array.dtype.str, int(array.size + spare), self.at, crc]
        self.at += raw.nbytes + spare * array.dtype.itemsize

    def finish(self, header: dict[str, Any]) -> None:
        body = json.dumps({**header, "arrays": self.arrays}, separators=(",", ":")).encode()
        self.f.write(body)
        self.f.write(_TRAILER.pack(self.at, len(body), zlib.crc32(body), MAGIC))


def _write(writer: _Writer, columns: QueryColumns, seq: int, generation: str, stamp: int | None = None) -> None:
    codes = sorted(columns.term_of)
    blobs = [columns.bitmaps[c].serialize() for c in codes]
    writer.add("bitmaps", np.frombuffer(b"".join(blobs), dtype=np.uint8))
    writer.add("bitmaps.offsets", np.concatenate([[0], np.cumsum([len(b) for b in blobs], dtype=np.int64)]))
    writer.add("bitmaps.crc", np.array([zlib.crc32(b) for b in blobs], dtype=np.uint32))
    writer.add("present", np.frombuffer(columns.present.serialize(), dtype=np.uint8))
    tables = {}
    for table_name in _TABLES:
        table: RowTable = getattr(columns, table_name)
        for name in table.dtypes:  # with room for the rows of the changes a loading process applies
            writer.add(f"{table_name}.{name}", table.view(name), spare=max(1024, table.size // 64))
        saved = ["start", "end"] + (["_index_order", "_index_values"] if table.indexed else [])
        for name in saved:
            writer.add(f"{table_name}.{name}", getattr(table, name))
        tables[table_name] = {"size": table.size, "dead": table.dead, "indexed": table.indexed,
                              "indexed_rows": table._indexed_rows,
                              "columns": {name: np.dtype(d).newbyteorder("<").str for name, d in table.dtypes.items()}}
    sorted_columns = {}
    for name, column in columns.sorted.items():
        values = PackedStrings.pack([str(v) for v in column.values]
                                    if not isinstance(column.values, PackedStrings) else column.values)
        writer.add(f"sorted.{name}.order", column.order)
        writer.add(f"sorted.{name}.position", column.position)
        writer.add(f"sorted.{name}.values", values.data)
        writer.add(f"sorted.{name}.offsets", values.offsets)
        writer.add(f"sorted.{name}.stale", np.frombuffer(column.stale.serialize(), dtype=np.uint8))
        sorted_columns[name] = {"nulls": column.nulls, "count": len(values),
                                "changed": [[slot, None if v is None else str(v)]
                                            for slot, v in sorted(column.changed.items())]}
    writer.finish({"format": FORMAT, "seq": seq, "generation": generation, "stamp": stamp,
                   "vocabulary": {"codes": codes, "kinds": [columns.term_of[c][0] for c in codes],
                                  "values": [columns.term_of[c][1] for c in codes]},
                   "tables": tables, "sorted": sorted_columns})


def save(path: str, columns: QueryColumns, seq: int, generation: str, stamp: int | None = None) -> bool:
    """Write the snapshot (a temporary file renamed over it); False when it cannot be (an unwritable folder). Reads
    every part of a query side that was itself loaded from a snapshot (and may raise Damaged). `stamp`: the random
    stamp of the change-log entry at `seq`, which proves on loading that the snapshot is of the file's history."""
    _remove_abandoned(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            _write(_Writer(f), columns, seq, generation, stamp)
        os.replace(temporary, path)
        return True
    except BaseException as e:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if not isinstance(e, OSError):
            raise
        log.debug("query side not saved to %s: %s", path, e)
        return False


def _remove_abandoned(path: str) -> None:
    """Temporary files left by saving processes that are gone (killed mid-save)."""
    remove_abandoned(path)


# ---- reading -------------------------------------------------------------------------------------------------------
class _Saved:
    """An opened snapshot: its header, and its arrays read and checked on demand. The file is mapped into memory
    copy-on-write: an array is the file's pages themselves until the query side changes it (those pages become the
    process's own), and a newer snapshot renamed over the file since does not change what this one reads."""

    def __init__(self, path: str) -> None:
        with open_regular(path) as f:  # a named pipe in its place is refused, not waited on
            stat = os.fstat(f.fileno())
            self.identity: Identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            size = stat.st_size
            if size < len(MAGIC) + _TRAILER.size or f.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a query side snapshot")
            self.map = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        at, length, crc, magic = _TRAILER.unpack_from(self.map, size - _TRAILER.size)
        if magic != MAGIC or at + length + _TRAILER.size != size:
            raise ValueError("truncated or not a query side snapshot")
        body = self.map[at:at + length]
        if zlib.crc32(body) != crc:
            raise ValueError("damaged header")
        self.header = json.loads(body)
        self.arrays: dict[str, tuple[np.dtype, int, int, int]] = {}
        for name, (dtype, count, offset, array_crc) in self.header["arrays"].items():
            if dtype not in _DTYPES or count < 0 or offset < len(MAGIC) or offset + count * np.dtype(dtype).itemsize > at:
                raise ValueError(f"array {name} out of place")
            self.arrays[name] = (np.dtype(dtype), int(count), int(offset), int(array_crc))

    def checked(self, offset: int, size: int, crc: int, what: str) -> np.ndarray:
        """These bytes of the file, if they are as written."""
        data = np.frombuffer(self.map, np.uint8, size, offset)
        if zlib.crc32(data.data) != crc:
            raise Damaged(self.identity, f"{what}: checksum")
        return data

    def array(self, name: str) -> np.ndarray:
        dtype, count, offset, crc = self.arrays[name]
        return self.checked(offset, count * dtype.itemsize, crc, name).view(dtype)

    def bitmap(self, name: str) -> BitMap:
        return BitMap.deserialize(self.array(name).tobytes())


def load(path: str, generation: str | None, refused: frozenset[Identity] | set[Identity] = frozenset()
         ) -> tuple[QueryColumns, int, Identity, int | None] | None:
    """The saved query side (most of it still to be read: see the module docstring), the change-log position it
    reflects, the file's identity and the stamp of the log entry at that position (the caller compares it with the
    log's); None when absent, unreadable, of another format or file generation, or one of `refused` (found damaged
    before)."""
    try:
        saved = _Saved(path)
        header = saved.header
        if header.get("format") != FORMAT or header.get("generation") != generation or saved.identity in refused:
            return None
        stamp = header.get("stamp")
        if stamp is not None and not isinstance(stamp, int):
            raise ValueError("stamp")
        return _columns(saved), int(header["seq"]), saved.identity, stamp
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error, Damaged) as e:
        log.debug("query side snapshot %s unreadable: %s", path, e)
        return None


def _columns(saved: _Saved) -> QueryColumns:
    """The query side of an opened snapshot: what every query needs read now, the rest at first use."""
    header, columns = saved.header, QueryColumns()
    expected = {"bitmaps", "bitmaps.offsets", "bitmaps.crc", "present"}
    for table_name in _TABLES:
        table: RowTable = getattr(columns, table_name)
        extra = ("start", "end") + (("_index_order", "_index_values") if header["tables"][table_name]["indexed"] else ())
        expected |= {f"{table_name}.{name}" for name in (*table.dtypes, *extra)}
    for name in columns.sorted:
        expected |= {f"sorted.{name}.{part}" for part in ("order", "position", "values", "offsets", "stale")}
    if expected - saved.arrays.keys():  # every array a query may read later is there now
        raise ValueError(f"arrays missing: {sorted(expected - saved.arrays.keys())}")
    vocabulary = header["vocabulary"]
    codes = [int(c) for c in vocabulary["codes"]]
    kinds, values = vocabulary["kinds"], vocabulary["values"]
    if not len(codes) == len(kinds) == len(values) or not all(isinstance(t, str) for t in kinds + values):
        raise ValueError("vocabulary")
    offsets, crcs = saved.array("bitmaps.offsets"), saved.array("bitmaps.crc")
    _, blobs_size, blobs_at, _ = saved.arrays["bitmaps"]
    if len(offsets) != len(codes) + 1 or len(crcs) != len(codes) or (len(offsets) and (
            offsets[0] != 0 or offsets[-1] != blobs_size or np.any(np.diff(offsets) < 0))):
        raise ValueError("bitmap offsets")
    where = dict(zip(codes, range(len(codes))))

    def bitmap(code: int) -> BitMap | None:
        i = where.get(code)
        if i is None:
            return None
        start, end = int(offsets[i]), int(offsets[i + 1])
        data = saved.checked(blobs_at + start, end - start, int(crcs[i]), f"bitmap {code}")
        try:
            return BitMap.deserialize(data.tobytes())
        except ValueError as e:
            raise Damaged(saved.identity, f"bitmap {code}: {e}") from None

    columns.bitmaps = DeferredBitmaps(bitmap, codes)
    columns.learn(zip(codes, kinds, values))
    columns.present = saved.bitmap("present")
    for table_name in _TABLES:
        table = getattr(columns, table_name)
        meta = header["tables"][table_name]
        if meta["columns"] != {name: np.dtype(d).newbyteorder("<").str for name, d in table.dtypes.items()}:
            raise ValueError(f"table {table_name} has other columns")  # a change of layout that kept the format
        table.defer(int(meta["size"]), int(meta["dead"]), meta["indexed"], int(meta["indexed_rows"]),
                    partial(_table_array, saved, table, table_name))
    for name in columns.sorted:
        meta = header["sorted"][name]
        changed = {int(slot): value for slot, value in meta["changed"]}
        if not all(v is None or isinstance(v, str) for v in changed.values()):
            raise ValueError(f"sort column {name}")
        columns.sorted[name] = SortedColumn.saved(
            int(meta["nulls"]), partial(saved.array, f"sorted.{name}.order"),
            partial(_strings, saved, name, int(meta["count"])), partial(saved.array, f"sorted.{name}.position"),
            changed, saved.bitmap(f"sorted.{name}.stale"))
    return columns


def _table_array(saved: _Saved, table: RowTable, table_name: str, name: str) -> np.ndarray:
    found = saved.array(f"{table_name}.{name}")
    if name in table.dtypes and len(found) < table.size:
        raise Damaged(saved.identity, f"{table_name}.{name}: {len(found)} rows, not {table.size}")
    return found.astype(table.dtypes[name], copy=False) if name in table.dtypes else found


def _strings(saved: _Saved, name: str, count: int) -> PackedStrings:
    data, offsets = saved.array(f"sorted.{name}.values"), saved.array(f"sorted.{name}.offsets")
    if len(offsets) != count + 1 or offsets[0] != 0 or offsets[-1] != len(data) or np.any(np.diff(offsets) < 0):
        raise Damaged(saved.identity, f"sorted.{name}: offsets")
    return PackedStrings(data, offsets)
