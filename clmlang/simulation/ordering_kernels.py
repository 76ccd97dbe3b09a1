"""The metrics' orders and distinct counts as compiled kernels (ordering.py holds the numpy
twins, which give the same arrays): one pass each where numpy sorts."""

from __future__ import annotations

import numpy as np

from ..core.compiled import kernel
from .window_kernels import window_of


@kernel
def customer_order(customer, customers):
    """The rows' order by customer (0..customers-1), equal customers in row order: a counting
    sort, the stable argsort's result."""
    starts = np.zeros(customers + 1, dtype=np.int64)
    for i in range(customer.size):
        starts[customer[i] + 1] += 1
    for c in range(customers):
        starts[c + 1] += starts[c]
    order = np.empty(customer.size, dtype=np.int64)
    for i in range(customer.size):
        c = customer[i]
        order[starts[c]] = i
        starts[c] += 1
    return order


@kernel
def runs_by_arm(arm, customer, first, arms, customers, order, scratch):
    """Rule firing runs ordered by arm, customer and first day, into `order` (`scratch`: a
    work array of its size and type): a counting sort by customer, then a stable one by arm,
    the order numpy's stable argsort by arm then a lexsort of each arm's runs by (customer,
    first day) gives when an arm's runs of one customer already follow each other in time
    (the engine closes a customer's runs of an arm one after the other). Returns each arm's
    bounds in `order` and whether that held (else the caller sorts)."""
    counts = np.zeros(max(customers, arms) + 1, dtype=np.int64)
    for i in range(customer.size):
        counts[customer[i] + 1] += 1
    for c in range(customers):
        counts[c + 1] += counts[c]
    for i in range(customer.size):
        c = customer[i]
        scratch[counts[c]] = i
        counts[c] += 1
    bounds = np.zeros(arms + 1, dtype=np.int64)
    for i in range(arm.size):
        bounds[arm[i] + 1] += 1
    for a in range(arms):
        bounds[a + 1] += bounds[a]
    at = bounds[:arms].copy()
    for j in range(scratch.size):
        i = scratch[j]
        a = arm[i]
        order[at[a]] = i
        at[a] += 1
    held = True
    for j in range(1, order.size):
        i, p = order[j], order[j - 1]
        if arm[i] == arm[p] and customer[i] == customer[p] and first[i] < first[p]:
            held = False
            break
    return bounds, held


@kernel
def distinct_in_groups(key, group, size):
    """How many distinct groups each key (0..size-1) has, the rows' groups nondecreasing (each
    group's rows together): a key counts a group the first time it meets it."""
    out = np.zeros(size, dtype=np.int64)
    last = np.full(size, -1, dtype=np.int64)
    for i in range(key.size):
        count_first(last, out, key[i], group[i])
    return out


@kernel
def count_first(last, counts, k, group):
    """Key `k` counts `group` the first time it meets it (`last`: the key's last group met;
    a group's rows come together)."""
    if last[k] != group:
        last[k] = group
        counts[k] += 1


@kernel
def group_sums(key, kind, revenue, cost_of_goods, reward, offer_cost, size, renewal, main):
    """Per key (0..size-1), over the rows in their order (the float sums numpy's weighted
    bincount makes): revenue, gross profit, offer cost, items (not renewals), renewals and
    main items."""
    money = np.zeros((3, size))
    counts = np.zeros((3, size), dtype=np.int64)
    for i in range(key.size):
        gross = revenue[i] - cost_of_goods[i] - reward[i]
        add_row(money, counts, key[i], revenue[i], gross, offer_cost[i], kind[i], renewal, main)
    return money, counts


@kernel
def add_row(money, counts, k, revenue, gross, offer_cost, kind, renewal, main):
    """One item row added to key `k`'s sums: revenue, gross profit, offer cost, then items
    (not renewals), renewals and main items."""
    money[0, k] += revenue
    money[1, k] += gross
    money[2, k] += offer_cost
    if kind == renewal:
        counts[1, k] += 1
    else:
        counts[0, k] += 1
    if kind == main:
        counts[2, k] += 1


@kernel
def _left(key, lo, hi, needle):
    """`lo + np.searchsorted(key[lo:hi], needle)` (left) without the call: a bisection with
    numpy's order of floats (NaN after every number)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        value = key[mid]
        if value < needle or (needle != needle and value == value):
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def window_bounds(key, customer, day, window):
    """Each firing's window in the purchases (`key`: customer * 1e6 + time, ascending): the
    first purchase in it (`lo`) and the first after it (`hi`), numpy's searchsorted (left) of
    `customer * 1e6 + day + 1` and `customer * 1e6 + day + window + 1`. While the firings'
    bounds ascend, each search walks on from the last one's answer (one pass over both);
    otherwise it bisects."""
    n = customer.size
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    at_lo = 0
    at_hi = 0
    last_lo = -np.inf
    last_hi = -np.inf
    for i in range(n):
        base = np.float64(customer[i]) * 1e6 + np.float64(day[i])
        for side in range(2):
            needle = base + 1.0 if side == 0 else base + window + 1.0
            at = at_lo if side == 0 else at_hi
            last = last_lo if side == 0 else last_hi
            if needle < last:
                at = np.searchsorted(key[:at], needle)  # (left): an earlier bound
            else:
                step = 1  # gallop from the last answer, then bisect the last step
                while at + step <= key.size and key[at + step - 1] < needle:
                    step *= 2
                top = min(at + step, key.size)
                at = _left(key, at, top, needle)
            if side == 0:
                lo[i], at_lo, last_lo = at, at, needle
            else:
                hi[i], at_hi, last_hi = at, at, needle
    return lo, hi


@kernel
def customer_windows(key, offsets, customer, day, window, start):
    """`window_bounds`' bounds found among each firing's customer's purchases alone:
    `offsets[c]` is block customer c's first purchase in `key` (`(c + start) * 1e6 + time`,
    ascending), and `customer` the firings' customers (`start` added). A customer's keys lie
    between the ones before and after it, so the search within them gives numpy's
    searchsorted over all of `key` (what `arm_windows` does for the exact samples)."""
    n = customer.size
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    for f in range(n):
        c = customer[f] - start
        base = np.float64(customer[f]) * 1e6 + np.float64(day[f])
        low, high = base + 1.0, base + window + 1.0
        lo[f], hi[f] = window_of(key, offsets[c], offsets[c + 1], low, high)
    return lo, hi


@kernel
def check_ids(customer, time, kind, order, main, add_on):
    """Each item's check (the index of its check's main item; -1 for renewals and costs),
    walking the items in `order` (by customer, log order within one), where a check's
    add-ons follow its main item; and whether that order held: each add-on after a main item
    of its customer and time, each customer's main items at increasing times (when not, the
    caller orders the items by customer, time and kind instead)."""
    out = np.full(kind.size, -1, dtype=np.int64)
    held = True
    latest = -1
    for j in range(order.size):
        i = order[j]
        if kind[i] == main:
            if latest >= 0 and customer[latest] == customer[i] and not time[i] > time[latest]:
                held = False
            latest = i
            out[i] = i
        elif kind[i] == add_on:
            if latest < 0 or customer[latest] != customer[i] or time[latest] != time[i]:
                held = False
            out[i] = latest
    return out, held
