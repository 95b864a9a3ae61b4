"""The data structures of the embedded index's query side (bitmap_engine.py): compressed bitmaps of document slots
(SQLite rowids), flat numpy tables of per-face and per-label rows, and columns kept in sorted order.

Each is built once from SQLite in bulk and then changed a document at a time as other writers' changes arrive, so
each has a cheap way to take a change and a point at which it is cheaper to rebuild."""

from __future__ import annotations

import array
import bisect
from functools import cached_property
from typing import Any, Callable, Iterable, Sequence

try:
    import numpy as np
    from pyroaring import BitMap
except ImportError as e:  # the core install (the Lambda bundle) has neither: it never opens an embedded index
    raise ImportError(f"the embedded index needs numpy and pyroaring ({e}): pip install 'mediaindex[local]'") from e


def bitmap_of(slots: Any) -> BitMap:
    """A bitmap of these slots (any integer array or list): through a buffer, 10x faster than element by element."""
    found = BitMap()
    values = np.asarray(slots, dtype=np.uint32)
    if values.size:
        found.update(array.array("I", values.tobytes()))
    return found


def slots_of(bitmap: BitMap) -> np.ndarray:
    return np.frombuffer(bitmap.to_array(), dtype=np.uint32).astype(np.int64)


class Deferred(dict):
    """name -> array, each read by `read(name)` at its first use (a saved query side: query_snapshot.py)."""

    def __init__(self, read: Callable[[str], np.ndarray], names: Iterable[str]) -> None:
        super().__init__()
        self.read, self.unread = read, set(names)

    def __missing__(self, name: str) -> np.ndarray:
        if name not in self.unread:
            raise KeyError(name)
        value = self[name] = self.read(name)
        self.unread.discard(name)
        return value


class DeferredBitmaps(dict):
    """code -> BitMap, those of a saved query side deserialized at their first use (`read(code)`: None for a code
    the snapshot does not hold)."""

    def __init__(self, read: Callable[[int], BitMap | None], codes: Iterable[int]) -> None:
        super().__init__()
        self.read, self.unread = read, set(codes)

    def __missing__(self, code: int) -> BitMap:
        if code not in self.unread:
            raise KeyError(code)
        found = self.read(code)
        if found is None:
            raise KeyError(code)
        self[code] = found
        self.unread.discard(code)
        return found

    def __contains__(self, code: object) -> bool:
        return super().__contains__(code) or code in self.unread

    def get(self, code: int, default: Any = None) -> Any:
        try:
            return self[code]
        except KeyError:
            return default


class RowTable:
    """Rows belonging to slots, in flat numpy columns (`slot` plus the named ones). A slot's rows are contiguous;
    replacing them marks the old ones dead (slot -1) and appends the new, and the table squeezes the dead out when
    they are half of it. A saved table (`defer`) reads each of its arrays at the first use of it."""

    def __init__(self, **dtypes: Any) -> None:
        self.dtypes = {"slot": np.int32, **dtypes}  # 32 bits: tens of millions of rows at a million documents
        self.columns = {name: np.empty(0, dtype) for name, dtype in self.dtypes.items()}
        self.size = 0
        self.dead = 0
        self.start = np.zeros(0, np.int64)  # per slot: where its rows begin and end (equal: none)
        self.end = np.zeros(0, np.int64)
        self.indexed: str | None = None  # a column whose rows of one value are found without a scan
        self._index_order = np.zeros(0, np.int64)
        self._index_values = np.zeros(0)
        self._indexed_rows = 0  # rows covered by the index; those appended since are scanned

    SAVED = ("start", "end", "_index_order", "_index_values")  # the arrays besides the columns that a save keeps

    def defer(self, size: int, dead: int, indexed: str | None, indexed_rows: int,
              read: Callable[[str], np.ndarray]) -> None:
        """The table as saved: `size` rows (`dead` of them dead), the first `indexed_rows` indexed by column
        `indexed`; each array (a column's name, or one of SAVED) is `read(name)` when first used."""
        self.columns = Deferred(read, self.dtypes)
        self.size, self.dead, self.indexed, self._indexed_rows = size, dead, indexed, indexed_rows
        self._read = read
        for name in self.SAVED:
            self.__dict__.pop(name, None)  # now the cached properties below: read at first use

    @cached_property
    def start(self) -> np.ndarray:
        return self._read("start")

    @cached_property
    def end(self) -> np.ndarray:
        return self._read("end")

    @cached_property
    def _index_order(self) -> np.ndarray:
        return self._read("_index_order")

    @cached_property
    def _index_values(self) -> np.ndarray:
        return self._read("_index_values")

    def load(self, slots: Sequence[int] | np.ndarray, **values: Sequence[Any] | np.ndarray) -> None:
        """All rows at once, in ascending slot order (a fresh build)."""
        slot_array = np.asarray(slots, dtype=np.int32)
        self.columns = {"slot": slot_array, **{n: np.asarray(values[n], dtype=d) for n, d in self.dtypes.items()
                                                if n != "slot"}}
        self.size, self.dead = len(slot_array), 0
        top = int(slot_array.max()) + 1 if len(slot_array) else 0
        ids = np.arange(top, dtype=np.int32)
        self.start = np.searchsorted(slot_array, ids, side="left").astype(np.int64)
        self.end = np.searchsorted(slot_array, ids, side="right").astype(np.int64)
        if self.indexed:
            self.index_by(self.indexed)

    def index_by(self, name: str) -> None:
        self.indexed = name
        values = self.view(name)
        self._index_order = np.argsort(values, kind="stable")
        self._index_values = values[self._index_order]
        self._indexed_rows = self.size

    def rows_where(self, name: str, values: Sequence[int]) -> np.ndarray:
        """The rows (dead ones included: their slot is -1) whose column `name` holds one of `values`."""
        assert name == self.indexed
        found = []
        tail = self.view(name)[self._indexed_rows:]
        for value in values:
            low, high = np.searchsorted(self._index_values, np.array([value, value + 1], self._index_values.dtype))
            found.append(self._index_order[low:high])
            found.append(self._indexed_rows + np.flatnonzero(tail == value))
        return np.concatenate(found) if found else np.zeros(0, np.int64)

    def view(self, name: str) -> np.ndarray:
        return self.columns[name][:self.size]

    def rows_of(self, slot: int) -> dict[str, np.ndarray]:
        if slot >= len(self.start):
            return {name: self.columns[name][:0] for name in self.dtypes}
        start, end = self.start[slot], self.end[slot]
        return {name: self.columns[name][start:end] for name in self.dtypes}

    def remove(self, slot: int) -> None:
        if slot < len(self.start) and self.end[slot] > self.start[slot]:
            self.columns["slot"][self.start[slot]:self.end[slot]] = -1
            self.dead += int(self.end[slot] - self.start[slot])
            self.end[slot] = self.start[slot]

    def add(self, slot: int, **values: Sequence[Any] | np.ndarray) -> None:
        """The rows of a slot that holds none (remove first)."""
        count = len(next(iter(values.values()))) if values else 0
        self._reserve_slot(slot)
        if count == 0:
            return
        self._reserve_rows(count)
        begin = self.size
        self.columns["slot"][begin:begin + count] = slot
        for name, column_values in values.items():
            self.columns[name][begin:begin + count] = column_values
        self.size += count
        self.start[slot], self.end[slot] = begin, begin + count
        if self.dead > 1000 and self.dead * 2 > self.size:
            self.compact()

    def compact(self) -> None:
        live = self.view("slot") >= 0
        slots = self.view("slot")[live]
        order = np.argsort(slots, kind="stable")
        self.load(slots[order], **{n: self.view(n)[live][order] for n in self.dtypes if n != "slot"})

    def _reserve_slot(self, slot: int) -> None:
        if slot >= len(self.start):
            grown = max(slot + 1, 2 * len(self.start), 1024)
            self.start = np.concatenate([self.start, np.zeros(grown - len(self.start), np.int64)])
            self.end = np.concatenate([self.end, np.zeros(grown - len(self.end), np.int64)])

    def _reserve_rows(self, count: int) -> None:
        capacity = len(self.columns["slot"])
        if self.size + count > capacity:
            # a quarter more, not twice: a built table holds tens of millions of rows and grows by a few at a time
            grown = max(self.size + count, capacity + capacity // 4, 4096)
            for name in self.dtypes:
                column = self.columns[name]
                bigger = np.empty(grown, column.dtype)
                bigger[:self.size] = column[:self.size]
                self.columns[name] = bigger


def _order_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, "" if value is None else value)  # NULL is the smallest, as SQLite orders it


class SortedColumn:
    """The slots of every document in the order of one column (then id), as SQLite sorted them at the last build,
    plus the slots written since with their value now. Ranges and the first k of a match set come from the
    sorted part by bisection and position, and from the changed slots by looking at each."""

    # a saved column's arrays, each read at its first use (`saved`)
    _read_order: Callable[[], np.ndarray]
    _read_values: Callable[[], Sequence[Any]]
    _read_position: Callable[[], np.ndarray]

    def __init__(self, slots: Sequence[int], values: Sequence[Any], nulls: int | None = None) -> None:
        """`values` of the slots in order; with `nulls`, the slots' first `nulls` are NULL and `values` are the
        others' only (as saved)."""
        self.order = np.asarray(slots, dtype=np.int32)
        if nulls is None:
            nulls = sum(1 for v in values if v is None)  # NULLs sort first
            values = values[nulls:]
        self.nulls = nulls
        self.values: Sequence[Any] = list(values)
        self.changed: dict[int, Any] = {}  # slot -> value now, for slots whose place in `order` is not theirs
        self.stale = BitMap()  # the same slots, plus removed ones
        self.position = self._positions()  # now, as part of the build (a saved column reads its own)

    @classmethod
    def saved(cls, nulls: int, order: Callable[[], np.ndarray], values: Callable[[], Sequence[Any]],
              position: Callable[[], np.ndarray], changed: dict[int, Any], stale: BitMap) -> "SortedColumn":
        """A column as saved (query_snapshot.py): its order, values and positions are read at their first use."""
        column = cls.__new__(cls)
        column.nulls, column.changed, column.stale = nulls, changed, stale
        column._read_order, column._read_values, column._read_position = order, values, position
        return column

    @cached_property
    def order(self) -> np.ndarray:
        return self._read_order()

    @cached_property
    def values(self) -> Sequence[Any]:
        return self._read_values()

    @cached_property
    def position(self) -> np.ndarray:
        """Per slot, its place in `order` (-1: none)."""
        return self._read_position()

    def _positions(self) -> np.ndarray:
        top = int(self.order.max()) + 1 if len(self.order) else 0
        position = np.full(top, -1, np.int32)
        position[self.order] = np.arange(len(self.order), dtype=np.int32)
        return position

    def set(self, slot: int, value: Any) -> None:
        if slot < len(self.position) and self.position[slot] >= 0 and slot not in self.stale:
            at = self.position[slot]
            if (at < self.nulls and value is None) or (at >= self.nulls and self.values[at - self.nulls] == value):
                return  # unchanged: its place in the order still holds
        self.changed[slot] = value
        self.stale.add(slot)

    def remove(self, slot: int) -> None:
        self.changed.pop(slot, None)
        self.stale.add(slot)

    def range(self, low: Any | None, high: Any | None) -> BitMap:
        """Slots with a value (not NULL) in [low, high); None: unbounded on that side."""
        first = self.nulls + (bisect.bisect_left(self.values, low) if low is not None else 0)
        last = self.nulls + (bisect.bisect_left(self.values, high) if high is not None else len(self.values))
        found = bitmap_of(self.order[first:last]) - self.stale if last > first else BitMap()
        found.update(slot for slot, value in self.changed.items() if value is not None
                     and (low is None or value >= low) and (high is None or value < high))
        return found

    def first(self, matches: BitMap, count: int, descending: bool) -> list[int]:
        """At least the first `count` slots of `matches` in this column's order (more where values tie among the
        changed slots): the caller orders these few exactly."""
        if count <= 0 or not matches:
            return []
        settled = slots_of(matches - self.stale) if self.stale else slots_of(matches)
        positions = self.position[settled]
        if len(positions) > count:
            keys = -positions if descending else positions
            positions = positions[np.argpartition(keys, count - 1)[:count]]
        chosen = [int(s) for s in self.order[positions]]
        if self.stale:
            moved = sorted(((_order_key(self.changed[s]), s) for s in matches & self.stale if s in self.changed),
                           reverse=descending)
            if len(moved) > count:
                boundary = moved[count - 1][0]
                moved = moved[:count] + [m for m in moved[count:] if m[0] == boundary]
            chosen.extend(s for _, s in moved)
        return chosen


class PackedStrings(Sequence):
    """Strings end to end in one UTF-8 buffer, with the offset of each (and of the end): a saved sort column's
    values, each decoded only when looked at (a bisection looks at a few dozen of a million)."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self.data, self.offsets = data, offsets

    @classmethod
    def pack(cls, values: Sequence[str]) -> "PackedStrings":
        if isinstance(values, PackedStrings):
            return values
        if not values:
            return cls(np.zeros(0, np.uint8), np.zeros(1, np.int64))
        joined = "\x00".join(values).encode("utf-8", "surrogatepass")
        data = np.frombuffer(joined, dtype=np.uint8)
        ends = np.flatnonzero(data == 0)
        if len(ends) == max(len(values) - 1, 0):  # no value holds a NUL: the separators are the NULs
            offsets = np.concatenate([[0], ends + 1, [len(data) + 1]]) - np.arange(len(values) + 1)
            data = data[data != 0]
        else:
            pieces = [v.encode("utf-8", "surrogatepass") for v in values]
            data = np.frombuffer(b"".join(pieces), dtype=np.uint8)
            offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])])
        return cls(data, offsets.astype(np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.data[self.offsets[i]:self.offsets[i + 1]].tobytes().decode("utf-8", "surrogatepass")


def union(bitmaps: Iterable[BitMap]) -> BitMap:
    bitmaps = list(bitmaps)
    if not bitmaps:
        return BitMap()
    return BitMap.union(*bitmaps) if len(bitmaps) > 1 else bitmaps[0]
