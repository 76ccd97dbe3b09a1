"""Each rule firing's window in the purchases, every arm at once (rule_effects.py holds the
numpy path, which gives the same arrays): the firings ordered by arm, day and customer by a
counting sort, and each one's window found among its customer's purchases alone."""

from __future__ import annotations

import numpy as np

from ..core.compiled import kernel


@kernel(inline=True)
def window_of(key, i, end, low, high):
    """The keys of sorted `key[i:end]` in [`low`, `high`): their first index and the one
    after their last, walked from `i` (a firing's window among its customer's purchases)."""
    while i < end and key[i] < low:
        i += 1
    first = i
    while i < end and key[i] < high:
        i += 1
    return first, i


@kernel
def arm_windows(arm, customer, first, last, arms, days, windows, key, offsets, start):
    """The firings of the runs (`arm`, `customer`, `first`, `last`: one firing a day from
    `first` to `last`), ordered by arm, then day, then customer (`bounds[a]:bounds[a + 1]`:
    arm a's); each one's day and window in the purchases: `lo` (the first purchase after its
    day) and `hi` (the first after `windows[arm]` days more), numpy's searchsorted (left) of
    `(customer + start) * 1e6 + day + 1` and `+ window + 1` in `key` (the purchases' keys,
    sorted: `(customer + start) * 1e6 + time`); `offsets[c]`: customer c's first purchase."""
    runs = arm.size
    cells = arms * days
    count = np.zeros(cells + 1, dtype=np.int64)
    for r in range(runs):
        for d in range(first[r], last[r] + 1):
            count[arm[r] * days + d + 1] += 1
    for b in range(cells):
        count[b + 1] += count[b]
    bounds = np.empty(arms + 1, dtype=np.int64)
    for a in range(arms + 1):
        bounds[a] = count[a * days]
    firings = count[cells]
    who = np.empty(firings, dtype=np.int64)
    day = np.empty(firings, dtype=np.int32)
    at = count[:cells].copy()
    for r in range(runs):  # by arm and day, in the runs' order within one
        for d in range(first[r], last[r] + 1):
            b = arm[r] * days + d
            who[at[b]] = customer[r]
            day[at[b]] = d
            at[b] += 1
    for b in range(cells):  # then by customer within each arm and day
        lo, hi = count[b], count[b + 1]
        for i in range(lo + 1, hi):
            if who[i] < who[i - 1]:
                who[lo:hi] = who[lo:hi][np.argsort(who[lo:hi], kind="mergesort")]
                break
    lo = np.empty(firings, dtype=np.int64)
    hi = np.empty(firings, dtype=np.int64)
    for f in range(firings):  # each firing's customer's purchases, gathered first
        lo[f] = offsets[who[f]]
        hi[f] = offsets[who[f] + 1]
    for a in range(arms):
        window = windows[a]
        for f in range(bounds[a], bounds[a + 1]):
            base = np.float64(who[f] + start) * 1e6 + np.float64(day[f])
            low, high = base + 1.0, base + window + 1.0
            lo[f], hi[f] = window_of(key, lo[f], hi[f], low, high)
    return bounds, day, lo, hi


@kernel
def window_stretches(key, customer, first, last, window, lo, hi):
    """The windows of the firings of runs (`customer`, `first`, `last`: one firing a day from
    `first` to `last`; `lo`, `hi`: the bounds of each run's first day, window_bounds') as
    stretches of consecutive days of a run whose windows have the same bounds (window_bounds'
    for each day; `days`: how many). A rule that fires daily fires for weeks between two
    purchases of its customer: its bounds move only at those, so a run's days are walked
    with the two bounds moving on, not searched each."""
    total = 0
    for r in range(customer.size):
        total += last[r] - first[r] + 1
    lo_out = np.empty(total, dtype=np.int64)
    hi_out = np.empty(total, dtype=np.int64)
    days_out = np.empty(total, dtype=np.int64)
    s = 0
    n = key.size
    for r in range(customer.size):
        c = np.float64(customer[r]) * 1e6
        at_lo, at_hi, days = lo[r], hi[r], 1
        low, high = at_lo, at_hi
        for d in range(np.int64(first[r]) + 1, np.int64(last[r]) + 1):
            base = c + np.float64(d)
            needle = base + 1.0
            while low < n and key[low] < needle:
                low += 1
            needle = base + window + 1.0
            while high < n and key[high] < needle:
                high += 1
            if low == at_lo and high == at_hi:
                days += 1
            else:
                lo_out[s], hi_out[s], days_out[s] = at_lo, at_hi, days
                s += 1
                at_lo, at_hi, days = low, high, 1
        lo_out[s], hi_out[s], days_out[s] = at_lo, at_hi, days
        s += 1
    return lo_out[:s], hi_out[:s], days_out[:s]
