"""Purchases' per-customer loops as compiled kernels (buying.py holds the numpy twins).

Each replaces a run of numpy gathers, arithmetic and scatters over the day's buyers by one
pass; the random numbers come in as arguments (the streams' uniforms, and logarithms taken
by numpy), so the arithmetic is the same operations in the same order and gives the same
bits.
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel
from .prefetch import AHEAD, prefetch
from .streams_kernels import LEAD_PICK, LINE_PICK, SECOND_PICK, salted


@kernel
def due_today(
    ids, next_t, response_t, purchases, response_site, day, never, keep, times, k, site,
    responding,
):  # fmt: skip
    """Of `ids`, those with a purchase on day `day`, natural or answering a message, and its
    time (the earlier of the two): `Buying._purchases`; with, for each, what `Buying._buy`
    reads next: their purchases so far, whether they answer a send step (a pending
    response) and which (0 when not). Written to the first n places of `keep`, `times`, `k`,
    `site` and `responding`; returns n."""
    n = 0
    for i in range(ids.size):
        if i + AHEAD < ids.size:  # a later customer's rows, into the cache (prefetch.py)
            a = ids[i + AHEAD]
            prefetch(next_t, a)
            prefetch(response_t, a)
            prefetch(purchases, a)
            prefetch(response_site, a)
        c = ids[i]
        natural = next_t[c] if np.floor(next_t[c]) == day else never
        answer = response_t[c] if np.floor(response_t[c]) == day else never
        t = min(natural, answer)
        if t < never:
            keep[n] = c
            times[n] = t
            k[n] = purchases[c]
            s = response_site[c]
            answers = s >= 0 and np.isfinite(response_t[c])
            responding[n] = answers
            site[n] = s if answers else 0
            n += 1
    return n


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
        if i + AHEAD < ids.size:  # a later buyer's rows, into the cache (prefetch.py)
            a = ids[i + AHEAD]
            prefetch(dropout, a)
            prefetch(stage, a)
            prefetch(owned, a)
            prefetch(subscribed, a)
            prefetch(rate, a)
            prefetch(members, a)
            prefetch(alive, a)
            prefetch(next_t, a)
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


@kernel
def _rank(cumulative, x):
    """The index a draw `x` picks on a scale of running sums: how many of them lie below it
    (the last index at most). Every weighted pick of a purchase ends here."""
    picked = 0
    for j in range(cumulative.size):
        if x > cumulative[j]:
            picked += 1
    return min(picked, cumulative.size - 1)


@kernel
def _pick(w, u):
    """The index a uniform `u` picks by the weights `w`, and their total; `w` becomes its
    running sums (a scratch row): `choice._pick` for one purchase."""
    total = 0.0
    for j in range(w.size):
        total += w[j]
        w[j] = total
    return _rank(w, u * total), total


@kernel
def _line_pick(weights, line_of, line, u, w):
    """A product of `line` by the `weights` row within it (all of its products alike when
    none has weight): `Catalogue.choose_in_line` for one purchase (`w`: a scratch row)."""
    count = weights.size
    any_weight = False
    for j in range(count):
        if line_of[j] == line and weights[j] * 1.0 > 0.0:
            any_weight = True
    for j in range(count):
        inside = line_of[j] == line
        w[j] = (weights[j] * (1.0 if inside else 0.0)) if any_weight else (1.0 if inside else 0.0)
    return _pick(w, u)[0]


@kernel
def choose(
    ids, k, first, responding, site, skips, audience, owned, blocked_in, groups, cumulative,
    weights, line_of, leads, offer_product, offer_line, key, salt, offers_on, product, buys,
):  # fmt: skip
    """What each buyer buys and whether they buy at all, without seasons (`Choosing.
    _choose_products`, whose draws' counters these are): their audience's pick, a lead
    product on a first purchase, the offer's product or line when answering send step
    site[i], a second pick among what they can still buy when the offer's line or the
    natural pick is blocked. `blocked_in`: the products each cannot buy, as bits, when kept
    possessions are timed (empty: `groups`, the possessions' bits, block whatever is owned)."""
    count = cumulative.shape[1]
    one = np.uint64(1)
    scratch = np.empty(count)  # a row of weights, then their running sums
    for i in range(ids.size):
        if i + AHEAD < ids.size:  # a later buyer's rows, into the cache (prefetch.py)
            a = ids[i + AHEAD]
            prefetch(skips, a)
            prefetch(audience, a)
            prefetch(owned, a)
        c = ids[i]
        n = np.uint64(k[i]) + (np.uint64(skips[c]) << np.uint64(32))
        row = audience[c] + 1
        p = _rank(cumulative[row], salted(key, salt, c, n))
        if leads.size and first[i]:
            u = salted(key, salt, c, n + np.uint64(LEAD_PICK))
            p = leads[min(int(u * leads.size), leads.size - 1)]
        if blocked_in.size:
            blocked = blocked_in[i]
        else:
            blocked = np.uint64(0)
            for g in range(groups.size):
                if owned[c] & groups[g] != 0:
                    blocked |= groups[g]
        if not (offers_on and responding[i]):
            product[i] = p
            buys[i] = ((blocked >> np.uint64(p)) & one) == 0 or first[i]
            continue
        s = site[i]
        line = -1
        by_product = offer_product[s] >= 0
        if by_product:
            p = offer_product[s]
        elif offer_line[s] >= 0:
            line = offer_line[s]
            u = salted(key, salt, c, n + np.uint64(LINE_PICK))
            p = _line_pick(weights[row], line_of, line, u, scratch)
        ok = ((blocked >> np.uint64(p)) & one) == 0
        if not by_product and not ok:  # a second pick among what they can still buy
            u = salted(key, salt, c, n + np.uint64(SECOND_PICK))
            for j in range(count):
                w = weights[row, j] * (0.0 if (blocked >> np.uint64(j)) & one else 1.0)
                if line >= 0:
                    w = w * (1.0 if line_of[j] == line else 0.0)
                scratch[j] = w
            p, total = _pick(scratch, u)
            ok = total > 0
        product[i] = p
        buys[i] = ok


@kernel
def renewals(
    ids, subscribed, billing, alive, bit, day, key, salt, cancel_rate, period, kept, cancelled,
    days,
):  # fmt: skip
    """Day `day`'s billings of one lifetime product (its bit `bit`): of `ids`, those
    subscribed whose billing falls today; each cancels when dormant or by the CANCEL
    stream's uniform, or is billed and has the next billing `period` days on (`Buying.
    _renew`). Writes the billed to `kept` (their next billing's day in `days`) and those who
    cancelled to `cancelled`, in the order of `ids`; returns how many of each."""
    n_kept = n_cancelled = 0
    for i in range(ids.size):
        if i + AHEAD < ids.size:  # a later customer's rows, into the cache (prefetch.py)
            a = ids[i + AHEAD]
            prefetch(subscribed, a)
            prefetch(billing, a)
            prefetch(alive, a)
        c = ids[i]
        if subscribed[c] & bit == 0 or np.floor(billing[c]) != day:
            continue
        if not alive[c] or salted(key, salt, c, day) < cancel_rate:
            subscribed[c] &= ~bit
            cancelled[n_cancelled] = c
            n_cancelled += 1
        else:
            billing[c] += period
            kept[n_kept] = c
            days[n_kept] = np.floor(billing[c])
            n_kept += 1
    return n_kept, n_cancelled


@kernel
def restage(ids, table, purchases, stage, previous_stage, stage_since, day):
    """The buyers' stages after a purchase, by their purchase count's entry in `table`
    (stages.purchase_stage_table; the twin: `Stages._assign_stages`): each buyer's new
    stage, and the places of those who moved, whose previous stage, stage and day of the
    move are written."""
    new = np.empty(ids.size, dtype=np.int16)
    moved = np.empty(ids.size, dtype=np.int64)
    m = 0
    for i in range(ids.size):
        c = ids[i]
        to = table[purchases[c]]
        new[i] = to
        if to != stage[c]:
            previous_stage[c] = stage[c]
            stage[c] = to
            stage_since[c] = day
            moved[m] = i
            m += 1
    return new, moved[:m]
