"""Case weights for the calibration fits: one non-negative finite weight per customer (an
inverse-propensity weight, say), under which a fit maximises sum_i w_i ll_i. The customers of
weight 0 are left out before anything is computed, so a fit with them is the fit without them;
the others' weights are summed over the customers who share a likelihood term."""

from __future__ import annotations

import numpy as np

from .history import Summary

__all__ = ["by_group", "positive"]


def positive(summary: Summary, weights: np.ndarray | None) -> tuple[Summary, np.ndarray | None]:
    """The customers of positive weight and their weights; (summary, None) for no weights.
    Raises ValueError for weights of the wrong shape, negative or not finite, or all 0."""
    if weights is None:
        return summary, None
    w = np.asarray(weights, dtype=float)
    n = summary.x.size
    if w.shape != (n,):
        raise ValueError(f"weights: one per customer ({n:,}), not an array of shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights: every weight must be a finite number")
    if (w < 0).any():
        raise ValueError("weights: a weight may not be negative")
    keep = w > 0
    if not keep.any():
        raise ValueError("weights: every weight is 0, so there is nothing to fit")
    if keep.all():
        return summary, w
    return summary.take(np.flatnonzero(keep)), w[keep]


def by_group(
    inverse: np.ndarray, size: int, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per group of customers (`inverse`: each customer's group, of `size`): the sum of their
    weights and of their squared weights (for the sandwich standard errors). With no weights,
    how many customers are in each group, and None."""
    if weights is None:
        return np.bincount(inverse, minlength=size).astype(float), None
    return (
        np.bincount(inverse, weights=weights, minlength=size),
        np.bincount(inverse, weights=weights * weights, minlength=size),
    )
