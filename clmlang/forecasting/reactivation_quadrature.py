"""The quadrature shared by the reactivation model's likelihood, its score and its posterior:
lambda's Gauss-Laguerre nodes, and the tables of each gap's and silence's factor at them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import linalg, special

from .reactivation_histories import NODES_RATE, Histories

__all__ = ["dropout_nodes", "jacobi_rule", "log_phi", "logsumexp_rows", "rate_nodes", "rate_tables"]


def log_phi(delta: np.ndarray, d: np.ndarray) -> np.ndarray:
    """log((1 - e^(-delta d)) / delta), stable for delta of either sign and near 0."""
    # (1 - e^-t) / t = e^(-t/2) sinh(t/2) / (t/2), and log(sinh(y) / y) for y = |t/2| is
    # y - log 2 - log y + log1p(-e^(-2y)): no overflow whatever the sign or size of t
    t = delta * d
    y = np.abs(t) / 2
    small = y < 1e-6
    y_safe = np.where(small, 1.0, y)
    log_sinhc = np.where(
        small, y * y / 6, y_safe - np.log(2 * y_safe) + np.log1p(-np.exp(-2 * y_safe))
    )
    with np.errstate(divide="ignore"):  # a silence of 0 days: phi = 0
        return -t / 2 + log_sinhc + np.log(d)


def logsumexp_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log sum exp of each row, the rows' softmax); overwrites `values`."""
    top = values.max(axis=1, keepdims=True)
    values -= top
    np.exp(values, out=values)
    total = values.sum(axis=1, keepdims=True)
    values /= total
    return (top + np.log(total))[:, 0], values


def rate_nodes(
    r: float, alpha: float, shift: float, nodes: int = NODES_RATE
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Laguerre nodes and log-weights for lambda ~ Gamma(r, alpha), placed for
    Gamma(r, alpha + shift) and reweighted by e^(shift lambda) (alpha / (alpha + shift))^r:
    every likelihood carries e^(-lambda T), so nodes placed for a typical T integrate it
    more accurately (on CDNOW, 16 such nodes are closer to the limit than 32 plain ones)."""
    u, w = _laguerre(nodes, float(r))
    lam = u / (alpha + shift)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # far-off trial points
        log_w = np.log(w / w.sum()) + shift * lam + r * np.log(alpha / (alpha + shift))
    return lam, log_w


def jacobi_rule(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray] | None:
    """scipy's n Gauss-Jacobi nodes of p ~ Beta(a, b) and their weights (summing to 1); None
    where scipy cannot give them: it scales by 2^(a + b), NaN past a + b of about 1,000, and
    past about 1e150 its Jacobi matrix's squares overflow (a ValueError)."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z, w = special.roots_jacobi(n, b - 1.0, a - 1.0)
            w = w / w.sum()
    except ValueError:
        return None
    if not (np.isfinite(w).all() and np.isfinite(z).all()):
        return None
    return (1.0 + z) / 2.0, w


def dropout_nodes(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """p's n Gauss-Jacobi nodes for p ~ Beta(a, b) and their weights (summing to 1): scipy's,
    or where scipy cannot give them (it scales by 2^(a + b), which overflows once a + b is
    past about 1,000: a fit at its edge, every customer with nearly the same p) the
    eigenvalues of the Jacobi matrix (Golub-Welsch), its entries written as products of
    ratios so that no square of a or b is formed; the weights are the eigenvectors' first
    components squared. Finite for any a, b > 0; as a + b grows the nodes close in on
    a / (a + b), the Beta's limit (a point mass)."""
    rule = jacobi_rule(n, a, b)
    if rule is not None:
        return rule
    al, be = b - 1.0, a - 1.0  # the Jacobi polynomials' exponents, on [-1, 1]
    s = al + be
    k = np.arange(n, dtype=float)
    diagonal = (be - al) / (2 * k + s) * (be + al) / (2 * k + s + 2)
    diagonal[0] = (be - al) / (s + 2)
    k = k[1:]
    off = (4 * k * (k + al) / (2 * k + s) * (k + be) / (2 * k + s) * (k + s) / (2 * k + s + 1)) / (
        2 * k + s - 1
    )
    z, vectors = linalg.eigh_tridiagonal(diagonal, np.sqrt(off))
    w = vectors[0] ** 2
    return np.clip((1.0 + z) / 2.0, 0.0, 1.0), w / w.sum()


@lru_cache(maxsize=64)
def _laguerre(nodes: int, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Laguerre nodes and weights for exponent r - 1 (not to be written to): a fit's
    numerical gradient steps alpha and omega at the same r."""
    return special.roots_genlaguerre(nodes, r - 1.0)


def rate_tables(r, alpha, omega, nodes: int, data: Histories):
    """What every group with `nodes` lambda nodes shares: the nodes and their log-weights,
    log c of each gap length (a later gap's factor is 1 - p + p c), and of each silence
    the logs of its factor's two parts ((1 - p) e^keep + p e^drop); computed only for the
    gaps and silences those groups have (the rest are left at 0)."""
    lam, log_wl = rate_nodes(r, alpha, data.shift, nodes)
    L = lam[None, :]
    gaps, stretches = data.needs[nodes]
    log_c = np.zeros((data.gaps.size, nodes))
    log_c[gaps] = np.log(omega) + log_phi(omega - L, data.gaps[gaps, None])
    s = data.stretches[stretches, None]
    keep, drop = np.zeros((data.stretches.size, nodes)), np.zeros((data.stretches.size, nodes))
    keep[stretches] = -L * s
    drop[stretches] = np.logaddexp(-L * s + np.log(omega) + log_phi(omega - L, s), -omega * s)
    # for the recursion: each later gap's factor (1 - p) + p c, written as
    # e^scale [(1 - p) u + p v] with max(u, v) = 1 so that it neither overflows nor loses the
    # larger part; a padding gap (index -1, the last row) has c = 1
    padded = np.vstack([log_c, np.zeros((1, nodes))])
    scale = np.maximum(padded, 0.0)
    return lam, log_wl, log_c, keep, drop, (scale, np.exp(-scale), np.exp(padded - scale))
