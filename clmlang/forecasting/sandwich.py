"""Robust (sandwich) standard errors of a weighted maximum-likelihood fit.

A fit that maximises sum_i w_i ll_i(theta), with case weights w_i (inverse-propensity
weights, say), is not a likelihood for the data, and the inverse of its Hessian H is not the
variance of its estimate. The variance of the root of the weighted score equation is the
sandwich H^-1 M H^-1 with M = sum_i w_i^2 s_i s_i^T, s_i the gradient of ll_i (Huber 1967;
for inverse-probability weights, Binder 1983). With all weights 1 and the model right it is
the inverse Hessian again, in the limit. Derivatives are over the parameters the optimiser
sees (the log-parameters), by central differences; customers who share a likelihood term
share its score, so M is summed over the terms, each with its customers' sum of w_i^2.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["STEP", "sandwich", "scores"]

STEP = 1e-5  # central differences' step in the log-parameters: error ~ h^2 + eps / h


def scores(ll: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = STEP):
    """Each term's gradient of its log-likelihood `ll` at `theta`: terms x parameters."""
    step = np.eye(theta.size) * h
    with np.errstate(all="ignore"):
        return np.column_stack([(ll(theta + e) - ll(theta - e)) / (2 * h) for e in step])


def sandwich(hessian: np.ndarray, score: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """H^-1 M H^-1, `hessian` that of the negative weighted log-likelihood, M the outer
    products of the terms' scores weighted by `squares` (each term's sum of squared weights).
    Raises numpy's LinAlgError for a singular Hessian."""
    bread = np.linalg.inv(hessian)
    meat = score.T @ (squares[:, None] * score)
    return bread @ meat @ bread
