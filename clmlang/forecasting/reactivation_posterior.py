"""The posterior of BG/NBD with reactivation given each customer's history.

Over a grid of (lambda, p) nodes and the state at the calibration end (active or dormant),
from the same histories and quadrature nodes as the fit (`reactivation.py`): each
customer's expected purchases over any horizon in closed form (a two-state Markov chain:
active to dormant at rate lambda p, back at rate omega), their probability of being active,
and draws of their latent state to start the simulator from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .distinct import distinct_rows
from .history import Summary
from .reactivation import NAMES, NODES_DROPOUT
from .reactivation_histories import NODES_RATE, Histories, HistoryGroup, prepare
from .reactivation_quadrature import dropout_nodes, log_phi, logsumexp_rows, rate_nodes

__all__ = ["Posterior", "posterior"]


def _grids(g: HistoryGroup, lam, log_wl, p, log_wp, omega: float, x, t_x, data: Histories):
    """A group's log-likelihood on the grid of (lambda, p) nodes, weights included, by the
    state the history ends in: (active, dormant), each rows x (NL * NP)."""
    L = lam[None, :, None]
    keep, drop = np.log1p(-p)[None, None, :], np.log(p)[None, None, :]
    d = data.gaps[g.used][:, None, None]
    later = np.logaddexp(keep, drop + np.log(omega) + log_phi(omega - L, d))
    s = data.stretches[:, None, None]
    active = -L * s + np.logaddexp(keep, drop + np.log(omega) + log_phi(omega - L, s))
    dormant = np.broadcast_to(drop - omega * s, active.shape)
    cells = (-1, lam.size * p.size)
    active, dormant = active.reshape(cells)[g.silence], dormant.reshape(cells)[g.silence]
    body = g.counts @ later.reshape(g.used.size, lam.size * p.size)
    head = x[:, None] * np.log(lam)[None, :] - t_x[:, None] * lam[None, :] + log_wl[None, :]
    body = body + (head[:, :, None] + log_wp[None, None, :]).reshape(body.shape)
    return body + active, body + dormant


@dataclass(frozen=True)
class Posterior:
    """Each distinct history's posterior over its grid of (lambda, p) nodes and the state at
    the calibration end (customers with the same history share one: `index` maps customers
    to theirs); rates in purchases per week. Per customer, 16 x 12 x 2 floats would be 3 kB."""

    active: np.ndarray  # (histories, NL, NP): probability of each node and being active
    dormant: np.ndarray  # the same, dormant
    index: np.ndarray  # (customers,): each customer's distinct history
    rate: np.ndarray  # (histories, NL): lambda nodes, placed for each history's group
    dropout: np.ndarray  # (NP,) p nodes
    omega: float

    @property
    def p_active(self) -> np.ndarray:
        return self.active.sum(axis=(1, 2))[self.index]

    @cached_property
    def _lambda_grids(self) -> tuple[np.ndarray, np.ndarray]:
        """The few distinct grids of lambda nodes the histories are on, and each history's."""
        first, which = distinct_rows(self.rate)
        return self.rate[first], which

    def expected_purchases(self, weeks: float) -> np.ndarray:
        """E[purchases in the next `weeks` | history], no marketing (the two-state chain),
        evaluated once per grid of lambda nodes and read by each history on it."""
        grids, which = self._lambda_grids
        from_active, from_dormant = _from_states(grids[:, :, None], self, weeks)
        per_history = np.einsum("nij,nij->n", self.active, from_active[which]) + np.einsum(
            "nij,nij->n", self.dormant, from_dormant[which]
        )
        return per_history[self.index]

    def expected_totals(self, horizons: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """For each horizon, `expected_purchases(w) @ weights` (weights: customers x k),
        the same to rounding: the customers' posteriors weighted and summed first over the
        few grids of lambda nodes they share, then the chain evaluated once per grid and
        horizon (a weekly series of a year costs what one horizon did)."""
        histories = self.rate.shape[0]
        per_history = np.column_stack(
            [np.bincount(self.index, weights=w, minlength=histories) for w in weights.T]
        )
        grids, which = self._lambda_grids
        # per grid, the histories on it summed by one product (np.add.at, element by
        # element, cost ten times as much)
        on = [np.flatnonzero(which == g) for g in range(grids.shape[0])]
        active, dormant = (
            np.stack([np.einsum("nij,nk->ijk", cells[rows], per_history[rows]) for rows in on])
            for cells in (self.active, self.dormant)
        )
        out = np.empty((len(horizons), per_history.shape[1]))
        for h, weeks in enumerate(horizons):
            from_active, from_dormant = _from_states(grids[:, :, None], self, float(weeks))
            out[h] = np.einsum("gijk,gij->k", active, from_active) + np.einsum(
                "gijk,gij->k", dormant, from_dormant
            )
        return out

    @cached_property
    def _cdf(self) -> np.ndarray:
        """Each distinct history's cumulative probabilities over its cells (active ones,
        then dormant ones): every replication's draw reads them."""
        h = self.active.shape[0]
        cells = self.active.shape[1] * self.active.shape[2]
        # summed in place in one table (full size: 8,991 histories x 768 cells, 55 MB): a
        # second table of that size cost more in fresh pages than the sums themselves
        flat = np.empty((h, 2 * cells))
        flat[:, :cells] = self.active.reshape(h, -1)
        flat[:, cells:] = self.dormant.reshape(h, -1)
        return np.cumsum(flat, axis=1, out=flat)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One draw per customer: (active, lambda per week, p). Each customer's cell is the
        number of their history's cumulative probabilities below a uniform times their
        total, found by bisection on all customers at once (the cumulative sums do not
        decrease, so it is the count a full comparison would give, in log2(cells) steps)."""
        cdf = self._cdf
        width = cdf.shape[1]
        u = rng.random(self.index.size) * cdf[self.index, -1]
        row = self.index * width  # each customer's row in the flattened table
        flat = cdf.reshape(-1)
        pick = np.zeros(self.index.size, dtype=np.int64)
        step = 1 << (width.bit_length() - 1)  # the highest power of two up to width
        while step:
            trial = pick + step  # entries counted so far plus step: are they all below u?
            inside = trial <= width
            below = inside & (flat[row + np.minimum(trial, width) - 1] < u)
            pick = np.where(below, trial, pick)
            step >>= 1
        pick = np.minimum(pick, width - 1)
        cells = self.rate.shape[1] * self.dropout.size
        node = pick % cells
        return (
            pick < cells,
            self.rate[self.index, node // self.dropout.size],
            self.dropout[node % self.dropout.size],
        )


def _from_states(lam: np.ndarray, post: Posterior, weeks: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases over `weeks` at each (lambda, p) node, starting active and
    starting dormant."""
    q = lam * post.dropout[None, None, :]
    k = post.omega + q
    decay = -np.expm1(-k * weeks) / k
    from_active = lam * (post.omega * weeks + q * decay) / k
    from_dormant = lam * post.omega * (weeks - decay) / k
    return from_active, from_dormant


def posterior(summary: Summary, params: dict[str, float]) -> Posterior:
    """The posterior given each customer's history under fitted `params`."""
    data = prepare(summary)
    r, alpha, a, b, omega = (float(params[k]) for k in NAMES)
    p, wz = dropout_nodes(NODES_DROPOUT, a, b)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore"):
        log_wp = np.log(wz)  # summing to 1
    # every history on a grid of the largest size; a group with fewer nodes leaves the rest
    # at probability 0
    nodes = max([NODES_RATE, *(g.nodes for g in data.groups)])
    shape = (data.x.size, nodes, NODES_DROPOUT)
    on_active, on_dormant, rate = np.zeros(shape), np.zeros(shape), np.zeros(shape[:2])
    # no repeat purchase yet: active, and p is still its prior
    never = ~data.repeat
    lam, log_wl = rate_nodes(r, alpha, data.shift)
    _, by_rate = logsumexp_rows(log_wl[None, :] - np.outer(data.T[never], lam))
    on_active[never, : lam.size] = by_rate[:, :, None] * np.exp(log_wp)[None, None, :]
    rate[never, : lam.size] = lam
    rep = np.flatnonzero(data.repeat)
    for g in data.groups:
        lam, log_wl = rate_nodes(r, alpha, data.shift, g.nodes)
        who = rep[g.rows]
        x, t_x = data.x[who], data.t_x[who]
        in_active, in_dormant = _grids(g, lam, log_wl, p, log_wp, omega, x, t_x, data)
        top = np.maximum(in_active.max(axis=1), in_dormant.max(axis=1))[:, None]
        in_active, in_dormant = np.exp(in_active - top), np.exp(in_dormant - top)
        norm = (in_active.sum(axis=1) + in_dormant.sum(axis=1))[:, None]
        grid = (-1, lam.size, NODES_DROPOUT)
        on_active[who, : lam.size] = (in_active / norm).reshape(grid)
        on_dormant[who, : lam.size] = (in_dormant / norm).reshape(grid)
        rate[who, : lam.size] = lam
    return Posterior(on_active, on_dormant, data.index, rate, p, omega)
