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

The posterior over (lambda, p, active or dormant) at the calibration end gives each
customer's expected purchases over any horizon in closed form (a two-state Markov chain:
active to dormant at rate lambda p, back at rate omega), their probability of being active,
and draws of their latent state to start the simulator from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, special

from .fitting import Fit, fit_model
from .history import Summary, repeat_gaps

__all__ = ["Posterior", "fit_bgnbd_reactivation", "posterior"]

NODES_RATE = 16  # Gauss-Laguerre nodes for lambda
NODES_DROPOUT = 12  # Gauss-Jacobi nodes for p
NAMES = ["r", "alpha", "a", "b", "omega"]
WAKE_STARTS = (1e-4, 1e-3, 1e-2, 1e-1)  # per week: where the search for omega may start
DRAW_CHUNK = 20_000  # customers whose posterior draw is made at once
# a group of histories goes by quadrature when rows x degree^2 (the recursion's work) is at
# least this: below it the quadrature's fixed costs (its nodes, a sparse slice) dominate
QUADRATURE_FROM = 20_000


@dataclass(frozen=True)
class _Data:
    """The distinct histories of a summary: the likelihood depends only on the number of
    repeat purchases, the time of the last one, the multiset of gaps after the first repeat
    purchase and the silence after the last one, all in whole days. Gaps and silences are
    indices into tables of their distinct lengths (weeks)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weight: np.ndarray  # customers sharing each distinct history
    index: np.ndarray  # each customer's distinct history
    repeat: np.ndarray  # bool: the history has a repeat purchase
    gaps: np.ndarray  # distinct lengths of the gaps after the first repeat purchase, weeks
    later: sparse.csr_matrix  # repeat histories x gaps: how often each gap occurs
    stretches: np.ndarray  # distinct lengths of the silence after the last purchase, weeks
    stretch: np.ndarray  # each repeat history's silence, an index into `stretches`
    shift: float  # where the lambda nodes are placed: half the median T (_rate_nodes)
    # repeat histories grouped by size: (their rows, their later gaps as indices into `gaps`,
    # padded with -1, a neutral gap), the polynomial's degree is the padded count plus one
    groups: tuple[tuple[np.ndarray, np.ndarray], ...]


def _groups(later: np.ndarray, gaps: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Repeat histories by their number of later gaps (`later`: one row each, the gaps in
    days, -1 after the last), rounded up to 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, ...: few
    groups, little padding. Each group's table holds indices into `gaps`, -1 for padding."""
    sizes = (later >= 0).sum(axis=1)
    edges = [0, 1, 2, 3, 4]
    while edges[-1] < max(int(sizes.max(initial=0)), 1):
        edges.append(edges[-1] * 3 // 2 if len(edges) % 2 else edges[-1] * 4 // 3)
    index = np.where(later >= 0, np.searchsorted(gaps, later), -1)
    out = []
    lower = -1
    for edge in edges:
        rows = np.flatnonzero((sizes > lower) & (sizes <= edge))
        lower = edge
        if rows.size:
            table = np.full((rows.size, edge), -1, dtype=np.int64)
            width = min(edge, index.shape[1])
            table[:, :width] = index[rows, :width]
            out.append((rows, table))
    return tuple(out)


def _prepare(summary: Summary) -> _Data:
    n, x = summary.x.size, summary.x.astype(np.int64)
    owner, position, weeks = repeat_gaps(summary)
    gap = np.rint(weeks * 7).astype(np.int64)
    first = np.full(n, -1, dtype=np.int64)
    first[owner[position == 0]] = gap[position == 0]
    # the later gaps, sorted within each customer (their order does not matter)
    later_of, later_gap = owner[position > 0], gap[position > 0]
    order = np.lexsort((later_gap, later_of))
    later_of, later_gap = later_of[order], later_gap[order]
    width = max(int(x.max(initial=1)) - 1, 1)
    later = np.full((n, width), -1, dtype=np.int64)
    rank = (
        np.arange(later_of.size)
        - (np.cumsum(np.maximum(x - 1, 0)) - np.maximum(x - 1, 0))[later_of]
    )
    later[later_of, rank] = later_gap
    silent_days = np.rint((summary.T - summary.t_x) * 7).astype(np.int64)
    keys = np.column_stack([silent_days, first, later])
    _, who, index = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    index = index.reshape(-1)
    repeat = x[who] > 0
    rows_later = later[who][repeat]
    gaps = np.unique(rows_later[rows_later >= 0])
    row, col = np.nonzero(rows_later >= 0)
    counts = sparse.csr_matrix(
        (np.ones(row.size), (row, np.searchsorted(gaps, rows_later[row, col]))),
        shape=(rows_later.shape[0], gaps.size),
    )
    stretches, stretch = np.unique(silent_days[who][repeat], return_inverse=True)
    return _Data(
        x=x[who].astype(float),
        t_x=summary.t_x[who],
        T=summary.T[who],
        weight=np.bincount(index, minlength=who.size).astype(float),
        index=index,
        repeat=repeat,
        gaps=gaps / 7.0,
        later=counts,
        stretches=stretches / 7.0,
        stretch=stretch,
        shift=float(np.median(summary.T)) / 2,
        groups=_groups(rows_later, gaps),
    )


def _log_phi(delta: np.ndarray, d: np.ndarray) -> np.ndarray:
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


def _logsumexp_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log sum exp of each row, the rows' softmax); overwrites `values`."""
    top = values.max(axis=1, keepdims=True)
    values -= top
    np.exp(values, out=values)
    total = values.sum(axis=1, keepdims=True)
    values /= total
    return (top + np.log(total))[:, 0], values


def _rate_nodes(r: float, alpha: float, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Laguerre nodes and log-weights for lambda ~ Gamma(r, alpha), placed for
    Gamma(r, alpha + shift) and reweighted by e^(shift lambda) (alpha / (alpha + shift))^r:
    every likelihood carries e^(-lambda T), so nodes placed for a typical T integrate it
    more accurately (on CDNOW, 16 such nodes are closer to the limit than 32 plain ones)."""
    u, w = special.roots_genlaguerre(NODES_RATE, r - 1.0)
    lam = u / (alpha + shift)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # far-off trial points
        log_w = np.log(w / w.sum()) + shift * lam + r * np.log(alpha / (alpha + shift))
    return lam, log_w


def _loglik(theta: np.ndarray, data: _Data) -> np.ndarray:
    """The log-likelihood of every distinct history, p integrated exactly."""
    r, alpha, a, b, omega = theta
    lam, log_wl = _rate_nodes(r, alpha, data.shift)
    L = lam[None, :]
    out = np.empty(data.x.size)
    out[~data.repeat] = _logsumexp_rows(log_wl[None, :] - np.outer(data.T[~data.repeat], lam))[0]
    # each later gap's factor (1 - p) + p c, written as e^scale [(1 - p) u + p v] with
    # max(u, v) = 1 so the recursion neither overflows nor loses the larger part; a padding
    # gap (index -1, the last row) has c = 1
    log_c = np.vstack([np.log(omega) + _log_phi(omega - L, data.gaps[:, None]), np.zeros(L.shape)])
    scale = np.maximum(log_c, 0.0)
    u, v = np.exp(-scale), np.exp(log_c - scale)
    s = data.stretches[:, None]
    silent_keep = -L * s  # the silence's factor: (1 - p) e^(-lambda s) + p e^(silent_drop)
    silent_drop = np.logaddexp(-L * s + np.log(omega) + _log_phi(omega - L, s), -omega * s)
    rep = np.flatnonzero(data.repeat)
    head = data.x[rep, None] * np.log(L) - data.t_x[rep, None] * L + log_wl[None, :]
    ll = np.empty(rep.size)
    for rows, table in data.groups:
        m = table.shape[1] + 1  # the polynomial's degree: the later gaps and the silence
        if rows.size * m * m >= QUADRATURE_FROM:
            ends = (silent_keep, silent_drop)
            by_nodes = _by_quadrature(rows, m, (a, b), log_c[:-1], ends, head[rows], data)
            if by_nodes is not None:
                ll[rows] = by_nodes
                continue
        coef = np.zeros((rows.size, lam.size, m))  # of p^k (1 - p)^(j - k) after j gaps
        coef[:, :, 0] = 1.0
        log_scale = np.zeros((rows.size, lam.size))
        for j in range(m - 1):
            gap = table[:, j]
            step_u, step_v = u[gap][:, :, None], v[gap][:, :, None]
            moved = coef[:, :, : j + 1] * step_v
            coef[:, :, : j + 1] *= step_u
            coef[:, :, 1 : j + 2] += moved
            log_scale += scale[gap]
        k = np.arange(m + 1)
        beta = np.exp(special.betaln(a + k, b + m - k) - special.betaln(a, b))
        with np.errstate(divide="ignore"):
            stays = np.log(coef @ beta[:m])  # times (1 - p): p^k (1-p)^(m-k), k < m
            drops = np.log(coef @ beta[1:])  # times p: p^(k+1) (1-p)^(m-1-k)
        where = data.stretch[rows]
        by_rate = np.logaddexp(stays + silent_keep[where], drops + silent_drop[where])
        ll[rows] = _logsumexp_rows(head[rows] + log_scale + by_rate)[0]
    out[rep] = ll
    return out


def _by_quadrature(rows, m, beta, log_c, ends, head, data: _Data) -> np.ndarray | None:
    """The same likelihood for histories of long polynomials (degree up to `m` in p): Gauss-
    Jacobi quadrature for Beta(a, b) with m // 2 + 1 nodes is exact for a polynomial of that
    degree, and the product over the gaps becomes a sum of logs, one sparse product for the
    whole group. The recursion costs m^2 / 2 steps per history in Python-driven numpy; this
    costs the same arithmetic in one call, 2-5x faster on heavy buyers' histories. None when
    scipy cannot give the nodes (a + b in the hundreds overflows its scale factor)."""
    (a, b), (silent_keep, silent_drop) = beta, ends
    n = m // 2 + 1
    with np.errstate(over="ignore", invalid="ignore"):  # scipy scales by 2^(a + b): huge a + b
        z, w = special.roots_jacobi(n, b - 1.0, a - 1.0)
        w = w / w.sum()
    if not (np.isfinite(w).all() and np.isfinite(z).all()):
        return None  # such a trial point goes by the recursion
    p = np.clip((1.0 + z) / 2.0, 1e-300, 1 - 1e-16)
    keep, drop = np.log1p(-p), np.log(p)
    counts = data.later[rows]
    used = np.unique(counts.indices)  # the gap lengths these histories have
    factor = np.logaddexp(keep[None, None, :], drop[None, None, :] + log_c[used][:, :, None])
    nodes = log_c.shape[1]  # lambda's
    body = counts[:, used] @ factor.reshape(used.size, nodes * n)
    body = body.reshape(rows.size, nodes, n)
    where = data.stretch[rows]
    silence = np.logaddexp(
        keep[None, None, :] + silent_keep[where][:, :, None],
        drop[None, None, :] + silent_drop[where][:, :, None],
    )
    total = body + silence + head[:, :, None] + np.log(w)[None, None, :]
    return _logsumexp_rows(total.reshape(rows.size, -1))[0]


def fit_bgnbd_reactivation(summary: Summary, start: Fit | None = None) -> Fit:
    """Maximum-likelihood fit; `start` (a BG/NBD fit) gives the starting point."""
    data = _prepare(summary)
    begin = [0.5, 5.0, 1.0, 2.0] if start is None else [start.params[k] for k in NAMES[:4]]

    def total(theta: np.ndarray) -> float:
        return float(data.weight @ _loglik(theta, data))

    # omega's scale is unknown: start from the best of a few, the others held at the start
    omega = max(WAKE_STARTS, key=lambda w: total(np.array([*begin, w])))
    return fit_model(
        "bgnbd_reactivation",
        NAMES,
        lambda th: data.weight * _loglik(np.exp(th), data),
        [*begin, omega],
        summary.x.size,
    )


class _Nodes:
    """A grid of (lambda, p) nodes for the posterior: Gauss-Laguerre and Gauss-Jacobi."""

    def __init__(self, data: _Data, theta: np.ndarray):
        r, alpha, a, b, self.omega = theta
        self.data = data
        self.lam, self.log_wl = _rate_nodes(r, alpha, data.shift)
        z, wz = special.roots_jacobi(NODES_DROPOUT, b - 1.0, a - 1.0)
        self.p = np.clip((1.0 + z) / 2.0, 1e-12, 1 - 1e-12)
        with np.errstate(divide="ignore"):
            self.log_wp = np.log(wz / wz.sum())
        rep = data.repeat
        self.head = data.x[rep, None] * np.log(self.lam)[None, :] - np.outer(
            data.t_x[rep], self.lam
        )
        self.never = -np.outer(data.T[~rep], self.lam)

    def grids(self) -> tuple[np.ndarray, np.ndarray]:
        """The repeat histories' log-likelihood on the grid, weights included, by the state
        they end in: (active, dormant), each histories x (NL * NP)."""
        omega = self.omega
        L = self.lam[None, :, None]
        keep, drop = np.log1p(-self.p)[None, None, :], np.log(self.p)[None, None, :]
        d = self.data.gaps[:, None, None]
        later = np.logaddexp(keep, drop + np.log(omega) + _log_phi(omega - L, d))
        s = self.data.stretches[:, None, None]
        active = -L * s + np.logaddexp(keep, drop + np.log(omega) + _log_phi(omega - L, s))
        dormant = np.broadcast_to(drop - omega * s, active.shape)
        cells = (-1, self.lam.size * self.p.size)
        body = self.data.later @ later.reshape(cells)
        log_w = self.log_wl[:, None] + self.log_wp[None, :]
        body += (self.head[:, :, None] + log_w[None]).reshape(body.shape)
        where = self.data.stretch
        return body + active.reshape(cells)[where], body + dormant.reshape(cells)[where]


@dataclass(frozen=True)
class Posterior:
    """Each distinct history's posterior over the grid of (lambda, p) and the state at the
    calibration end (customers with the same history share one: `index` maps customers to
    theirs); rates in purchases per week. Per customer, 16 x 12 x 2 floats would be 3 kB."""

    active: np.ndarray  # (histories, NL, NP): probability of each node and being active
    dormant: np.ndarray  # the same, dormant
    index: np.ndarray  # (customers,): each customer's distinct history
    rate: np.ndarray  # (NL,) lambda nodes
    dropout: np.ndarray  # (NP,) p nodes
    omega: float

    @property
    def p_active(self) -> np.ndarray:
        return self.active.sum(axis=(1, 2))[self.index]

    def expected_purchases(self, weeks: float) -> np.ndarray:
        """E[purchases in the next `weeks` | history], no marketing (the two-state chain)."""
        lam, q = self.rate[:, None], self.rate[:, None] * self.dropout[None, :]
        k = self.omega + q
        decay = -np.expm1(-k * weeks) / k
        from_active = lam * (self.omega * weeks + q * decay) / k
        from_dormant = lam * self.omega * (weeks - decay) / k
        per_history = np.einsum("nij,ij->n", self.active, from_active) + np.einsum(
            "nij,ij->n", self.dormant, from_dormant
        )
        return per_history[self.index]

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One draw per customer: (active, lambda per week, p)."""
        h, n = self.active.shape[0], self.index.size
        flat = np.concatenate([self.active.reshape(h, -1), self.dormant.reshape(h, -1)], axis=1)
        cdf = np.cumsum(flat, axis=1)
        u = rng.random(n) * cdf[self.index, -1]
        pick = np.empty(n, dtype=np.int64)
        for start in range(0, n, DRAW_CHUNK):  # customers x cells at a time: bounded memory
            part = slice(start, start + DRAW_CHUNK)
            pick[part] = (cdf[self.index[part]] < u[part, None]).sum(axis=1)
        pick = np.minimum(pick, flat.shape[1] - 1)
        cells = self.rate.size * self.dropout.size
        node = pick % cells
        return (
            pick < cells,
            self.rate[node // self.dropout.size],
            self.dropout[node % self.dropout.size],
        )


def posterior(summary: Summary, params: dict[str, float]) -> Posterior:
    """The posterior given each customer's history under fitted `params`."""
    data = _prepare(summary)
    nodes = _Nodes(data, np.array([params[k] for k in NAMES]))
    in_active, in_dormant = nodes.grids()
    top = np.maximum(in_active.max(axis=1), in_dormant.max(axis=1))[:, None]
    in_active, in_dormant = np.exp(in_active - top), np.exp(in_dormant - top)
    norm = (in_active.sum(axis=1) + in_dormant.sum(axis=1))[:, None]
    shape = (data.x.size, nodes.lam.size, nodes.p.size)
    on_active, on_dormant = np.zeros(shape), np.zeros(shape)
    on_active[data.repeat] = (in_active / norm).reshape(-1, *shape[1:])
    on_dormant[data.repeat] = (in_dormant / norm).reshape(-1, *shape[1:])
    # no repeat purchase yet: active, and p is still its prior
    _, by_rate = _logsumexp_rows(nodes.never + nodes.log_wl[None, :])
    on_active[~data.repeat] = by_rate[:, :, None] * np.exp(nodes.log_wp)[None, None, :]
    return Posterior(
        active=on_active,
        dormant=on_dormant,
        index=data.index,
        rate=nodes.lam,
        dropout=nodes.p,
        omega=float(params["omega"]),
    )
