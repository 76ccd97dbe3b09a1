"""Purchases' per-customer loops as compiled kernels (buying.py holds the numpy twins).

Each replaces a run of numpy gathers, arithmetic and scatters over the day's buyers by one
pass; the random numbers come in as arguments (the streams' uniforms, and logarithms taken
by numpy), so the arithmetic is the same operations in the same order and gives the same
bits.
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel


@kernel
def update_buyers(
    ids, t, k, first, revenue, product, line_of, with_products, never, purchases, first_t,
    last_t, first_day, last_day, spent, last_product, owned, owned_lines, response_t,
    response_site,
):  # fmt: skip
    """The buyers' counts, times, days, spend and (with products) last product and what they
    own; the response they answered is used up (`Buying._update_buyers`)."""
    one = np.uint64(1)
    for i in range(ids.size):
        c = ids[i]
        purchases[c] = k[i] + 1
        if first[i]:
            first_t[c] = t[i]
        last_t[c] = t[i]
        first_day[c] = np.floor(first_t[c])
        last_day[c] = np.floor(t[i])
        spent[c] += revenue[i]
        if with_products:
            p = product[i]
            last_product[c] = p
            owned[c] |= one << np.uint64(p)
            line = line_of[p]
            if line >= 0:
                owned_lines[c] |= one << np.uint64(line)
        response_t[c] = never
        response_site[c] = -1


@kernel
def dropouts(
    ids, k, u, dropout, stage, stage_dropout, owned, value_mask, value_dropout, subscribed,
    lifetimes, lifetime_dropout, never, alive, next_t,
):  # fmt: skip
    """Who drops out after this purchase (from their second on: `u` under the probability
    their stage and what they own make), marked gone; returns (drops, their stage row)."""
    drops = np.zeros(ids.size, dtype=np.bool_)
    rows = np.empty(ids.size, dtype=np.int64)
    for i in range(ids.size):
        c = ids[i]
        row = stage[c] + 1
        rows[i] = row
        prob = dropout[c] * stage_dropout[row]
        if (owned[c] & value_mask) != 0:
            prob = prob * value_dropout
        if lifetimes and subscribed[c] != 0:
            prob = prob * lifetime_dropout
        if k[i] >= 2 and u[i] < prob:
            drops[i] = True
            alive[c] = False
            next_t[c] = never
    return drops, rows


@kernel
def next_times(ids, t, rows, wait, rate, stage_rate, after, members, repeat_rate, repeats):
    """t + wait / rate: the next purchase of each buyer who stays, `wait` an Exp(1) draw and
    the rate their own, their stage's, the purchases made and a membership give."""
    out = np.empty(ids.size)
    for i in range(ids.size):
        c = ids[i]
        r = rate[c] * stage_rate[rows[i]] * after[i]
        if repeats and members[c]:
            r = r * repeat_rate
        # numpy's division by zero: an infinite gap (none when the wait is zero too)
        zero = np.copysign(np.inf, r) if wait[i] > 0 else np.nan
        out[i] = t[i] + (wait[i] / r if r != 0.0 else zero)
    return out


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
