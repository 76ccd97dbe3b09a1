"""RFM scores of a column: the score itself (`score`), and a comparison of a score with
constants as a test of the scored column (`score_test`), which gives the same booleans
without computing the score.

A score counts the bounds a value passes: ascending (frequency, monetary) 1 + the number of
bounds <= value; descending (recency) len(bounds) + 1 - the number of bounds < value. No value
(NaN) passes every bound (recency 1). The bounds are ascending, so the number passed grows
with the value, and the scores a comparison accepts are those of a range of passed counts
lo..hi: the values whose count is in it are those at or past the lo-th bound and not past the
(hi+1)-th (NaN counting as past every bound)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .conditions import Expr

__all__ = ["score", "score_test"]


def score(bounds: tuple[float, ...], descending: bool, values: np.ndarray) -> np.ndarray:
    """An RFM score by counting the bounds each value passes, one comparison per bound (a
    binary search of a few bounds mispredicts a branch per value: several times slower). No
    value (NaN) passes every bound, where a binary search places it: recency 1."""
    values = np.where(np.isnan(values), np.inf, values)
    passed = np.zeros(values.shape, dtype=np.int8 if len(bounds) < 127 else np.intp)
    for bound in bounds:
        # descending (recency): bounds < value; ascending: bounds <= value
        hit = values > bound if descending else values >= bound
        passed += hit.view(np.int8) if passed.dtype == np.int8 else hit
    passed = passed.astype(np.intp)  # the dtype of a binary search's positions
    if descending:
        return len(bounds) + 1 - passed
    return 1 + passed


def score_test(
    node: Expr, accept: Callable[[int], bool]
) -> Callable[[Mapping[str, np.ndarray]], np.ndarray] | None:
    """Whether each row's score of `node` (a Score) is one `accept` takes, as a test of the
    scored column; None when the accepted scores are not a range or its complement."""
    bounds: tuple[float, ...] = node.bounds  # type: ignore[union-attr]
    descending: bool = node.descending  # type: ignore[union-attr]
    if list(bounds) != sorted(bounds) or any(np.isnan(bounds)):
        return None
    k = len(bounds)
    taken = [bool(accept((k + 1 - p) if descending else (1 + p))) for p in range(k + 1)]
    negated = False
    if taken.count(True) and taken.count(False):
        inside = [p for p in range(k + 1) if taken[p]]
        if inside[-1] - inside[0] + 1 != len(inside):  # not a range: perhaps its complement
            inside = [p for p in range(k + 1) if not taken[p]]
            negated = True
            if inside[-1] - inside[0] + 1 != len(inside):
                return None
        lo, hi = inside[0], inside[-1]
    key = node.key  # type: ignore[union-attr]
    cache_key = ("score", key, bounds, descending)
    everyone = all(taken)
    if everyone or not any(taken):

        def constant(columns):
            return np.full(np.shape(columns[key]), everyone)

        return constant
    # past the lo-th bound (NaN is: `not value <= bound`) and not past the (hi+1)-th
    low = None if lo == 0 else np.float64(bounds[lo - 1])
    high = None if hi == k else np.float64(bounds[hi])

    def test(columns):
        cache = getattr(columns, "cache", None)
        hit = cache.get(cache_key) if cache is not None else None
        values = None
        if hit is None:
            values = np.asarray(columns[key])
            if values.ndim == 0:  # a single value: its score
                hit = score(bounds, descending, values.astype(float))
        if hit is not None:  # the batch has the score already: one comparison
            passed = (k + 1 - hit) if descending else (hit - 1)
            out = (passed >= lo) & (passed <= hi)
            return ~out if negated else out
        if values.dtype.kind not in "fiub":
            values = values.astype(float)
        # past a bound: value > bound descending (recency), value >= bound ascending
        out = None
        if low is not None:
            out = values <= low if descending else values < low
            np.logical_not(out, out=out)
        if high is not None:
            below = values <= high if descending else values < high
            out = below if out is None else np.logical_and(out, below, out=out)
        return np.logical_not(out, out=out) if negated else out

    return test
