"""The event calendar: work due on a day, coalesced into one bucket per day.

Anything scheduled (a customer's next purchase, a rule's timer, a follow-up step, a delayed
message, a success deadline, a subscription renewal) goes into the bucket of its day as a
whole array of customer ids, under a kind and a key. The simulator's SimPy process wakes
once per day that has work and takes the whole bucket: one calendar event per day, never one
per customer (see docs/engine.md for why). Stale entries (a customer who bought again before
an "N days after purchase" timer came due) are dropped when the bucket is taken, by checking
the customer's state, not by searching the calendar.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .idset import IdSet

__all__ = ["Calendar"]


class Calendar:
    def __init__(self, days: int, ids: IdSet):
        self.days = days
        self.ids = ids
        self._buckets: dict[int, dict[tuple, list[np.ndarray]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def add(self, day: int, kind: str, key: object, ids: np.ndarray) -> None:
        """Schedule `ids` on `day` under (kind, key); past the horizon it is dropped."""
        if ids.size and 0 <= day < self.days:
            self._buckets[int(day)][(kind, key)].append(ids)

    def add_spread(self, days: np.ndarray, kind: str, key: object, ids: np.ndarray) -> None:
        """Schedule each id on its own day (`days` integer-valued, one per id)."""
        if not ids.size:
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
        bucket = self._buckets.pop(day, None)
        if not bucket:
            return {}
        return {k: self.ids.union(v) for k, v in bucket.items()}

    def next_day(self, after: int) -> int | None:
        """The first day later than `after` with something scheduled."""
        later = [d for d in self._buckets if d > after]
        return min(later) if later else None
