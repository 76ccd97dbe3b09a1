"""Purchases' per-customer loops as compiled kernels (buying.py holds the numpy twins).

Each replaces a run of numpy gathers, arithmetic and scatters over the day's buyers by one
pass; the random numbers come in as arguments (the streams' uniforms, and logarithms taken
by numpy), so the arithmetic is the same operations in the same order and gives the same
bits.
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel
from .streams_kernels import salted


@kernel
def due_today(ids, next_t, response_t, day, never):
    """Of `ids`, those with a purchase on day `day`, natural or answering a message, and its
    time (the earlier of the two): `Buying._purchases`."""
    keep = np.empty(ids.size, dtype=np.int64)
    times = np.empty(ids.size)
    n = 0
    for i in range(ids.size):
        c = ids[i]
        natural = next_t[c] if np.floor(next_t[c]) == day else never
        answer = response_t[c] if np.floor(response_t[c]) == day else never
        t = min(natural, answer)
        if t < never:
            keep[n] = c
            times[n] = t
            n += 1
    return keep[:n], times[:n]


@kernel
def pick_products(cumulative, audience, u):
    """A product per purchase: how many of its audience's cumulative demand shares `u`
    passes (`Catalogue.choose`)."""
    count = cumulative.shape[1]
    out = np.empty(u.size, dtype=np.int16)
    for i in range(u.size):
        row = audience[i] + 1
        picked = 0
        for j in range(count):
            if u[i] > cumulative[row, j]:
                picked += 1
        out[i] = min(picked, count - 1)
    return out


@kernel
def next_purchases(
    ids, t, k, product, wait, follow_gap, key, salts, dropout, stage, stage_dropout,
    stage_rate, owned, value_mask, subscribed, rate, members, thresholds, multipliers,
    cycle, rates, flags, alive, next_t, drops, rows,
):  # fmt: skip
    """Who drops out after this purchase and, without seasons, when the others buy next
    (`Buying._dropout_and_next` without reactivation): the dropouts as `dropouts`, the next
    time as `next_times`, or, after a product with a cycle the buyer follows, the cycle's
    Gamma wait at their stage's pace. The k-th purchase made (k[i] counts it); `wait`: the
    Exp(1) draws -log(u) of the GAP stream and `follow_gap` the Gamma(cycle shape) quantiles
    of the CYCLE_GAP stream, of every buyer (numpy's log and power); salts: the DROPOUT and
    CYCLE purposes'; rates: value dropout, lifetime dropout, repeat rate, cycle follow,
    cycle shape, never; flags: subscriptions, repeats, cycles, seasons (none: only the
    dropouts). Fills `drops` and `rows` (each buyer's stage row); returns the buyers who
    stay and have a next purchase, and its day (to file on the calendar)."""
    value_dropout, lifetime_dropout, repeat_rate = rates[0], rates[1], rates[2]
    cycle_follow, cycle_shape, never = rates[3], rates[4], rates[5]
    lifetimes, repeats, cycles, seasons = flags[0], flags[1], flags[2], flags[3]
    drop_salt, cycle_salt = salts[0], salts[1]
    keep = np.empty(ids.size, dtype=np.int64)
    days = np.empty(ids.size)
    n = 0
    for i in range(ids.size):
        c = ids[i]
        row = stage[c] + 1
        rows[i] = row
        prob = dropout[c] * stage_dropout[row]
        if (owned[c] & value_mask) != 0:
            prob = prob * value_dropout
        if lifetimes and subscribed[c] != 0:
            prob = prob * lifetime_dropout
        drops[i] = k[i] >= 2 and salted(key, drop_salt, c, np.uint64(k[i])) < prob
        if drops[i]:
            alive[c] = False
            next_t[c] = never
            continue
        if seasons:
            continue
        after = 1.0
        for j in range(thresholds.size):
            if k[i] >= thresholds[j]:
                after = multipliers[j]
        r = rate[c] * stage_rate[row] * after
        if repeats and members[c]:
            r = r * repeat_rate
        # numpy's division by zero: an infinite gap (none when the wait is zero too)
        zero = np.copysign(np.inf, r) if wait[i] > 0 else np.nan
        nxt = t[i] + (wait[i] / r if r != 0.0 else zero)
        p = product[i]
        follows = cycles and p >= 0 and np.isfinite(cycle[p])
        if follows and salted(key, cycle_salt, c, np.uint64(k[i])) < cycle_follow:
            pace = max(stage_rate[row], 1e-9)
            nxt = t[i] + follow_gap[i] * (cycle[p] / cycle_shape) / pace
        next_t[c] = nxt
        if np.isfinite(nxt):
            keep[n] = c
            days[n] = np.floor(nxt)
            n += 1
    return keep[:n], days[:n]
