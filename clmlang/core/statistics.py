"""Intervals the reports and forecasts share: a mean's, a paired difference's, and a difference
of two means' (Welch's, and a bootstrap's for heavy-tailed revenue, with when a group is too
small to tell)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special  # scipy.stats takes about 0.4 s to import; its t.ppf is stdtrit

__all__ = [
    "Paired",
    "bootstrap_difference",
    "counted_bootstrap_difference",
    "counted_mean",
    "counted_too_small",
    "interval",
    "paired_difference",
    "too_small",
    "welch",
]


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval; a single value has no interval (NaN bounds)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if values.size < 2:
        return (mean, math.nan, math.nan)
    t = special.stdtrit(values.size - 1, 0.975)  # Student's t quantile: stats.t.ppf's
    half = float(t * values.std(ddof=1) / math.sqrt(values.size))
    return (mean, mean - half, mean + half)


@dataclass(frozen=True)
class Paired:
    """The mean difference of paired runs, with its 95% interval, in % of the base's mean over
    the same pairs (NaN when that mean is 0 or there is no pair), and how many pairs it used."""

    diff: float
    low: float
    high: float
    pct: float
    pct_low: float
    pct_high: float
    pairs: int


def paired_difference(new: np.ndarray, base: np.ndarray) -> Paired:
    """`new - base` pair by pair (common random numbers). A pair counts only when both of its
    runs have a value (a KPI such as `retention_365d` has none in a run with too few customers
    observed that long), so the difference, its interval and the base its percentage is of all
    come from the same pairs."""
    new, base = np.asarray(new, dtype=float), np.asarray(base, dtype=float)
    both = np.isfinite(new) & np.isfinite(base)
    diff, low, high = interval(new[both] - base[both])
    mean = float(base[both].mean()) if both.any() else math.nan
    scale = 100 / abs(mean) if math.isfinite(mean) and mean != 0 else math.nan
    return Paired(diff, low, high, diff * scale, low * scale, high * scale, int(both.sum()))


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of means with a 95% normal-approximation Welch interval."""
    if a.size < 2 or b.size < 2:
        return (float(a.mean() - b.mean()) if a.size and b.size else np.nan, np.nan, np.nan)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return diff, diff - 1.96 * se, diff + 1.96 * se


RESAMPLES = 1000  # bootstrap resamples: a fixed number, so the same seed gives the same bounds
# A holdout is too small to tell when it can expect fewer than this many customers among those
# whose values carry the top half of the revenue (the pooled groups' largest values).
TOO_SMALL_EXPECTED = 5.0


DRAWS_AT_ONCE = 1 << 18  # bootstrap draws held at once (a few MiB, whatever the sample size)


def _segment_sums(draw, m: np.ndarray) -> np.ndarray:
    """The sums of consecutive segments of `m.sum()` values, `m[i]` in segment i, drawn in
    order by `draw(size)` a few whole segments at a time (about DRAWS_AT_ONCE values), so
    memory does not grow with the draws. The running total is carried from one batch to the
    next and a segment's sum is the difference of two running totals: the same additions in
    the same order, so the same bits, as drawing and summing them all at once."""
    ends = np.cumsum(m)
    sums = np.empty(m.size)
    total, start, drawn = 0.0, 0, 0
    while start < m.size:
        stop = max(int(np.searchsorted(ends, drawn + DRAWS_AT_ONCE, side="right")), start + 1)
        size = int(ends[stop - 1]) - drawn
        cum = np.cumsum(np.r_[total, draw(size)])  # cum[j]: the running total after j draws
        local = ends[start:stop] - drawn
        sums[start:stop] = cum[local] - cum[local - m[start:stop]]
        total, start, drawn = cum[-1], stop, drawn + size
    return sums


def _resampled_means(values: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The means of `resamples` bootstrap resamples of `values` (with replacement, same size).

    Revenue per eligible customer is mostly 0, so a resample draws how many of its n draws
    land on a non-zero value (Binomial(n, k/n)), then which non-zero values: the same
    distribution as n draws, at the cost of the non-zero ones. Past a few million draws the
    sum of a resample's non-zero values is taken as normal (its count is then large)."""
    n = values.size
    nonzero = values[values != 0]
    k = nonzero.size
    if k == 0:
        return np.zeros(resamples)
    m = rng.binomial(n, k / n, resamples)
    if m.sum() <= 4_000_000:
        sums = _segment_sums(lambda size: nonzero[rng.integers(0, k, size)], m)
    else:
        sd = nonzero.std(ddof=1) if k > 1 else 0.0
        sums = m * nonzero.mean() + np.sqrt(m) * sd * rng.standard_normal(resamples)
    return sums / n


def too_small(a: np.ndarray, b: np.ndarray, expected: float = TOO_SMALL_EXPECTED) -> bool:
    """Whether group `b` (a holdout) is too small to compare its mean with `a`'s.

    With heavy-tailed values (a few large purchases carry the revenue) a small group often
    holds none of the large values, and then every interval computed from its own spread, the
    bootstrap's or Welch's, is too narrow. The values that carry the top half of the two
    groups' pooled total are the ones that matter: `b` is too small when it can expect fewer
    than `expected` of them (its size times their share of the pool), or has under 2 values."""
    if a.size < 2 or b.size < 2:
        return True
    pooled = np.sort(np.abs(np.concatenate([a, b])))[::-1]
    total = pooled.sum()
    if total <= 0:
        return False
    top = int(np.searchsorted(np.cumsum(pooled), total / 2)) + 1
    return b.size * top / pooled.size < expected


def bootstrap_difference(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES
) -> tuple[float, float, float]:
    """Difference of means `a - b` with a 95% percentile-bootstrap interval: each group
    resampled on its own, `resamples` times. Unlike a normal interval it follows a skewed,
    heavy-tailed sampling distribution; `too_small` says when even it cannot be trusted."""
    if a.size < 2 or b.size < 2:
        return (float(a.mean() - b.mean()) if a.size and b.size else np.nan, np.nan, np.nan)
    diffs = _resampled_means(a, rng, resamples) - _resampled_means(b, rng, resamples)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(a.mean() - b.mean()), float(low), float(high)


# The same tests on counted values: `values` (distinct) with how many times each occurs
# (`counts`), for samples too large to hold one value per member (a rule that fires daily
# for every customer). They follow the same distributions as the functions above on the
# values spelled out; the random draws land on values in another order, so the bounds are
# other draws of the same interval.


def counted_mean(values: np.ndarray, counts: np.ndarray) -> float:
    """The mean of `values` each repeated `counts` times (NaN when empty)."""
    n = int(counts.sum())
    return float((values * counts).sum() / n) if n else math.nan


def counted_too_small(
    a: np.ndarray,
    a_counts: np.ndarray,
    b: np.ndarray,
    b_counts: np.ndarray,
    expected: float = TOO_SMALL_EXPECTED,
) -> bool:
    """`too_small` on counted values."""
    size_a, size_b = int(a_counts.sum()), int(b_counts.sum())
    if size_a < 2 or size_b < 2:
        return True
    pooled = np.abs(np.concatenate([a, b]))
    counts = np.concatenate([a_counts, b_counts])
    order = np.argsort(-pooled, kind="stable")
    pooled, counts = pooled[order], counts[order]
    cum = np.cumsum(pooled * counts)
    total = cum[-1]
    if total <= 0:
        return False
    g = min(int(np.searchsorted(cum, total / 2)), pooled.size - 1)
    before = cum[g - 1] if g else 0.0
    within = max(1, math.ceil((total / 2 - before) / pooled[g])) if pooled[g] > 0 else 1
    top = int(counts[:g].sum()) + within
    return size_b * top / (size_a + size_b) < expected


# Counted values spelled out for the bootstrap's draws up to this many (32 MB of floats):
# each draw's value read by index, the same value the binary search over the counts finds.
SPELLED_AT_MOST = 1 << 22


def _counted_resampled_means(
    values: np.ndarray, counts: np.ndarray, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """`_resampled_means` on counted values."""
    n = int(counts.sum())
    nonzero = values != 0
    v, c = values[nonzero], counts[nonzero]
    k = int(c.sum())
    if k == 0:
        return np.zeros(resamples)
    m = rng.binomial(n, k / n, resamples)
    if m.sum() <= 4_000_000 and k <= SPELLED_AT_MOST:  # a draw's value looked up, not searched
        spelled = np.repeat(v, c)  # the value of draw j: the first with cum_c > j
        sums = _segment_sums(lambda size: spelled[rng.integers(0, k, size)], m)
    elif m.sum() <= 4_000_000:
        cum_c = np.cumsum(c)
        sums = _segment_sums(
            lambda size: v[np.searchsorted(cum_c, rng.integers(0, k, size), side="right")], m
        )
    else:
        mean = float((v * c).sum() / k)
        sd = math.sqrt(float((c * (v - mean) ** 2).sum()) / (k - 1)) if k > 1 else 0.0
        sums = m * mean + np.sqrt(m) * sd * rng.standard_normal(resamples)
    return sums / n


def counted_bootstrap_difference(
    a: np.ndarray,
    a_counts: np.ndarray,
    b: np.ndarray,
    b_counts: np.ndarray,
    rng: np.random.Generator,
    resamples: int = RESAMPLES,
) -> tuple[float, float, float]:
    """`bootstrap_difference` on counted values."""
    diff = counted_mean(a, a_counts) - counted_mean(b, b_counts)
    if a_counts.sum() < 2 or b_counts.sum() < 2:
        return (diff, np.nan, np.nan)
    diffs = _counted_resampled_means(a, a_counts, rng, resamples) - _counted_resampled_means(
        b, b_counts, rng, resamples
    )
    low, high = np.percentile(diffs, [2.5, 97.5])
    return diff, float(low), float(high)
