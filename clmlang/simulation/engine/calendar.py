"""The event calendar: work due on a day, coalesced into one bucket per day.

Anything scheduled (a customer's next purchase, a rule's timer, a follow-up step, a delayed
message, a success deadline, a subscription renewal) goes into the bucket of its day as a
whole array of customer ids, under a kind and a key. The simulator's SimPy process wakes
once per day that has work and takes the whole bucket: one calendar event per day, never one
per customer (see docs/engine.md for why). Stale entries (a customer who bought again before
an "N days after purchase" timer came due) are dropped when the bucket is taken, by checking
the customer's state, not by searching the calendar.

With `compiled` the buckets are runs of one array of ids linked per day, filed and taken by
the kernels of `calendar_kernels.py`; `take` gives the same dictionary, in the same order.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .calendar_kernels import compact, file_ids, take_day
from .idset import IdSet

__all__ = ["Calendar"]


class Calendar:
    def __init__(self, days: int, ids: IdSet, compiled: bool = False):
        self.days = days
        self.ids = ids
        self.compiled = compiled
        self._buckets: dict[int, dict[tuple, list[np.ndarray]]] = defaultdict(
            lambda: defaultdict(list)
        )
        if compiled:
            self._slots: dict[tuple, int] = {}
            self._keys: list[tuple] = []
            self._head = np.full(max(days, 1), -1, dtype=np.int64)
            self._tail = np.full(max(days, 1), -1, dtype=np.int64)
            self._arena = np.zeros(0, dtype=np.int64)
            self._starts = self._ends = self._nexts = np.zeros(0, dtype=np.int64)
            self._slots_of = np.zeros(0, dtype=np.int32)
            self._meta = np.zeros(2, dtype=np.int64)  # arena used, pieces used

    def _store(self) -> tuple:
        return (
            self._head,
            self._tail,
            self._arena,
            self._starts,
            self._ends,
            self._slots_of,
            self._nexts,
        )

    def _file(self, days: np.ndarray, step: int, kind: str, key: object, ids: np.ndarray):
        slot = self._slots.get((kind, key))
        if slot is None:
            slot = self._slots[(kind, key)] = len(self._keys)
            self._keys.append((kind, key))
        room, pieces = ids.size, min(ids.size, self.days)
        used, used_pieces = self._meta.tolist()
        if used + room > self._arena.size or used_pieces + pieces > self._starts.size:
            (self._arena, self._starts, self._ends, self._slots_of, self._nexts) = compact(
                *self._store(), self._meta, room, pieces
            )
        # one signature (one kernel to compile): days as floats, ids as int64
        days = days.astype(np.float64, copy=False)
        ids = ids.astype(np.int64, copy=False)
        file_ids(days, step, self.days, ids, slot, *self._store(), self._meta)

    def add(self, day: int, kind: str, key: object, ids: np.ndarray) -> None:
        """Schedule `ids` on `day` under (kind, key); past the horizon it is dropped."""
        if ids.size and 0 <= day < self.days:
            if self.compiled:
                self._file(np.array([int(day)], dtype=np.float64), 0, kind, key, ids)
                return
            self._buckets[int(day)][(kind, key)].append(ids)

    def add_spread(self, days: np.ndarray, kind: str, key: object, ids: np.ndarray) -> None:
        """Schedule each id on its own day (`days` integer-valued, one per id)."""
        if not ids.size:
            return
        if self.compiled:
            self._file(np.asarray(days), 1, kind, key, ids)
            return
        inside = (days >= 0) & (days < self.days)
        days, ids = days[inside].astype(np.int64), ids[inside]
        if not ids.size:
            return
        # a radix sort when the days fit 16 bits (MAX_DAYS is 36,525); ids keep their order
        small = np.uint16 if self.days <= 1 << 16 else np.int64
        order = np.argsort(days.astype(small), kind="stable")
        days, ids = days[order], ids[order]
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), ids.size]
        buckets = self._buckets
        for day, start, end in zip(days[starts].tolist(), starts, ends, strict=True):
            buckets[day][(kind, key)].append(ids[start:end])

    def take(self, day: int) -> dict[tuple, np.ndarray]:
        """Remove and return the bucket of `day`: {(kind, key): ids}, ids unique per entry."""
        if self.compiled:
            if not 0 <= day < self.days or self._head[day] < 0:
                return {}
            slots, bounds, ids = take_day(day, len(self._keys), *self._store())
            keys, cut, union = self._keys, bounds.tolist(), self.ids.union
            return {
                keys[s]: union([ids[cut[j] : cut[j + 1]]]) for j, s in enumerate(slots.tolist())
            }
        bucket = self._buckets.pop(day, None)
        if not bucket:
            return {}
        return {k: self.ids.union(v) for k, v in bucket.items()}

    def next_day(self, after: int) -> int | None:
        """The first day later than `after` with something scheduled."""
        if self.compiled:
            later = np.flatnonzero(self._head[max(after + 1, 0) :] >= 0)
            return int(later[0]) + max(after + 1, 0) if later.size else None
        later = [d for d in self._buckets if d > after]
        return min(later) if later else None
