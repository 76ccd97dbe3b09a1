"""BG/NBD with purchase-rate multipliers by purchase number (the clinic case's stages).

The clinic case found that behaviour changes after the 3rd, 8th and 22nd purchase. Here a
customer's rate after their k-th purchase is lambda m(k), with m = 1 before the 3rd purchase,
m_3 from the 3rd, m_8 from the 8th and m_22 from the 22nd; dropout is BG/NBD's. For given
lambda the likelihood is lambda^x prod m e^(-lambda E), E the multiplier-weighted exposure,
so the Gamma and Beta integrals stay closed-form: BG/NBD with alpha + T and alpha + t_x
replaced by alpha + E(T) and alpha + E(t_x). A multiplier is fitted only when enough
customers reached its stage on the calibration data; otherwise it keeps the one before.
"""

from __future__ import annotations

import numpy as np

from .case_weights import by_group, positive
from .distinct import distinct_rows
from .fitting import Fit, fit_model, log_beta_ratio, log_rising
from .history import Summary, repeat_gaps
from .likelihoods import bgnbd_branches

__all__ = ["BREAKS", "MIN_CUSTOMERS", "exposures", "fit_bgnbd_stages"]

BREAKS = (3, 8, 22)  # purchase numbers from which a new multiplier applies
MIN_CUSTOMERS = 20  # customers who must have reached a stage for its multiplier to be fitted


def exposures(summary: Summary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer and stage: the time spent before the last purchase, the gaps that ended
    in a purchase, and the silence after the last purchase (customers x 4, weeks)."""
    n = summary.x.size
    owner, position, gap = repeat_gaps(summary)
    # the gap before repeat purchase number `position` + 1 is spent with position + 1 made
    stage = np.searchsorted(BREAKS, position + 1, side="right")
    before, bought, after = np.zeros((n, 4)), np.zeros((n, 4)), np.zeros((n, 4))
    np.add.at(before, (owner, stage), gap)
    np.add.at(bought, (owner, stage), 1.0)
    last = np.searchsorted(BREAKS, summary.x + 1, side="right")
    after[np.arange(n), last] = summary.T - summary.t_x
    return before, bought, after


def _loglik(params: np.ndarray, x: np.ndarray, parts, free: int) -> np.ndarray:
    r, alpha, a, b = params[:4]
    fitted = list(params[4 : 4 + free])
    multipliers = np.array([1.0, *fitted, *[fitted[-1] if fitted else 1.0] * (3 - free)])
    before, bought, after = parts
    e_tx = before @ multipliers
    e_T = e_tx + after @ multipliers
    k = x.astype(np.int64)
    head = log_rising(r, int(k.max(initial=0)))[k] + bought @ np.log(multipliers)
    beta = log_beta_ratio(a, b, k)
    stays, drops = bgnbd_branches(r, alpha, a, b, x, e_tx, e_T)
    return head + beta + np.logaddexp(stays, np.where(x > 0, drops, -np.inf))


def _score(params: np.ndarray, x: np.ndarray, parts, free: int, counts) -> tuple[float, np.ndarray]:
    """sum_i counts_i ll_i (`_loglik`) and its gradient in the parameters (r, alpha, a, b,
    the free multipliers), in closed form: the likelihood is BG/NBD's with the exposures
    E(t_x), E(T) linear in the multipliers."""
    r, alpha, a, b = params[:4]
    fitted = list(params[4 : 4 + free])
    multipliers = np.array([1.0, *fitted, *[fitted[-1] if fitted else 1.0] * (3 - free)])
    # d multipliers / d fitted: the last fitted one also stands for the stages after it
    spread = np.zeros((4, free))
    for j in range(1, 4):
        if free:
            spread[j, min(j, free) - 1] = 1.0
    before, bought, after = parts
    e_tx = before @ multipliers
    e_T = e_tx + after @ multipliers
    k = x.astype(np.int64)
    top = int(k.max(initial=0))
    ll = _loglik(params, x, parts, free)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        stays, drops = bgnbd_branches(r, alpha, a, b, x, e_tx, e_T)
        share = np.where(x > 0, np.exp(drops - np.logaddexp(stays, drops)), 0.0)  # dropped
    kept = 1.0 - share

    def rising(v: float) -> np.ndarray:  # d/dv log v (v + 1) ... (v + k - 1), at each x
        return np.concatenate([[0.0], np.cumsum(1.0 / (v + np.arange(top)))])[k]

    ab = rising(a + b)
    grad = np.empty(4 + free)
    grad[0] = counts @ (rising(r) - kept * np.log1p(e_T / alpha) - share * np.log1p(e_tx / alpha))
    grad[1] = counts @ (
        kept * (r * e_T / (alpha * (alpha + e_T)) - x / (alpha + e_T))
        + share * (r * e_tx / (alpha * (alpha + e_tx)) - x / (alpha + e_tx))
    )
    grad[2] = counts @ (-ab + share / a)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad[3] = counts @ (rising(b) - ab - np.where(x > 0, share / (b + x - 1), 0.0))
    if free:
        by_T = -kept * (r + x) / (alpha + e_T)  # d ll / d E(T), through `stays`
        by_tx = -share * (r + x) / (alpha + e_tx)
        per_stage = bought / multipliers + by_T[:, None] * (before + after)
        per_stage += by_tx[:, None] * before
        grad[4:] = (counts @ per_stage) @ spread
    return float(counts @ ll), grad


def fit_bgnbd_stages(
    summary: Summary,
    start: Fit | None = None,
    weights: np.ndarray | None = None,
    *,
    errors: bool = True,
) -> Fit:
    """Fit the multipliers whose stage at least MIN_CUSTOMERS customers (of positive weight)
    reached. `weights`: one case weight per customer (None: 1 each; sandwich standard
    errors). `errors=False`: no standard errors (fit_model)."""
    summary, weights = positive(summary, weights)
    reached = [int(np.sum(summary.x + 1 >= k)) for k in BREAKS]
    free = sum(1 for n in reached if n >= MIN_CUSTOMERS)
    begin = [0.5, 5.0, 1.0, 2.0]
    if start is not None:
        begin = [start.params[k] for k in ("r", "alpha", "a", "b")]
    names = ["r", "alpha", "a", "b", *[f"m{k}" for k in BREAKS[:free]]]
    # from a fit of this model (a backtest's fits from the whole period's): its multipliers,
    # and its metric where it has the same parameters
    multipliers = [1.0 if start is None else start.params.get(k, 1.0) for k in names[4:]]
    metric = None
    if start is not None and start.hessian is not None and list(start.params) == names:
        try:
            metric = np.linalg.cholesky(np.linalg.inv(start.hessian))
        except np.linalg.LinAlgError:
            metric = None
    before, bought, after = exposures(summary)
    # customers with the same exposures are one term, counted as often as they occur
    rows = np.column_stack([summary.x, before, bought, after])
    first, inverse = distinct_rows(rows)
    counts, squares = by_group(inverse, first.size, weights)
    parts, x = (before[first], bought[first], after[first]), summary.x[first]

    def score(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        value, gradient = _score(params, x, parts, free, counts)
        return value, gradient * params  # in the log-parameters

    return fit_model(
        "bgnbd_stages",
        names,
        lambda th: _loglik(np.exp(th), x, parts, free),
        [*begin, *multipliers],
        summary.x.size,
        counts=counts,
        squares=squares,
        errors=errors,
        score=score,
        metric=metric,
    )
