"""Sorted sets of customer ids from batches, without hashing.

`np.unique` hashes or sorts; for batches that cover a good part of the population, marking
a reusable boolean array and reading it back is several times faster, and for small ones a
plain sort is. Both give the ids sorted, which keeps every batch in a deterministic order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IdSet", "as_range"]

_EMPTY = np.zeros(0, dtype=np.int64)


class IdSet:
    def __init__(self, n: int):
        self.marks = np.zeros(n, dtype=bool)

    def union(self, arrays: list[np.ndarray]) -> np.ndarray:
        """The sorted distinct ids of all `arrays`."""
        arrays = [a for a in arrays if a.size]
        if not arrays:
            return _EMPTY
        total = sum(a.size for a in arrays)
        if total * 32 < self.marks.size:
            joined = np.sort(np.concatenate(arrays) if len(arrays) > 1 else arrays[0])
            if joined.size > 1:  # the first of each run of equal ids
                first = np.empty(joined.size, dtype=bool)
                first[0] = True
                np.not_equal(joined[1:], joined[:-1], out=first[1:])
                if not first.all():
                    joined = joined[first]
            return joined.astype(np.int64, copy=False)
        marks = self.marks
        for a in arrays:
            marks[a] = True
        ids = np.flatnonzero(marks)
        marks[ids] = False
        return ids


def as_range(ids: np.ndarray | slice) -> np.ndarray | slice:
    """`ids` as a slice when they are every id from 0 up, sorted and distinct (a schedule
    trigger's candidates: everyone), so that columns read them as views; else as they are."""
    if isinstance(ids, slice) or ids.size < 2 or ids[0] != 0 or ids[-1] != ids.size - 1:
        return ids
    return slice(0, ids.size) if (ids[1:] > ids[:-1]).all() else ids
