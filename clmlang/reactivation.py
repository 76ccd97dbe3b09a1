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

lambda and p are integrated numerically on a quadrature grid (generalised Gauss-Laguerre for
the Gamma, Gauss-Jacobi for the Beta). Gaps are whole days, so each factor is tabulated once
per distinct gap length and a history's log-likelihood on the grid is a sparse count matrix
times that table: a 23,000-customer history evaluates in milliseconds.

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
from .history import Summary

__all__ = ["Posterior", "fit_bgnbd_reactivation", "posterior"]

NODES_RATE = 20  # Gauss-Laguerre nodes for lambda
NODES_DROPOUT = 12  # Gauss-Jacobi nodes for p
NAMES = ["r", "alpha", "a", "b", "omega"]


@dataclass(frozen=True)
class _Data:
    """The distinct histories of a summary (the likelihood depends only on the first gap, the
    multiset of later gaps and the silence after the last purchase, all in whole days) as
    count matrices over distinct gap lengths (weeks)."""

    x: np.ndarray
    T: np.ndarray
    weight: np.ndarray  # customers sharing each distinct history
    index: np.ndarray  # each customer's distinct history
    gaps: np.ndarray  # distinct gap lengths, weeks
    first: sparse.csr_matrix  # histories x gaps: the first repeat purchase's gap
    later: sparse.csr_matrix  # histories x gaps: every later gap
    stretches: np.ndarray  # distinct lengths of the silence after the last purchase
    silence: sparse.csr_matrix  # histories x stretches, repeat buyers only
    never: np.ndarray  # bool: no repeat purchase


def _prepare(summary: Summary) -> _Data:
    keys: dict[tuple, int] = {}
    index = np.empty(summary.x.size, dtype=np.int64)
    histories: list[tuple] = []
    silent_days = np.rint((summary.T - summary.t_x) * 7).astype(np.int64)
    for i, times in enumerate(summary.times):
        days = np.rint(np.diff(np.r_[0.0, times]) * 7).astype(np.int64)
        key = (int(silent_days[i]), *days[:1], *np.sort(days[1:]))
        if key not in keys:
            keys[key] = len(histories)
            histories.append((i, days))
        index[i] = keys[key]
    n = len(histories)
    weight = np.bincount(index, minlength=n).astype(float)
    rows_first, days_first, rows_later, days_later = [], [], [], []
    for row, (_, days) in enumerate(histories):
        if days.size:
            rows_first.append(row)
            days_first.append(days[0])
            rows_later.extend([row] * (days.size - 1))
            days_later.extend(days[1:])
    gaps, inverse = np.unique(np.r_[days_first, days_later].astype(np.int64), return_inverse=True)
    m, k = gaps.size, len(days_first)
    first = sparse.csr_matrix((np.ones(k), (rows_first, inverse[:k])), shape=(n, m))
    later = sparse.csr_matrix(
        (np.ones(len(days_later)), (rows_later, inverse[k:])), shape=(n, m)
    )
    who = np.array([i for i, _ in histories], dtype=np.int64)
    x = summary.x[who]
    repeat = x > 0
    stretches, where = np.unique(silent_days[who][repeat], return_inverse=True)
    silence = sparse.csr_matrix(
        (np.ones(where.size), (np.flatnonzero(repeat), where)), shape=(n, stretches.size)
    )
    return _Data(
        x=x.astype(float),
        T=summary.T[who],
        weight=weight,
        index=index,
        gaps=gaps / 7.0,
        first=first,
        later=later,
        stretches=stretches / 7.0,
        silence=silence,
        never=~repeat,
    )


def _grid(r: float, alpha: float, a: float, b: float):
    """Quadrature nodes and log-weights for lambda ~ Gamma(r, alpha) and p ~ Beta(a, b)."""
    u, wu = special.roots_genlaguerre(NODES_RATE, r - 1.0)
    z, wz = special.roots_jacobi(NODES_DROPOUT, b - 1.0, a - 1.0)
    lam = u / alpha
    p = (1.0 + z) / 2.0
    with np.errstate(divide="ignore"):
        log_w = np.log(wu / wu.sum())[:, None] + np.log(wz / wz.sum())[None, :]
    return lam, np.clip(p, 1e-12, 1 - 1e-12), log_w


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


def _tables(theta: np.ndarray, data: _Data, *, split: bool):
    """Per-customer log-likelihood on the grid (log-weights included). With `split`, the
    silence after the last purchase is kept apart by the state it ends in, for the
    posterior; without, the states are added up before the (costly) per-customer step."""
    r, alpha, a, b, omega = theta
    lam, p, log_w = _grid(r, alpha, a, b)
    L = lam[None, :, None]  # gaps x NL x NP
    log_keep, log_drop = np.log1p(-p)[None, None, :], np.log(p)[None, None, :]
    d = data.gaps[:, None, None]
    # each gap: lambda e^(-lambda d) times [(1-p) + p omega phi]; the lambda^x comes apart
    first = np.broadcast_to(-L * d, (d.size, lam.size, p.size)).reshape(d.size, -1)
    later = (-L * d + np.logaddexp(log_keep, log_drop + np.log(omega) + _log_phi(omega - L, d)))
    body = (
        data.x[:, None] * np.repeat(np.log(lam), p.size)[None, :]
        + data.first @ np.ascontiguousarray(first)
        + data.later @ later.reshape(d.size, -1)
        + log_w.reshape(1, -1)
    )
    s = data.stretches[:, None, None]
    wake = log_drop + np.log(omega) + _log_phi(omega - L, s)
    active = (-L * s + np.logaddexp(log_keep, wake)).reshape(s.size, -1)
    dormant = np.broadcast_to(log_drop - omega * s, (s.size, lam.size, p.size)).reshape(s.size, -1)
    silent_never = -np.outer(data.T, np.repeat(lam, p.size))
    never = data.never[:, None]
    if not split:
        silent = data.silence @ np.logaddexp(active, dormant)
        return body + np.where(never, silent_never, silent), lam, p
    shape = (data.x.size, lam.size, p.size)
    in_active = body + np.where(never, silent_never, data.silence @ active)
    in_dormant = body + np.where(never, -np.inf, data.silence @ dormant)
    return in_active.reshape(shape), in_dormant.reshape(shape), lam, p


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


def _loglik(theta: np.ndarray, data: _Data) -> np.ndarray:
    grid, _, _ = _tables(theta, data, split=False)
    return _logsumexp_rows(grid)


def fit_bgnbd_reactivation(summary: Summary, start: Fit | None = None) -> Fit:
    """Maximum-likelihood fit; `start` (a BG/NBD fit) gives the starting point."""
    data = _prepare(summary)
    begin = [0.5, 5.0, 1.0, 2.0] if start is None else [start.params[k] for k in NAMES[:4]]
    return fit_model(
        "bgnbd_reactivation",
        NAMES,
        lambda th: data.weight * _loglik(np.exp(th), data),
        [*begin, 0.01],
        summary.x.size,
    )


@dataclass(frozen=True)
class Posterior:
    """Each customer's posterior over the grid of (lambda, p) and their state at the
    calibration end; rates in purchases per week."""

    active: np.ndarray  # (customers, NL, NP): probability of each node and being active
    dormant: np.ndarray  # the same, dormant
    rate: np.ndarray  # (NL,) lambda nodes
    dropout: np.ndarray  # (NP,) p nodes
    omega: float

    @property
    def p_active(self) -> np.ndarray:
        return self.active.sum(axis=(1, 2))

    def expected_purchases(self, weeks: float) -> np.ndarray:
        """E[purchases in the next `weeks` | history], no marketing (the two-state chain)."""
        lam, q = self.rate[:, None], self.rate[:, None] * self.dropout[None, :]
        k = self.omega + q
        decay = -np.expm1(-k * weeks) / k
        from_active = lam * (self.omega * weeks + q * decay) / k
        from_dormant = lam * self.omega * (weeks - decay) / k
        return np.einsum("nij,ij->n", self.active, from_active) + np.einsum(
            "nij,ij->n", self.dormant, from_dormant
        )

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One draw per customer: (active, lambda per week, p)."""
        n = self.active.shape[0]
        flat = np.concatenate([self.active.reshape(n, -1), self.dormant.reshape(n, -1)], axis=1)
        cdf = np.cumsum(flat, axis=1)
        u = rng.random(n) * cdf[:, -1]
        pick = np.minimum((cdf < u[:, None]).sum(axis=1), flat.shape[1] - 1)
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
    theta = np.array([params[k] for k in NAMES])
    active, dormant, lam, p = _tables(theta, data, split=True)
    total = _logsumexp_rows(np.logaddexp(active, dormant).reshape(data.x.size, -1))
    total = total[:, None, None]
    return Posterior(
        active=np.exp(active - total)[data.index],
        dormant=np.exp(dormant - total)[data.index],
        rate=lam,
        dropout=p,
        omega=float(params["omega"]),
    )
