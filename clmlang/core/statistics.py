"""Intervals the reports and forecasts share: a mean's, and a difference of two means'."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["interval", "welch"]


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval; a single value has no interval (NaN bounds)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if values.size < 2:
        return (mean, math.nan, math.nan)
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return (mean, mean - half, mean + half)


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of means with a 95% normal-approximation Welch interval."""
    if a.size < 2 or b.size < 2:
        return (float(a.mean() - b.mean()) if a.size and b.size else np.nan, np.nan, np.nan)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return diff, diff - 1.96 * se, diff + 1.96 * se
