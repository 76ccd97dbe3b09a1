"""The clock rules' compiled kernel (core/compiled.py): a day's (rule, customer) pairs
evaluated in one pass; its numpy twin is `ClockRules.day_edges` (clockrules.py), and both give
the same edges and values (tests/test_clock_rules.py)."""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel

__all__ = ["day_edges"]


@kernel(inline=True)
def _term(o, v, k, a):
    """One clock term: whether `v op k` holds (op 0 >=, 1 >, 2 <=, 3 <), and the first day it
    can change, from the clock's anchor `a` (`v` = today - a)."""
    if o == 0:
        hold = v >= k
    elif o == 1:
        hold = v > k
    elif o == 2:
        hold = v <= k
    else:
        hold = v < k
    t = a + k
    return hold, (np.floor(t) + 1.0 if o == 1 or o == 2 else np.ceil(t))


@kernel(inline=True)
def _rule_value(
    g, c, d, today, last_day, first_day, stage_since, term_start, term_clock, term_op, term_k
):
    """Rule `g`'s clock terms for customer `c` on day `d` (`today`, its float32): whether they
    all hold, and the first day after `d` any of them can change (inf: none)."""
    now = True
    wake = np.inf
    for j in range(term_start[g], term_start[g + 1]):
        cl = term_clock[j]
        if cl == 0:
            a, v = np.float64(last_day[c]), np.float64(today - last_day[c])
        elif cl == 1:
            a, v = np.float64(first_day[c]), np.float64(today - first_day[c])
        else:
            a = np.float64(stage_since[c])
            v = d - a
        hold, day = _term(term_op[j], v, term_k[j], a)
        now = now and hold
        if day > d and day < wake:
            wake = day
    return now, wake


@kernel(inline=True)
def _held(was, c, g):
    """Whether rule `g`'s bit in customer `c`'s row of the bit matrix `was` is set."""
    return (was[c, g >> 3] >> (g & 7)) & 1 == 1


@kernel(inline=True)
def _keep(was, c, g, now):
    """Set (or clear) rule `g`'s bit in customer `c`'s row of `was`."""
    bit = np.uint8(1 << (g & 7))
    if now:
        was[c, g >> 3] |= bit
    else:
        was[c, g >> 3] &= ~bit


@kernel
def day_edges(
    rows,
    woken,
    ends,
    found,
    d,
    active,
    stage,
    lut,
    was,
    seen,
    stamp,
    last_day,
    first_day,
    stage_since,
    term_start,
    term_clock,
    term_op,
    term_k,
    limit,
    horizon,
):  # pragma: no cover - compiled; the numpy twin is ClockRules.day_edges
    """`ClockRules.day_edges` in loops: today's `rows` (touched and newcomers) against every
    active rule (inside its stages: evaluated; outside: cleared, a byte at a time), a rule's
    terms by `_rule_value`;
    then the `woken` pairs (parts ending at `ends`, each found on day `found`) whose customer
    has not been a row since (`seen`, stamped with today for the rows when `stamp`): a pair
    re-evaluated as a row since has its fresh wake-up, and until that one comes its value
    cannot change, so a stale one is skipped (the numpy twin evaluates it: no edge, the same
    value). `was` holds yesterday's values as bits (rule g: bit g % 8 of byte g // 8 of the
    row). A customer's pairs are evaluated once a day, so no pair is pending twice and the
    wake-ups need no sort. Each evaluated pair's edge is found and its value kept. Returns the
    edge keys (g << 32 | customer, unsorted) and the wake-ups as keys sorted by day (a counting
    sort, stable), with the distinct days and where each one's keys start."""
    size = active.size
    width = was.shape[1]
    stages = lut.shape[0]
    # each stage's active rules inside it (ascending), and its bytes' masks that clear the
    # bits of the active rules outside it (their condition is false there)
    inside = np.empty((stages, size), dtype=np.int64)
    inside_count = np.zeros(stages, dtype=np.int64)
    clear = np.full((stages, width), 0xFF, dtype=np.uint8)
    for s in range(stages):
        for g in range(size):
            if not active[g]:
                continue
            if lut[s, g]:
                inside[s, inside_count[s]] = g
                inside_count[s] += 1
            else:
                clear[s, g >> 3] &= np.uint8(~(1 << (g & 7)) & 0xFF)
    total = woken.size
    for r in rows:
        total += inside_count[stage[r] + 1]
        if stamp:
            seen[r] = d
    keys = np.empty(total, dtype=np.int64)
    wake_key = np.empty(total, dtype=np.int64)
    wake_day = np.empty(total, dtype=np.int64)
    edges = 0
    wakes = 0
    today = np.float32(d)
    for r in rows:
        row = stage[r] + 1
        for b in range(width):
            was[r, b] &= clear[row, b]
        for i in range(inside_count[row]):
            g = inside[row, i]
            now, wake = _rule_value(
                g, r, d, today, last_day, first_day, stage_since,
                term_start, term_clock, term_op, term_k,
            )  # fmt: skip
            key = (g << 32) | r
            if now and not _held(was, r, g):
                keys[edges] = key
                edges += 1
            _keep(was, r, g, now)
            if wake <= limit[g]:
                wake_key[wakes] = key
                wake_day[wakes] = np.int64(wake)
                wakes += 1
    part = 0
    for i in range(woken.size):
        while i >= ends[part]:
            part += 1
        key = woken[i]
        g = key >> 32
        c = key & 0xFFFFFFFF
        if not active[g] or seen[c] > found[part]:
            continue
        inside = lut[stage[c] + 1, g]
        holds, wake = _rule_value(
            g, c, d, today, last_day, first_day, stage_since,
            term_start, term_clock, term_op, term_k,
        )  # fmt: skip
        now = inside and holds
        if now and not _held(was, c, g):
            keys[edges] = key
            edges += 1
        _keep(was, c, g, now)
        if inside and wake <= limit[g]:
            wake_key[wakes] = key
            wake_day[wakes] = np.int64(wake)
            wakes += 1
    # the wake-ups by day: a counting sort over the days after today
    count = np.zeros(horizon + 1, dtype=np.int64)
    for i in range(wakes):
        count[wake_day[i]] += 1
    days = 0
    for day in range(horizon + 1):
        if count[day]:
            days += 1
    day_of = np.empty(days, dtype=np.int64)
    day_start = np.empty(days, dtype=np.int64)
    at = 0
    j = 0
    for day in range(horizon + 1):
        c = count[day]
        if c:
            day_of[j] = day
            day_start[j] = at
            j += 1
        count[day] = at
        at += c
    sorted_keys = np.empty(wakes, dtype=np.int64)
    for i in range(wakes):
        day = wake_day[i]
        sorted_keys[count[day]] = wake_key[i]
        count[day] += 1
    return keys[:edges], sorted_keys, day_of, day_start
