"""BG/NBD with reactivation: customers who stop buying may come back.

BG/NBD assumes that a customer who drops out after a purchase is gone for good; on real
histories (CDNOW among them) customers who looked lost buy again, and every BG/NBD-type model
under-forecasts the following period. Here, as in BG/NBD, a customer buys at rate
lambda ~ Gamma(r, alpha) while active and turns inactive after each repeat purchase with
probability p ~ Beta(a, b); unlike BG/NBD, an inactive customer becomes active again at rate
omega (one parameter, common to all; weeks). omega = 0 is BG/NBD.

After a purchase the customer is active with 1 - p and dormant with p, whatever came before,
so a history's likelihood for given (lambda, p) is a product over its gaps:

- the first gap after the trial purchase, d: lambda e^(-lambda d) (no dropout before the first
  repeat purchase, as in BG/NBD);
- each later gap d: lambda e^(-lambda d) [(1 - p) + p omega phi(omega - lambda, d)], where
  phi(delta, d) = (1 - e^(-delta d)) / delta (the dormant customer wakes, then buys);
- the stretch s after the last purchase: e^(-lambda s) [(1 - p) + p omega phi] + p e^(-omega s)
  for a repeat buyer, e^(-lambda s) for a customer who never bought again.

For given lambda the likelihood is a polynomial in p, so the fit integrates p exactly: the
polynomial's coefficients in the basis p^k (1 - p)^(m - k) come from a recursion over the
gaps, and E[p^k (1 - p)^(m - k)] under Beta(a, b) is B(a + k, b + m - k) / B(a, b). lambda is
integrated by generalised Gauss-Laguerre quadrature. Gaps are whole days, so each factor is
tabulated once per distinct gap length, and customers with the same history are counted
once; histories are grouped by their number of purchases (padded with neutral gaps to a few
sizes) so the recursion runs on whole arrays. For long histories (heavy buyers) the same
integral is computed by Gauss-Jacobi quadrature with enough nodes to be exact for the
polynomial's degree, which is faster there.

The distinct histories and their groups are in `reactivation_histories.py`, lambda's nodes
and the gap tables in `reactivation_quadrature.py`, the likelihood's gradient (which the fit
gives L-BFGS-B) in `reactivation_score.py`, the posterior given each history in
`reactivation_posterior.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.compiled import THRESHOLD, use_compiled
from .case_weights import by_group, positive
from .fitting import Fit, fit_model, log_rising, start_metric
from .history import Summary
from .reactivation_histories import NODES_RATE, QUADRATURE_FROM, Histories, HistoryGroup, prepare
from .reactivation_quadrature import jacobi_rule, log_phi, logsumexp_rows, rate_nodes, rate_tables
from .reactivation_score import loglik_and_score

__all__ = [
    "NODES_RATE",
    "Histories",
    "HistoryGroup",
    "fit_bgnbd_reactivation",
    "log_phi",
    "logsumexp_rows",
    "prepare",
    "rate_nodes",
]

NODES_DROPOUT = 12  # Gauss-Jacobi nodes for p
NAMES = ["r", "alpha", "a", "b", "omega"]
DEFAULT_START = [0.5, 5.0, 1.0, 2.0]  # r, alpha, a, b without a BG/NBD fit to start from
WAKE_STARTS = (1e-4, 1e-3, 1e-2, 1e-1)  # per week: where the search for omega may start
# the start's Beta(a, b) for p has at most this a + b. Where dormant customers wake, BG/NBD
# often fits a p that is nearly one number (a + b in the thousands or more); there the
# likelihood hardly changes with a + b and a search started there stays (a simulated history
# stuck 156 below the maximum, omega off by 40%). At most 10 keeps CDNOW's start (3.2).
CONCENTRATION_START = 10.0


@dataclass
class _GroupPart:
    """What a group's likelihood takes from r, alpha and omega alone: lambda's part (head:
    rows x nodes), the silence's two parts (ends), log c of the gaps it uses, and, once the
    recursion has run, its coefficients (rows x nodes x degree) and head plus their scale."""

    head: np.ndarray
    ends: tuple[np.ndarray, np.ndarray]
    log_c: np.ndarray
    steps: tuple[np.ndarray, np.ndarray, np.ndarray]
    coef: np.ndarray | None = None
    base: np.ndarray | None = None


@dataclass(frozen=True)
class _RateParts:
    """Every history's likelihood short of p's integral, at one (r, alpha, omega)."""

    never: np.ndarray  # the log-likelihood of the histories with no repeat purchase
    groups: tuple[_GroupPart, ...]


def _rate_parts(r: float, alpha: float, omega: float, data: Histories) -> _RateParts:
    tables = {k: rate_tables(r, alpha, omega, k, data) for k in data.needs}
    lam, log_wl = tables[NODES_RATE][:2]
    never = logsumexp_rows(log_wl[None, :] - np.outer(data.T[~data.repeat], lam))[0]
    rep = np.flatnonzero(data.repeat)
    parts = []
    for g in data.groups:
        lam, log_wl, log_c, silent_keep, silent_drop, steps = tables[g.nodes]
        x, t_x = data.x[rep[g.rows], None], data.t_x[rep[g.rows], None]
        head = x * np.log(lam)[None, :] - t_x * lam[None, :] + log_wl[None, :]
        ends = (silent_keep[g.silence], silent_drop[g.silence])
        parts.append(_GroupPart(head, ends, log_c[g.used], steps))
    return _RateParts(never, tuple(parts))


def _recursion(g: HistoryGroup, part: _GroupPart) -> None:
    """The coefficients of p^k (1 - p)^(j - k) after the group's j gaps, and head plus the
    log of their scale, into `part`: they do not depend on a and b."""
    scale, u, v = part.steps
    m = g.table.shape[1] + 1
    # by degree first, so that each step works on whole contiguous blocks
    coef = np.zeros((m, *part.head.shape))
    coef[0] = 1.0
    log_scale = np.zeros(part.head.shape)
    for j in range(m - 1):
        gap = g.table[:, j]
        moved = coef[: j + 1] * v[gap]
        coef[: j + 1] *= u[gap]
        coef[1 : j + 2] += moved
        log_scale += scale[gap]
    coef = np.ascontiguousarray(coef.transpose(1, 2, 0))  # rows x nodes x degree
    part.coef, part.base = coef, part.head + log_scale


RATE_PARTS_KEPT = 16  # trial points' (r, alpha, omega) whose parts a fit keeps


def _loglik(theta: np.ndarray, data: Histories, kept: dict | None = None) -> np.ndarray:
    """The log-likelihood of every distinct history, p integrated exactly. `kept`: the
    parts of recent trial points by (r, alpha, omega), filled and reused (a numerical
    gradient's or Hessian's steps in a and b change only p's integral)."""
    r, alpha, a, b, omega = theta
    key = (float(r), float(alpha), float(omega))
    parts = None if kept is None else kept.get(key)
    if parts is None:
        parts = _rate_parts(r, alpha, omega, data)
        if kept is not None:
            if len(kept) >= RATE_PARTS_KEPT:
                del kept[next(iter(kept))]  # the oldest
            kept[key] = parts
    out = np.empty(data.x.size)
    out[~data.repeat] = parts.never
    rep = np.flatnonzero(data.repeat)
    ll = np.empty(rep.size)
    # B(a + k, b + m - k) / B(a, b) as rising factorials: exact for huge a + b too; each
    # group's m takes the first m + 1 (a cumulative sum's prefix: the same numbers)
    top = max(g.table.shape[1] + 1 for g in data.groups) if data.groups else 0
    rising_a, rising_b, rising_ab = (log_rising(v, top) for v in (a, b, a + b))
    for g, part in zip(data.groups, parts.groups, strict=True):
        m = g.table.shape[1] + 1  # the polynomial's degree: the later gaps and the silence
        if g.rows.size * m * m >= QUADRATURE_FROM:
            by_nodes = _by_quadrature(g, m, (a, b), part.log_c, part.ends, part.head)
            if by_nodes is not None:
                ll[g.rows] = by_nodes
                continue
        if part.coef is None:
            _recursion(g, part)
        k = np.arange(m + 1)
        beta = np.exp(rising_a[k] + rising_b[m - k] - rising_ab[m])
        with np.errstate(divide="ignore"):
            stays = np.log(part.coef @ beta[:m])  # times (1 - p): p^k (1-p)^(m-k), k < m
            drops = np.log(part.coef @ beta[1:])  # times p: p^(k+1) (1-p)^(m-1-k)
        by_rate = np.logaddexp(stays + part.ends[0], drops + part.ends[1])
        ll[g.rows] = logsumexp_rows(part.base + by_rate)[0]
    out[rep] = ll
    return out


def _by_quadrature(g: HistoryGroup, m: int, beta, log_c, ends, head) -> np.ndarray | None:
    """The same likelihood for histories of long polynomials (degree up to `m` in p): Gauss-
    Jacobi quadrature for Beta(a, b) with m // 2 + 1 nodes is exact for a polynomial of that
    degree, and the product over the gaps becomes a sum of logs, one sparse product for the
    whole group. The recursion costs m^2 / 2 steps per history in Python-driven numpy; this
    costs the same arithmetic in one call, 2-5x faster on heavy buyers' histories. None when
    scipy cannot give the nodes (a + b in the hundreds overflows its scale factor)."""
    (a, b), (silent_keep, silent_drop) = beta, ends
    n = m // 2 + 1
    rule = jacobi_rule(n, a, b)  # scipy scales by 2^(a + b): none for a huge a + b
    if rule is None:
        return None  # such a trial point goes by the recursion
    p, w = np.clip(rule[0], 1e-300, 1 - 1e-16), rule[1]
    keep, drop = np.log1p(-p), np.log(p)
    factor = np.logaddexp(keep[None, None, :], drop[None, None, :] + log_c[:, :, None])
    nodes = log_c.shape[1]  # lambda's
    body = g.counts @ factor.reshape(g.used.size, nodes * n)
    body = body.reshape(g.rows.size, nodes, n)
    silence = np.logaddexp(
        keep[None, None, :] + silent_keep[:, :, None], drop[None, None, :] + silent_drop[:, :, None]
    )
    total = body + silence + head[:, :, None] + np.log(w)[None, None, :]
    return logsumexp_rows(total.reshape(g.rows.size, -1))[0]


# the recursion's work per evaluation (histories x degree^2 x lambda's nodes, summed over
# the groups it integrates) from which the score takes the numba kernel when CLM_NUMBA is
# unset: CDNOW's full size (23,570 customers) has about 1.15M, its 1/10 sample 0.36M, whose
# fits are over before numba's start-up (0.7 s) would be repaid
KERNEL_FROM = 750_000


def _compiled(data: Histories) -> bool:
    """Whether the score's recursion goes by the kernel (CLM_NUMBA as `use_compiled`)."""
    work = sum(
        g.rows.size * (g.table.shape[1] + 1) ** 2 * g.nodes
        for g in data.groups
        if g.rows.size * (g.table.shape[1] + 1) ** 2 < QUADRATURE_FROM
    )
    return use_compiled(THRESHOLD if work >= KERNEL_FROM else 0)


def fit_bgnbd_reactivation(
    summary: Summary,
    start: Fit | None = None,
    weights: np.ndarray | None = None,
    *,
    errors: bool = True,
) -> Fit:
    """Maximum-likelihood fit; `start` gives the starting point: a BG/NBD fit, omega then
    the best of WAKE_STARTS, or a fit of this model (a backtest's fits start from the whole
    period's). `weights`: one case weight per customer (None: 1 each; sandwich standard
    errors), summed over the customers who share a history. `errors=False`: no standard
    errors (fit_model)."""
    summary, weights = positive(summary, weights)
    data = prepare(summary)
    counts, squares = by_group(data.index, data.x.size, weights)
    begin = DEFAULT_START if start is None else [start.params[k] for k in NAMES[:4]]
    r, alpha, a, b = begin
    from_bgnbd = start is not None and start.model == "bgnbd"
    if a + b > CONCENTRATION_START:  # the same mean dropout, a Beta the search can leave
        begin = [r, alpha, a / (a + b) * CONCENTRATION_START, b / (a + b) * CONCENTRATION_START]
        from_bgnbd = False  # not BG/NBD's maximum: its metric does not hold there
    kept: dict = {}  # each trial point's parts that a and b do not change

    def total(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = float(counts @ _loglik(theta, data, kept))
        return value if np.isfinite(value) else -math.inf

    if start is not None and "omega" in start.params:
        omega = start.params["omega"]
    else:  # omega's scale is unknown: start from the best of a few, the others held
        tried = {w: total(np.array([*begin, w])) for w in WAKE_STARTS}
        if max(tried.values()) == -math.inf and start is not None:
            # a BG/NBD fit at its edge (a single customer: r and alpha run off to 1e10) can
            # put this model past overflow everywhere: start from the defaults instead
            begin, from_bgnbd = DEFAULT_START, False
            tried = {w: total(np.array([*begin, w])) for w in WAKE_STARTS}
        omega = max(tried, key=tried.get)

    compiled = _compiled(data)
    # with the kernel every group goes by the recursion: it walks heavy buyers' histories
    # faster than Gauss-Jacobi's numpy does (CDNOW's full size: 0.044 s a score for 0.068),
    # and its slopes in a and b are exact where the rule's are its central differences
    by_rule_from = math.inf if compiled else QUADRATURE_FROM

    def score(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        value, gradient = loglik_and_score(params, data, counts, by_rule_from, compiled=compiled)
        return value, gradient * params  # in the log-parameters

    return fit_model(
        "bgnbd_reactivation",
        NAMES,
        lambda th: _loglik(np.exp(th), data, kept),
        [*begin, omega],
        summary.x.size,
        counts=counts,
        squares=squares,
        errors=errors,
        score=score,
        # a backtest's fit descends in the whole period's metric (CDNOW's: 9 and 12
        # evaluations for 21 and 25); the whole period's from BG/NBD's maximum in BG/NBD's
        metric=start_metric(start, "bgnbd_reactivation")
        if not from_bgnbd
        else _with_omega(start_metric(start, "bgnbd")),
    )


def _with_omega(metric: np.ndarray | None) -> np.ndarray | None:
    """BG/NBD's metric (the Cholesky factor of its inverse Hessian in log r, alpha, a, b)
    extended to log omega, whose scale is taken as the geometric mean of the others' (their
    standard errors: all shrink as 1 / sqrt(customers)), uncorrelated with them: the
    search starts nearly round where BG/NBD's maximum is near this model's (CDNOW's full
    size: 17 scores for 26, the same maximum to 2e-6 relative; docs/calibration.md)."""
    if metric is None:
        return None
    scale = float(np.exp(np.mean(np.log(np.sqrt(np.sum(metric**2, axis=1))))))
    out = np.zeros((5, 5))
    out[:4, :4], out[4, 4] = metric, scale
    return out
