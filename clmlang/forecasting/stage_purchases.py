"""Expected purchases under stage multipliers, exactly: what the backtest scores.

A customer's draw (posterior.py, `Latent.draw`) is active with P(alive), a rate lambda ~
Gamma(R, A) (R = r + x, A = alpha + E(T), the multiplier-weighted exposure) and a dropout
p ~ Beta(a, b + x), the three independent. Active, their j-th purchase from now happens at
rate lambda m(x + j) (m: the multiplier once that many purchases are made, constant from the
last break on) and each purchase is followed by a dropout with probability p. So

    E[purchases in t] = P(alive) sum_j E[(1 - p)^(j - 1)] P(S_j <= t),

S_j the time of the j-th purchase. p's expectation is a ratio of Beta functions. For the
clock, uniformisation: with M the largest multiplier the customer can still reach, the
purchases are the jumps of a chain that moves on each event of a Poisson process of rate
lambda M with probability m / M; after k events the chain's distribution does not depend on
lambda, and lambda M t mixed over Gamma(R, A) makes the number of events negative binomial,
NB(R, M t / (A + M t)). Hence E = P(alive) sum_k NB(k) g_k, where g_k, the expected
surviving purchases after k events, depends only on x: computed once per distinct x, and
the sum is cut where the negative binomial's tail is below 1e-13.

This replaces the mean of 200 simulated draws (the same expectation, without its sampling
noise, at a small fraction of the cost).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .distinct import distinct_rows
from .history import Summary

__all__ = ["expected_stage_purchases"]

TAIL = 1e-13  # the negative binomial's mass left out of the sum
CELLS = 1 << 20  # customers x events computed at once (8 MiB a table)


def expected_stage_purchases(
    summary: Summary,
    weeks: float,
    params: dict[str, float],
    multiplier: np.ndarray,
    p_alive: np.ndarray,
    e_T: np.ndarray,
) -> np.ndarray:
    """Each customer's expected repeat purchases over the next `weeks` with no marketing.
    `params`: r, alpha (weeks), a, b; `multiplier[k]`: the rate multiplier once k purchases
    are made (k = 0 .. the last break, constant after it); `p_alive`, `e_T` as `Latent` has
    them."""
    r, alpha, a, b = (float(params[k]) for k in ("r", "alpha", "a", "b"))
    x = summary.x.astype(np.int64)
    lapses = np.broadcast_to(np.asarray(summary.lapses, dtype=np.int64), x.shape)
    shape_rate = r + summary.x_rate
    scale = alpha + e_T
    out = np.zeros(x.size)
    last = multiplier.size - 1
    # customers with the same x (and lapses) share the chain and p's Beta: one g for all
    rows = np.column_stack([x, lapses])
    first, which = distinct_rows(rows)
    groups = rows[first]
    members = np.split(np.argsort(which, kind="stable"), np.cumsum(np.bincount(which))[:-1])
    for (xi, vi), who in zip(groups, members, strict=True):
        # the multipliers of the purchases to come: the j-th (j = 1, 2, ...) at m(x + j)
        ahead = multiplier[np.minimum(xi + 1 + np.arange(last + 1), last)]
        top = float(ahead.max())
        theta = top * weeks / (scale[who] + top * weeks)
        R = shape_rate[who]
        # events enough for every customer of the group: the negative binomial's quantile
        k_max = _events(float(R.max()), float(theta.max()))
        g = _surviving(ahead, top, k_max, a + vi, b + xi - vi)
        # the customers x events table a few rows at a time: a group can be most of a
        # million-customer base, and the events run to hundreds
        step = max(1, CELLS // (k_max + 1))
        for lo in range(0, who.size, step):
            part = slice(lo, lo + step)
            out[who[part]] = p_alive[who[part]] * (_nb_pmf(R[part], theta[part], k_max) @ g)
    return out


def _nb_pmf(shape: np.ndarray, theta: np.ndarray, k_max: int) -> np.ndarray:
    """P(K = k), k = 0 .. k_max, for K ~ NB(shape, theta), one row per customer (theta 0,
    no time ahead: all the mass at k = 0)."""
    events = np.arange(k_max + 1)
    log_nb = (
        special.gammaln(shape[:, None] + events)
        - special.gammaln(shape)[:, None]
        - special.gammaln(events + 1.0)[None, :]
        + shape[:, None] * np.log1p(-theta)[:, None]
        + special.xlogy(events[None, :], theta[:, None])
    )
    return np.exp(log_nb)


def _events(shape: float, theta: float) -> int:
    """The fewest events k with P(K > k) below TAIL for K ~ NB(shape, theta) (its survival
    function is the regularised incomplete Beta I_theta(k + 1, shape)); the group's largest
    shape and theta bound every customer's."""
    k = 16
    while special.betainc(k + 1, shape, theta) > TAIL:
        k *= 2
    low = k // 2
    while low < k:  # the first k below TAIL: bisection
        mid = (low + k) // 2
        if special.betainc(mid + 1, shape, theta) > TAIL:
            low = mid + 1
        else:
            k = mid
    return k


def _surviving(ahead: np.ndarray, top: float, k_max: int, a: float, b: float) -> np.ndarray:
    """g_k, k = 0 .. k_max: the expected purchases that count (made before a dropout) after k
    events of the uniformised chain; `ahead[j]`: the multiplier of the (j + 1)-th purchase
    to come, the last repeated."""
    n = np.arange(k_max + 1)
    move = ahead[np.minimum(n, ahead.size - 1)] / top
    # E[(1 - p)^(j - 1)] for p ~ Beta(a, b): prod over i < j - 1 of (b + i) / (a + b + i)
    with np.errstate(divide="ignore"):
        survive = np.exp(np.concatenate([[0.0], np.cumsum(np.log(b + n) - np.log(a + b + n))]))
    counted = np.concatenate([[0.0], np.cumsum(survive[:k_max])])  # Q(n) = sum_{j <= n}
    state = np.zeros(k_max + 1)
    state[0] = 1.0
    g = np.empty(k_max + 1)
    for k in range(k_max + 1):
        g[k] = state @ counted
        moved = state * move
        state = state - moved
        state[1:] += moved[:-1]
    return g
