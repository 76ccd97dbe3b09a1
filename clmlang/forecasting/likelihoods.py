"""The buying and spend models' log-likelihoods, per customer (or per distinct history), and
the closed-form scores (the summed log-likelihood's gradient) of BG/NBD and Gamma-Gamma,
all in the log-parameters; `fitting.py` maximises them. Times in weeks."""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["bgnbd_branches", "log_beta_ratio", "log_rising"]


def log_rising(a: float, n: int) -> np.ndarray:
    """log a (a + 1) ... (a + k - 1) for k = 0 .. n, summed term by term: log Gamma(a + k) -
    log Gamma(a) without the difference, which loses everything for a large a (at a = 1e15
    each gammaln is 3e16, rounded to 4 or 8): a fit that wanders to huge Beta parameters then
    meets a likelihood of rounding noise, with spurious maxima (docs/research/calibration.md)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.concatenate([[0.0], np.cumsum(np.log(a + np.arange(n)))])


def log_beta_ratio(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """log B(a, b + x) / B(a, b) for whole numbers x >= 0, accurate however large a and b."""
    k = np.asarray(x).astype(np.int64)
    n = int(k.max(initial=0))
    return log_rising(b, n)[k] - log_rising(a + b, n)[k]


def bgnbd_branches(r, alpha, a, b, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD's two branches past the head, in logs: `stays` (alive at T) and `drops` (gone
    just after t_x; meaningful where x > 0 only, the caller masks the rest). `t_x` and `T` may
    be exposures (stage_multipliers.py)."""
    # r log(alpha / (alpha + t)) as -r log1p(t / alpha): no cancellation for a large alpha
    stays = -r * np.log1p(T / alpha) - x * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        drops = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            - r * np.log1p(t_x / alpha)
            - x * np.log(alpha + t_x)
        )
    return stays, drops


def _bgnbd_ll(log_params: np.ndarray, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = np.exp(log_params)
    k = np.asarray(x).astype(np.int64)
    head = log_rising(r, int(k.max(initial=0)))[k] + log_beta_ratio(a, b, k)
    stays, drops = bgnbd_branches(r, alpha, a, b, x, t_x, T)
    drops = np.where(x > 0, drops, -np.inf)
    return head + np.logaddexp(stays, drops)


def _rising_slope(v: float, n: int) -> np.ndarray:
    """d/dv log v (v + 1) ... (v + k - 1) for k = 0 .. n: sum_j<k 1 / (v + j)."""
    return np.concatenate([[0.0], np.cumsum(1.0 / (v + np.arange(n)))])


def _bgnbd_score(log_params: np.ndarray, x, t_x, T, counts) -> tuple[float, np.ndarray]:
    """sum counts * `_bgnbd_ll` and its gradient in the log-parameters, in closed form: the
    head's slopes are sums of 1 / (v + j) (as `log_rising`'s terms), the two branches'
    slopes weighted by each one's share of their sum."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    k = np.asarray(x).astype(np.int64)
    top = int(k.max(initial=0))
    ll = _bgnbd_ll(log_params, x, t_x, T)
    stays, drops = bgnbd_branches(r, alpha, a, b, x, t_x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(x > 0, np.exp(drops - np.logaddexp(stays, drops)), 0.0)
    keep = 1.0 - share
    slope_ab = _rising_slope(a + b, top)[k]
    d_r = _rising_slope(r, top)[k] - keep * np.log1p(T / alpha) - share * np.log1p(t_x / alpha)
    d_alpha = keep * (r * T / (alpha * (alpha + T)) - x / (alpha + T)) + share * (
        r * t_x / (alpha * (alpha + t_x)) - x / (alpha + t_x)
    )
    d_a = -slope_ab + share / a
    with np.errstate(divide="ignore", invalid="ignore"):
        d_b = _rising_slope(b, top)[k] - slope_ab - np.where(x > 0, share / (b + x - 1), 0.0)
    gradient = np.array([counts @ d for d in (d_r, d_alpha, d_a, d_b)]) * params
    return float(counts @ ll), gradient


def _pareto_ll(log_params: np.ndarray, x, t_x, T) -> np.ndarray:
    r, alpha, s, beta = np.exp(log_params)
    rsx = r + s + x
    if alpha >= beta:
        big, param = alpha, s + 1
    else:
        big, param = beta, r + x
    diff = abs(alpha - beta)
    with np.errstate(all="ignore"):
        f1 = special.hyp2f1(rsx, param, rsx + 1, diff / (big + t_x))
        f2 = special.hyp2f1(rsx, param, rsx + 1, diff / (big + T))
        l1 = np.log(f1) - rsx * np.log(big + t_x)
        l2 = np.log(f2) - rsx * np.log(big + T)
        # log(exp(l1) - exp(l2)), l1 > l2
        a0 = l1 + np.log1p(-np.exp(l2 - l1))
        head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        second = np.log(s) - np.log(rsx) + a0
        return head + np.logaddexp(first, second)


def _gg_ll(log_params: np.ndarray, x, m) -> np.ndarray:
    p, q, gamma = np.exp(log_params)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )


def _gg_score(log_params: np.ndarray, x, m, counts) -> tuple[float, np.ndarray]:
    """sum counts * `_gg_ll` and its gradient in the log-parameters, in closed form
    (digammas)."""
    params = np.exp(log_params)
    p, q, gamma = params
    px = p * x
    both = special.digamma(px + q)
    rest = np.log(gamma + m * x)
    d_p = x * (both - special.digamma(px) + np.log(m) + np.log(x) - rest)
    d_q = both - special.digamma(q) + np.log(gamma) - rest
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    gradient = np.array([counts @ d for d in (d_p, d_q, d_gamma)]) * params
    return float(counts @ _gg_ll(log_params, x, m)), gradient
