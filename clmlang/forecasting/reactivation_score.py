"""The score of BG/NBD with reactivation: the log-likelihood's gradient in closed form.

The fit (`reactivation.py`) maximises sum_h w_h ll_h over (r, alpha, a, b, omega); this gives
the sum and its gradient together, the gradient of the very quadrature the likelihood is
computed by, so that L-BFGS-B needs no finite differences (which cost five more evaluations
a step). Each history's ll is log sum_i exp(log w_i + G(lambda_i)) over lambda's nodes, so

    d ll = sum_i pi_i (d log w_i + G'(lambda_i) d lambda_i + dG_i|a, b, omega),

pi the softmax over the nodes. The nodes move with r and alpha (lambda_i = u_i(r) / (alpha +
shift)); u_i(r) and the normalised log-weights' slopes in r are Gauss-Laguerre's own, taken
by a central difference of the rule (16 to 48 numbers, accurate to about 1e-10). G's
slopes in lambda and omega go through the recursion over the gaps as tangents (each gap's
factor 1 - p + p c(lambda, omega) is linear in c); in a and b through the Beta ratios (their
logs are sums of 1 / (a + j), exact). Groups integrated by Gauss-Jacobi quadrature (exact
for their polynomial in p) take a and b's slopes through the rule's nodes and weights, which
move with a and b: the rule stays exact, so the slope of its value is the integral's.
tests/test_reactivation_score.py compares the gradient with finite differences.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .fitting import log_rising
from .reactivation_histories import NODES_RATE, QUADRATURE_FROM, Histories, HistoryGroup
from .reactivation_kernels import recursion_parts, recursion_sums
from .reactivation_quadrature import jacobi_rule, log_phi, logsumexp_rows, rate_nodes, rate_tables

__all__ = ["loglik_and_score"]

STEP = 1e-5  # relative step of the central differences of the quadrature rules


def _central(at, x: float) -> list[np.ndarray]:
    """The slope of each array `at(x)` gives, by a central difference (its error, about
    STEP^2 relative, is below the rules' own rounding)."""
    h = STEP * x
    moved = [at(x + k * h) for k in (-1, 1)]
    return [(hi - lo) / (2 * h) for lo, hi in zip(*moved, strict=True)]


def _log_phi_slope(delta: np.ndarray, d: np.ndarray) -> np.ndarray:
    """d/d delta of log_phi(delta, d) = log((1 - e^(-delta d)) / delta): d (1 / expm1(t) -
    1 / t), t = delta d, by its series near t = 0."""
    t = delta * d
    small = np.abs(t) < 1e-3
    safe = np.where(small, 1.0, t)
    with np.errstate(over="ignore"):
        g = np.where(small, -0.5 + t / 12 - t**3 / 720, 1.0 / np.expm1(safe) - 1.0 / safe)
    return d * g


def _rate_slopes(r: float, alpha: float, shift: float, nodes: int):
    """lambda's nodes, their log-weights, and both slopes in r and in alpha."""
    lam, log_w = rate_nodes(r, alpha, shift, nodes)

    def rule(rr):
        u, w = special.roots_genlaguerre(nodes, rr - 1.0)
        return u, np.log(w / w.sum())

    du, dlog = _central(rule, r)
    lam_r = du / (alpha + shift)
    log_w_r = dlog + shift * lam_r + np.log(alpha / (alpha + shift))
    lam_alpha = -lam / (alpha + shift)
    log_w_alpha = shift * lam_alpha + r * (1 / alpha - 1 / (alpha + shift))
    return lam, log_w, (lam_r, log_w_r), (lam_alpha, log_w_alpha)


def _slope_tables(lam: np.ndarray, omega: float, nodes: int, data: Histories):
    """The slopes in lambda and omega of log c for each gap and of each silence's `drop`
    part (`keep`'s is -s in lambda, 0 in omega); computed where `rate_tables` computes."""
    L = lam[None, :]
    gaps, stretches = data.needs[nodes]
    c_lam, c_omega = np.zeros((data.gaps.size, nodes)), np.zeros((data.gaps.size, nodes))
    slope = _log_phi_slope(omega - L, data.gaps[gaps, None])
    c_lam[gaps], c_omega[gaps] = -slope, 1 / omega + slope
    s = data.stretches[stretches, None]
    drop_lam = np.zeros((data.stretches.size, nodes))
    drop_omega = np.zeros((data.stretches.size, nodes))
    with np.errstate(divide="ignore"):
        wake = -L * s + np.log(omega) + log_phi(omega - L, s)
    share = np.exp(wake - np.logaddexp(wake, -omega * s))  # of the woken part in `drop`
    slope = _log_phi_slope(omega - L, s)
    drop_lam[stretches] = share * (-s - slope)
    drop_omega[stretches] = share * (1 / omega + slope) + (1 - share) * (-s)
    return c_lam, c_omega, drop_lam, drop_omega


def _rising_slope(v: float, n: int) -> np.ndarray:
    """d/dv log v (v + 1) ... (v + k - 1), k = 0 .. n."""
    return np.concatenate([[0.0], np.cumsum(1.0 / (v + np.arange(n)))])


def _recursion_grad(g, tables, slopes, rising, compiled: bool = False):
    """A group by the recursion over its gaps with tangents in lambda and omega: per row
    and node, G (no weights), dG/dlambda (head included), dG/domega, dG/da, dG/db.
    `compiled`: the recursion by the kernel (reactivation_kernels.py), else by numpy."""
    ra, rb, rab, sa, sb, sab = rising
    lam, _, _, keep, drop, (scale, u, v) = tables
    c_lam, c_omega, drop_lam, drop_omega = slopes
    m = g.table.shape[1] + 1
    k = np.arange(m + 1)
    beta = np.exp(ra[k] + rb[m - k] - rab[m])
    beta_a, beta_b = beta * (sa[k] - sab[m]), beta * (sb[m - k] - sab[m])
    zero = np.zeros((1, lam.size))
    c_lam, c_omega = np.vstack([c_lam, zero]), np.vstack([c_omega, zero])
    betas = (beta, beta_a, beta_b)
    if compiled:  # the recursion and what is made of its sums, both by kernels
        sums = np.empty((2, 5, g.rows.size, lam.size))
        log_scale = np.empty((g.rows.size, lam.size))
        table = np.ascontiguousarray(g.table, dtype=np.int64)
        recursion_sums(table, u, v, scale, c_lam, c_omega, *betas, sums, log_scale)
        out = np.empty((5, g.rows.size, lam.size))
        silence = np.ascontiguousarray(g.silence, dtype=np.int64)
        ends = (keep, drop, silence, g.x, g.t_x, lam, g.stretch_weeks, drop_lam, drop_omega)
        recursion_parts(sums, log_scale, *ends, out)
        return list(out)
    sums, log_scale = _recursion_sums(g.table, (scale, u, v), (c_lam, c_omega), betas)
    ends = (keep[g.silence], drop[g.silence])
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = []
        for lo in (0, 1):  # times (1 - p), times p
            whole = sums[lo, 0]
            ok = whole > 0
            parts.append((np.log(whole), [np.where(ok, d / whole, 0.0) for d in sums[lo, 1:]]))
        (stays, d_stays), (drops, d_drops) = parts
        by_rate = np.logaddexp(stays + ends[0], drops + ends[1])
        kept = np.exp(stays + ends[0] - by_rate)
        kept = np.where(np.isfinite(kept), kept, 0.0)
    x, t_x = g.x[:, None], g.t_x[:, None]
    out.append(x * np.log(lam)[None, :] - t_x * lam[None, :] + log_scale + by_rate)
    s_len = -g.stretch_weeks[:, None]  # d keep / d lambda
    out.append(
        x / lam[None, :]
        - t_x
        + kept * (s_len + d_stays[0])
        + (1 - kept) * (drop_lam[g.silence] + d_drops[0])
    )
    out.append(kept * d_stays[1] + (1 - kept) * (drop_omega[g.silence] + d_drops[1]))
    out.append(kept * d_stays[2] + (1 - kept) * d_drops[2])
    out.append(kept * d_stays[3] + (1 - kept) * d_drops[3])
    return out


def _recursion_sums(table, steps, tangents, betas):
    """What `recursion_sums` (the kernel) gives, by numpy on whole arrays: per gap a few
    calls over the coefficients and their tangents in lambda and omega, stacked (one
    operation moves all three: a tangent's step is its own times the factor plus the
    coefficients' times the factor's slope, which only the p part has)."""
    scale, u, v = steps
    c_lam, c_omega = tangents
    beta, beta_a, beta_b = betas
    m = table.shape[1] + 1
    shape = (table.shape[0], u.shape[1])
    stack = np.zeros((3, m, *shape))
    stack[0, 0] = 1.0
    log_scale = np.zeros(shape)
    for j in range(m - 1):
        gap = table[:, j]
        moved = stack[:, : j + 1] * v[gap]
        moved[1] += moved[0] * c_lam[gap]
        moved[2] += moved[0] * c_omega[gap]
        stack[:, : j + 1] *= u[gap]
        stack[:, 1 : j + 2] += moved
        log_scale += scale[gap]
    coef, t_lam, t_omega = stack

    def by_degree(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.einsum("k,k...->...", weights, values)  # over the degree, the first axis

    sums = np.empty((2, 5, *shape))
    for lo, hi in ((0, m), (1, m + 1)):
        sums[lo] = [
            by_degree(beta[lo:hi], coef),
            by_degree(beta[lo:hi], t_lam),
            by_degree(beta[lo:hi], t_omega),
            by_degree(beta_a[lo:hi], coef),
            by_degree(beta_b[lo:hi], coef),
        ]
    return sums, log_scale


def _jacobi(n: int, a: float, b: float):
    """p's Gauss-Jacobi nodes for Beta(a, b) and their normalised log-weights; None when
    scipy cannot give them."""
    rule = jacobi_rule(n, a, b)
    if rule is None:
        return None
    with np.errstate(divide="ignore"):
        log_w = np.log(rule[1])
    return (rule[0], log_w) if np.isfinite(log_w).all() else None


def _quadrature_grad(g, tables, slopes, ab):
    """A group by Gauss-Jacobi quadrature, as `_recursion_grad` gives it, lambda's node by
    node (p's nodes summed out); None when a rule cannot be had (the recursion then)."""
    (a, b), m = ab, g.table.shape[1] + 1
    n = m // 2 + 1
    here = _jacobi(n, a, b)
    if here is None:
        return None
    slopes_ab = []
    for which in (0, 1):  # the rule's slopes in a, then in b
        h = STEP * ab[which]
        moved = [
            _jacobi(n, a + k * h, b) if which == 0 else _jacobi(n, a, b + k * h) for k in (-1, 1)
        ]
        if any(rule is None for rule in moved):
            return None
        slopes_ab.append([(hi - lo) / (2 * h) for lo, hi in zip(*moved, strict=True)])
    p, log_wp = here
    p = np.clip(p, 1e-300, 1 - 1e-16)
    lam, _, log_c, keep, drop, _ = tables
    c_lam, c_omega, drop_lam, drop_omega = slopes
    N = lam.size
    lp, lq = np.log(p), np.log1p(-p)
    factor = np.logaddexp(lq[None, None, :], lp[None, None, :] + log_c[g.used][:, :, None])
    woke = np.exp(lp[None, None, :] + log_c[g.used][:, :, None] - factor)  # sigma
    by_p = woke / p - (1 - woke) / (1 - p)
    flat = (g.used.size, N * n)

    def summed(values):
        return (g.counts @ values.reshape(flat)).reshape(g.rows.size, N, n)

    body = summed(factor)
    body_lam = summed(woke * c_lam[g.used][:, :, None])
    body_omega = summed(woke * c_omega[g.used][:, :, None])
    body_p = summed(by_p)
    k, d = keep[g.silence][:, :, None], drop[g.silence][:, :, None]
    silence = np.logaddexp(lq + k, lp + d)
    stayed = np.exp(lq + k - silence)  # tau
    x, t_x = g.x[:, None, None], g.t_x[:, None, None]
    L = lam[None, :, None]
    total = body + silence + x * np.log(L) - t_x * L + log_wp
    G_lam = (
        body_lam
        + x / L
        - t_x
        + stayed * (-g.stretch_weeks[:, None, None])
        + (1 - stayed) * drop_lam[g.silence][:, :, None]
    )
    G_omega = body_omega + (1 - stayed) * drop_omega[g.silence][:, :, None]
    G_p = body_p + (1 - stayed) / p - stayed / (1 - p)
    # sum p's nodes out: G per lambda node, each slope averaged over p's softmax
    top = total.max(axis=2, keepdims=True)
    weight = np.exp(total - top)
    norm = weight.sum(axis=2, keepdims=True)
    weight /= norm
    G = (top + np.log(norm))[:, :, 0]
    out = [G, (weight * G_lam).sum(axis=2), (weight * G_omega).sum(axis=2)]
    for dp, dlog_w in slopes_ab:
        out.append((weight * (dlog_w + G_p * dp)).sum(axis=2))
    return out


def loglik_and_score(
    params: np.ndarray,
    data: Histories,
    counts: np.ndarray,
    quadrature_from: float = QUADRATURE_FROM,
    *,
    compiled: bool = False,
) -> tuple[float, np.ndarray]:
    """sum_h counts_h ll_h at `params` (r, alpha, a, b, omega) and its gradient in them; a
    group goes by quadrature where the likelihood's does (`quadrature_from`). `compiled`:
    the recursion over the gaps by the numba kernel (reactivation_kernels.py)."""
    r, alpha, a, b, omega = (float(v) for v in params)
    grad = np.zeros(5)
    total = 0.0
    rates = {k: _rate_slopes(r, alpha, data.shift, k) for k in data.needs}
    tables = {k: rate_tables(r, alpha, omega, k, data) for k in data.needs}
    slopes = {k: _slope_tables(rates[k][0], omega, k, data) for k in data.needs}
    # the histories with no repeat purchase: G = -T lambda
    lam, log_w, by_r, by_alpha = rates[NODES_RATE]
    never = ~data.repeat
    T, w = data.T[never][:, None], counts[never]
    ll, pi = logsumexp_rows(log_w[None, :] - T * lam[None, :])
    total += float(w @ ll)
    for i, (lam_s, log_w_s) in enumerate((by_r, by_alpha)):
        grad[i] += float(w @ (pi @ log_w_s - (pi * T) @ lam_s))
    rep = np.flatnonzero(data.repeat)
    top = max((g.table.shape[1] + 1 for g in data.groups), default=0)
    rising = tuple(log_rising(v, top) for v in (a, b, a + b)) + tuple(
        _rising_slope(v, top) for v in (a, b, a + b)
    )
    for g in data.groups:
        m = g.table.shape[1] + 1
        group = _Group(g, data, rep)
        parts = None
        if g.rows.size * m * m >= quadrature_from:
            parts = _quadrature_grad(group, tables[g.nodes], slopes[g.nodes], (a, b))
        if parts is None:
            parts = _recursion_grad(group, tables[g.nodes], slopes[g.nodes], rising, compiled)
        G, G_lam, G_omega, G_a, G_b = parts
        lam, log_w, by_r, by_alpha = rates[g.nodes]
        ll, pi = logsumexp_rows(log_w[None, :] + G)
        w = counts[rep[g.rows]]
        total += float(w @ ll)
        for i, (lam_s, log_w_s) in enumerate((by_r, by_alpha)):
            grad[i] += float(w @ (pi @ log_w_s + (pi * G_lam) @ lam_s))
        grad[2] += float(w @ (pi * G_a).sum(axis=1))
        grad[3] += float(w @ (pi * G_b).sum(axis=1))
        grad[4] += float(w @ (pi * G_omega).sum(axis=1))
    return total, grad


class _Group:
    """A history group with its rows' x, t_x and silence lengths at hand."""

    def __init__(self, g: HistoryGroup, data: Histories, rep: np.ndarray):
        self.rows, self.table, self.used, self.counts = g.rows, g.table, g.used, g.counts
        self.silence = g.silence
        self.x, self.t_x = data.x[rep[g.rows]], data.t_x[rep[g.rows]]
        self.stretch_weeks = data.stretches[g.silence]
