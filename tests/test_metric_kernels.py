"""The metrics' compiled kernels (simulation/ordering_kernels.py) against plain numpy and
Python on random inputs: the same orders, counts, checks and bounds, the same float sums to
the byte. (tests/test_compiled_kernels.py compares every spec's output files both ways.)"""

from __future__ import annotations

import numpy as np
import pytest

from clmlang.simulation.economics import ADD_ON, MAIN, RENEWAL, _check_ids
from clmlang.simulation.ordering import by_customer, distinct_per_key
from clmlang.simulation.ordering_kernels import (
    _left,
    check_ids,
    customer_windows,
    group_sums,
    window_bounds,
)
from clmlang.simulation.rule_effects import _bounds, _by_arm

SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_counting_sort_is_the_stable_argsort(seed):
    rng = np.random.default_rng(seed)
    customer = rng.integers(0, 50, size=int(rng.integers(1, 2000))).astype(np.int32)
    time = np.sort(rng.uniform(0, 365, customer.size))  # logged in time order
    expected = sorted(range(customer.size), key=lambda i: (customer[i], i))
    assert by_customer(customer, compiled=True).tolist() == expected
    assert np.array_equal(by_customer(customer, time, True), by_customer(customer, time))
    shuffled = rng.permutation(time)  # a log out of time order falls back to both keys
    assert np.array_equal(by_customer(customer, shuffled, True), np.lexsort((shuffled, customer)))


@pytest.mark.parametrize("seed", SEEDS)
def test_distinct_groups_per_key_in_one_pass(seed):
    rng = np.random.default_rng(seed)
    n, size = int(rng.integers(1, 3000)), int(rng.integers(1, 40))
    group = np.sort(rng.integers(0, 300, n))  # each group's rows together
    key = rng.integers(0, size, n).astype(np.int32)
    expected = [len({g for g, k in zip(group, key, strict=True) if k == j}) for j in range(size)]
    assert distinct_per_key(key, group, size, compiled=True).tolist() == expected
    assert distinct_per_key(key, group, size).tolist() == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_group_sums_add_in_row_order_as_bincount_does(seed):
    rng = np.random.default_rng(seed)
    n, size = int(rng.integers(1, 5000)), int(rng.integers(1, 30))
    key = rng.integers(0, size, n).astype(np.int32)
    kind = rng.integers(0, 4, n).astype(np.int8)
    revenue, cost, reward, offer = (rng.lognormal(3, 1.5, n) for _ in range(4))
    money, counts = group_sums(key, kind, revenue, cost, reward, offer, size, 2, 0)
    gross = revenue - cost - reward
    for row, amount in enumerate((revenue, gross, offer)):
        total = np.zeros(size)
        for i in range(n):  # one row at a time, in order: the same roundings
            total[key[i]] += amount[i]
        assert money[row].tobytes() == total.tobytes()
        assert money[row].tobytes() == np.bincount(key, amount, minlength=size).tobytes()
    assert counts[0].tolist() == np.bincount(key[kind != 2], minlength=size).tolist()
    assert counts[1].tolist() == np.bincount(key[kind == 2], minlength=size).tolist()
    assert counts[2].tolist() == np.bincount(key[kind == 0], minlength=size).tolist()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ordered", [True, False])
def test_window_bounds_are_numpys_searchsorted(seed, ordered):
    """Firings by customer then day (the walk), or in any order (bisection): the first
    purchase after the firing's day and the first after its window."""
    rng = np.random.default_rng(seed)
    customers = int(rng.integers(1, 200))
    buyer = rng.integers(0, customers, int(rng.integers(0, 3000)))
    key = np.sort(buyer * 1e6 + np.floor(rng.uniform(0, 400, buyer.size)) + 0.5)
    customer = rng.integers(0, customers, int(rng.integers(1, 500))).astype(np.int32)
    day = rng.integers(0, 400, customer.size).astype(np.int32)
    if ordered:
        order = np.lexsort((day, customer))
        customer, day = customer[order], day[order]
    window = float(rng.choice([1.0, 30.0, 90.5]))
    lo, hi = window_bounds(key, customer, day, window)
    c, d = customer.astype(np.float64), day.astype(np.float64)
    assert lo.tolist() == np.searchsorted(key, c * 1e6 + d + 1).tolist()
    assert hi.tolist() == np.searchsorted(key, c * 1e6 + d + window + 1).tolist()
    firings = {"customer": customer, "day": day}
    assert [a.tolist() for a in _bounds(firings, key, window, True)] == [lo.tolist(), hi.tolist()]


@pytest.mark.parametrize("seed", SEEDS)
def test_windows_among_each_customers_purchases_are_numpys_searchsorted(seed):
    """A block's customers (ids from `start`), firings in any order: each firing's window
    searched among its customer's purchases alone is numpy's search over all of them."""
    rng = np.random.default_rng(seed)
    customers, start = int(rng.integers(1, 200)), int(rng.choice([0, 1000, 250_000]))
    buyer = np.sort(rng.integers(0, customers, int(rng.integers(0, 3000))))
    time = np.floor(rng.uniform(0, 400, buyer.size)) + rng.choice([0.0, 0.5], buyer.size)
    order = np.lexsort((time, buyer))
    key = (buyer[order] + float(start)) * 1e6 + time[order]
    offsets = np.r_[0, np.cumsum(np.bincount(buyer, minlength=customers))]
    customer = (rng.integers(0, customers, int(rng.integers(1, 500))) + start).astype(np.int32)
    day = rng.integers(0, 400, customer.size).astype(np.int32)
    window = float(rng.choice([1.0, 30.0, 90.5]))
    lo, hi = customer_windows(key, offsets, customer, day, window, start)
    c, d = customer.astype(np.float64), day.astype(np.float64)
    assert lo.tolist() == np.searchsorted(key, c * 1e6 + d + 1).tolist()
    assert hi.tolist() == np.searchsorted(key, c * 1e6 + d + window + 1).tolist()
    firings = {"customer": customer, "day": day}
    got = _bounds(firings, key, window, True, offsets, start)
    assert [a.tolist() for a in got] == [lo.tolist(), hi.tolist()]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_bisection_is_numpys_searchsorted_left(seed):
    """Between any two bounds, NaN included (numpy sorts it after every number)."""
    rng = np.random.default_rng(seed)
    key = np.sort(np.r_[rng.integers(0, 30, int(rng.integers(0, 60))) * 0.5, [np.nan] * 3])
    for needle in [*rng.integers(-2, 34, 20) * 0.5, np.nan, np.inf, -np.inf]:
        lo = int(rng.integers(0, key.size + 1))
        hi = int(rng.integers(lo, key.size + 1))
        assert _left(key, lo, hi, needle) == lo + np.searchsorted(key[lo:hi], needle)


def _firing_runs(rng, arms, customers, days):
    """Runs of days an arm fired for a customer, in the order the engine closes them (by
    last day): an arm's runs of one customer follow each other in time."""
    rows = []
    for a in range(arms):
        for c in range(customers):
            day = int(rng.integers(0, 20))
            while day < days and rng.random() < 0.7:
                last = min(day + int(rng.integers(0, 5)), days - 1)
                rows.append((last, a, c, day))
                day = last + 2 + int(rng.integers(0, 10))
    rows.sort(key=lambda row: row[0])  # closed day by day, in no order within a day
    last, arm, customer, first = (
        [row[i] for row in rows] for i in range(4)
    )  # fmt: skip
    return {
        "arm": np.array(arm, dtype=np.int16),
        "customer": np.array(customer, dtype=np.int32),
        "first": np.array(first, dtype=np.uint16),
        "last": np.array(last, dtype=np.uint16),
    }


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shuffled", [False, True])
def test_runs_by_arm_are_sorted_by_customer_then_day(seed, shuffled):
    """Each arm's runs by customer, then first day, in the runs' order between equals: two
    counting sorts when a customer's runs of an arm follow each other in time, else (runs
    shuffled) numpy's sorts; both as plain Python sorts them."""
    rng = np.random.default_rng(seed)
    arms = int(rng.integers(1, 5))
    runs = _firing_runs(rng, arms, int(rng.integers(1, 40)), 120)
    if shuffled:
        runs = {k: v[rng.permutation(v.size)] for k, v in runs.items()}
    rows = list(zip(*(runs[k].tolist() for k in ("arm", "customer", "first", "last")), strict=True))
    for compiled in (True, False):
        got = list(_by_arm(runs, arms, compiled))
        assert len(got) == arms
        for a, mine in enumerate(got):
            expected = sorted((r for r in rows if r[0] == a), key=lambda r: (r[1], r[2]))
            assert list(zip(*(mine[k].tolist() for k in runs), strict=True)) == expected
            assert all(mine[k].dtype == runs[k].dtype for k in runs)


@pytest.mark.parametrize("seed", SEEDS)
def test_check_ids_walk_gives_numpys_checks(seed):
    """Items logged day by day (a check: its main item, then its add-ons; renewals between):
    the walk gives each item numpy's check and says the order held; an add-on without a main
    item of its customer and time says it did not (numpy's other order is then taken)."""
    rng = np.random.default_rng(seed)
    customer, time, kind = [], [], []
    for day in range(40):
        for c in rng.choice(30, size=int(rng.integers(0, 8)), replace=False):
            t = day + rng.random()
            kinds = [MAIN] + [ADD_ON] * int(rng.integers(0, 3))
            kinds += [RENEWAL] * int(rng.random() < 0.2)
            customer += [c] * len(kinds)
            time += [t] * len(kinds)
            kind += kinds
    customer, time = np.array(customer, np.int32), np.array(time)
    kind = np.array(kind, np.int8)
    order = by_customer(customer)
    check, held = check_ids(customer, time, kind, order, MAIN, ADD_ON)
    expected, together = _check_ids(customer, time, kind, order)
    assert held and together and check.tolist() == expected.tolist()
    mains = np.flatnonzero(kind == MAIN)
    assert (check[mains] == mains).all()
    if (kind == ADD_ON).any():
        orphan = np.flatnonzero(kind == ADD_ON)[0]
        kind[check[orphan]] = RENEWAL  # its main item is gone
        assert not check_ids(customer, time, kind, order, MAIN, ADD_ON)[1]
