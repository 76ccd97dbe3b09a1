"""Distinct values and distinct rows, by sorting: what `np.unique` gives, faster.

numpy 2.4's `np.unique` of a 1-D integer array without `return_inverse` goes by a hash table
that is 50x slower than a sort at a few hundred thousand values (0.35 s for 400,000 int64
keys against 7 ms), and `np.unique(axis=0)` sorts the rows as raw bytes; the forecast's
simulation log and the fits' grouping of customers meet both.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distinct", "distinct_rows"]


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D array, sorted: `np.unique(values)`."""
    ordered = np.sort(values, kind="stable")
    keep = np.ones(ordered.size, dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct row of `keys` (numbers, no NaN), in lexicographic
    order of the rows, and each row's distinct one: `np.unique(keys, axis=0)`'s index and
    inverse by a stable sort column by column, 3-4x faster than its sort of raw bytes."""
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    starts = np.ones(order.size, dtype=bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    index = np.empty(order.size, dtype=np.int64)
    index[order] = np.cumsum(starts) - 1
    return order[starts], index
