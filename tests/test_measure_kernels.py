"""The measure's one-pass kernels (simulation/product_kernels.py, purchase_kernels.py) against
plain Python and the numpy path on random logs: the same counts, the same float sums to the
byte. (tests/test_compiled_kernels.py compares every spec's output files both ways.)"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from clmlang.simulation.cohorts import MONTH, cohort_counts
from clmlang.simulation.economics import ADD_ON, MAIN, RENEWAL
from clmlang.simulation.ordering import by_customer, gathered_by_customer
from clmlang.simulation.ordering_kernels import window_bounds
from clmlang.simulation.partials import ACTIVE_DAYS, _active, history
from clmlang.simulation.product_kernels import item_sums
from clmlang.simulation.purchase_kernels import purchase_pass
from clmlang.simulation.stage_goals import dense_goal_counts, goal_bounds, goal_counts, goal_windows
from clmlang.simulation.window_kernels import arm_windows, window_stretches

SEEDS = range(4)


def _items(rng, days, customers):
    """Items logged day by day: a check is its main item, then its add-ons; renewals too."""
    rows = []
    for day in range(days):
        for c in rng.choice(customers, size=int(rng.integers(0, 6)), replace=False):
            t = day + rng.random()
            kinds = [MAIN] + [ADD_ON] * int(rng.integers(0, 3)) + [RENEWAL] * (rng.random() < 0.2)
            for k in kinds:
                product = int(rng.integers(-1, 5)) if k == RENEWAL else int(rng.integers(0, 5))
                rows.append((c, t, product, k, *rng.lognormal(2, 1, 4)))
    cols = list(zip(*rows, strict=True))
    types = (np.int32, np.float64, np.int16, np.int8, *[np.float64] * 4)
    return [np.array(c, dtype=t) for c, t in zip(cols, types, strict=True)]


@pytest.mark.parametrize("seed", SEEDS)
def test_item_sums_count_and_add_as_plain_python(seed):
    rng = np.random.default_rng(seed)
    days, months = 100, math.ceil(100 / MONTH)
    customer, time, product, kind, revenue, cogs, reward, offer = _items(rng, days, 25)
    codes = np.array([[0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 0, 0]])
    groups = np.array([6, 3, 1])
    order = by_customer(customer)
    money, counted, cust, whole_cust, purch, whole_purch, checks, paid = item_sums(
        customer, time, product, kind, revenue, cogs, reward, offer, order, codes, groups,
        months, MONTH, MAIN, ADD_ON, RENEWAL,
    )  # fmt: skip
    offsets = np.r_[0, np.cumsum(groups * months)]
    check, latest = [], -1
    for i in range(kind.size):  # the logged order: a check's add-ons follow its main item
        latest = i if kind[i] == MAIN else latest
        check.append(latest if kind[i] != RENEWAL else -1)
    for level, g in enumerate(groups):
        total = np.zeros((3, months * g))
        n = np.zeros((3, months * g), dtype=np.int64)
        who, which = [set() for _ in range(months * g)], [set() for _ in range(months * g)]
        whole_who, whole_which = [set() for _ in range(g)], [set() for _ in range(g)]
        for i in range(kind.size):
            m = min(max(math.floor(math.floor(time[i]) / MONTH), 0), months - 1)
            code = codes[level, product[i] if product[i] >= 0 else 5]
            k = m * g + code
            total[0, k] += revenue[i]
            total[1, k] += revenue[i] - cogs[i] - reward[i]
            total[2, k] += offer[i]
            n[0 if kind[i] != RENEWAL else 1, k] += 1
            n[2, k] += kind[i] == MAIN
            who[k].add(customer[i])
            whole_who[code].add(customer[i])
            if kind[i] != RENEWAL:
                which[k].add(check[i])
                whole_which[code].add(check[i])
        mine = slice(offsets[level], offsets[level + 1])
        assert money[:, mine].tobytes() == total.tobytes()
        assert counted[:, mine].tolist() == n.tolist()
        assert cust[mine].tolist() == [len(s) for s in who]
        assert purch[mine].tolist() == [len(s) for s in which]
        whole = slice(groups[:level].sum(), groups[: level + 1].sum())
        assert whole_cust[whole].tolist() == [len(s) for s in whole_who]
        assert whole_purch[whole].tolist() == [len(s) for s in whole_which]
    with_add_on = len({check[i] for i in range(kind.size) if kind[i] == ADD_ON})
    expected = [int((kind == MAIN).sum()), int((kind == ADD_ON).sum()), with_add_on]
    assert checks.tolist() == expected
    assert paid.tobytes() == np.bincount(customer, revenue)[np.bincount(customer) > 0].tobytes()


@pytest.mark.parametrize("seed", SEEDS)
def test_purchase_pass_is_the_numpy_path(seed):
    """Purchases by customer then time: the numbers, histories, cohorts, active customers and
    goal windows of partials.py, cohorts.py and stage_goals.py's numpy code."""
    rng = np.random.default_rng(seed)
    n, days = 60, int(rng.integers(40, 200))
    cust = np.sort(rng.integers(0, n, int(rng.integers(0, 800)))).astype(np.int32)
    time = np.concatenate(
        [np.sort(rng.uniform(0, days, (cust == c).sum())) for c in range(n)]
    ).astype(np.float64)
    stage = rng.integers(-1, 3, cust.size).astype(np.int16)
    prior = np.zeros(n, dtype=np.int32)
    stages = [
        SimpleNamespace(goal_return_days=30.0, goal_return_min_days=10.0),
        SimpleNamespace(goal_return_days=None, goal_return_min_days=None),
        SimpleNamespace(goal_return_days=60.0, goal_return_min_days=None),
    ]
    policy = SimpleNamespace(stages=stages)
    low, high = goal_bounds(policy)
    number, first, last, count, payers, table, sizes, active, goals = purchase_pass(
        cust, time, stage, prior, n, days, MONTH, ACTIVE_DAYS, low, high
    )
    state = SimpleNamespace(
        n=n, prior_purchases=prior, first_t=np.zeros(n), prior_last_t=np.zeros(n)
    )
    run = SimpleNamespace(days=days, state=state)
    e_first, e_last, e_count = history(run, cust, time)
    assert first.tobytes() == e_first.tobytes() and last.tobytes() == e_last.tobytes()
    assert count.tolist() == e_count.tolist()
    assert payers == len(set(cust.tolist()))
    expected_number = []
    for i in range(cust.size):
        expected_number.append(min(int((cust[:i] == cust[i]).sum()) + 1, 3))
    assert number.tolist() == expected_number
    cohorts = cohort_counts(run, cust, time)
    assert table.tolist() == cohorts["table"].tolist()
    assert sizes.tolist() == cohorts["sizes"].tolist()
    assert active.tolist() == _active(cust, time, days).tolist()
    expected = goal_counts(goal_windows(policy, days, cust, time, stage))
    got = dense_goal_counts(goals)
    for key in ("stage", "month", "counts"):
        assert got[key].tolist() == expected[key].tolist()


@pytest.mark.parametrize("seed", SEEDS)
def test_arm_windows_are_numpys_searchsorted_by_arm_day_and_customer(seed):
    """Runs of firings (some over several days, customers out of order within a day): one
    firing per day of each, ordered by arm, day and customer, each with numpy's searchsorted
    bounds of its window in the purchases' keys."""
    rng = np.random.default_rng(seed)
    customers, days, arms, start = 80, 50, 3, int(rng.integers(0, 1000))
    cust = np.sort(rng.integers(0, customers, 600))
    time = np.concatenate(
        [np.sort(rng.uniform(0, days, (cust == c).sum())) for c in range(customers)]
    )
    time[::7] = np.floor(time[::7]) + 1.0  # purchases on a window's edge
    time = time[np.lexsort((time, cust))]  # (cust is sorted: each customer's times sorted)
    key = (cust.astype(np.float64) + start) * 1e6 + time
    offsets = np.r_[0, np.cumsum(np.bincount(cust, minlength=customers))]
    runs = int(rng.integers(1, 300))
    first = rng.integers(0, days, runs).astype(np.int32)
    last = np.minimum(first + rng.integers(0, 4, runs) * (rng.random(runs) < 0.3), days - 1)
    arm = rng.integers(0, arms, runs).astype(np.int32)
    who = rng.integers(0, customers, runs).astype(np.int32)
    windows = np.array([30.0, 1.0, 7.5])
    bounds, day, lo, hi = arm_windows(
        arm, who, first, last.astype(np.int32), arms, days, windows, key, offsets, start
    )
    rows = sorted(
        (a, d, c) for a, c, f, e in zip(arm, who, first, last, strict=True) for d in range(f, e + 1)
    )
    assert bounds.tolist() == [sum(r[0] < a for r in rows) for a in range(arms + 1)]
    assert day.tolist() == [d for _, d, _ in rows]
    base = np.array([(c + start) * 1e6 + d for _, d, c in rows])
    window = windows[[a for a, _, _ in rows]]
    assert lo.tolist() == np.searchsorted(key, base + 1).tolist()
    assert hi.tolist() == np.searchsorted(key, base + window + 1).tolist()


@pytest.mark.parametrize("compiled", [True, False])
def test_columns_gathered_by_customer_then_time(compiled):
    """Each column in (customer, time) order, for a log in time order and one out of it."""
    rng = np.random.default_rng(5)
    customer = rng.integers(0, 40, 500).astype(np.int32)
    for time in (np.sort(rng.uniform(0, 90, 500)), rng.uniform(0, 90, 500)):
        revenue = rng.lognormal(2, 1, 500)
        columns = {"customer": customer, "time": time, "revenue": revenue}
        got = gathered_by_customer(columns, ("time", "revenue"), compiled)
        rows = sorted(zip(customer.tolist(), time.tolist(), revenue.tolist(), strict=True))
        assert got["time"].tolist() == [t for _, t, _ in rows]
        assert got["revenue"].tolist() == [r for _, _, r in rows]


@pytest.mark.parametrize("seed", SEEDS)
def test_window_stretches_spell_out_to_numpys_searchsorted(seed):
    """Runs of up to 60 days (a daily rule's): their stretches, spelled out day by day, give
    each day's bounds of numpy's searchsorted; two stretches in a row of one run differ."""
    rng = np.random.default_rng(seed)
    customers, days = 40, 120
    cust = np.sort(rng.integers(0, customers, 300)).astype(np.int32)
    time = rng.uniform(0, days, cust.size)
    time[::5] = np.floor(time[::5]) + 1.0  # purchases on a window's edge
    time = time[np.lexsort((time, cust))]
    cust = np.sort(cust)
    key = cust.astype(np.float64) * 1e6 + time
    runs = int(rng.integers(1, 80))
    who = rng.integers(0, customers + 2, runs).astype(np.int32)  # some who never bought
    first = rng.integers(0, days, runs).astype(np.uint16)
    last = np.minimum(first + rng.integers(0, 60, runs), days - 1).astype(np.uint16)
    if seed % 2:  # in the order the measure gives them (by customer, then day): walked on
        in_order = np.lexsort((first, who))
        who, first, last = who[in_order], first[in_order], last[in_order]
    window = float(rng.choice([1.0, 7.5, 30.0]))
    starts = window_bounds(key, who, first, window)  # each run's first day's
    lo, hi, length = window_stretches(key, who, first, last, window, *starts)
    assert length.sum() == int((last.astype(int) - first + 1).sum()) and (length > 0).all()
    spelled = [(c, d) for c, f, e in zip(who, first, last, strict=True) for d in range(f, e + 1)]
    base = np.array([c * 1e6 + d for c, d in spelled])
    assert np.repeat(lo, length).tolist() == np.searchsorted(key, base + 1).tolist()
    assert np.repeat(hi, length).tolist() == np.searchsorted(key, base + window + 1).tolist()
    run_of = np.repeat(np.arange(runs), last.astype(int) - first + 1)
    stretch_run = run_of[np.cumsum(length) - 1]
    same = (stretch_run[1:] == stretch_run[:-1]) & (lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1])
    assert not same.any()


@pytest.mark.parametrize("spec", ["clinic", "clinic_promotions"])
def test_counted_rule_windows_are_the_same_compiled_or_not(monkeypatch, spec):
    """A rule's firings counted (as for a daily rule over millions of customer-days): the
    windows walked by the kernel (one firing at a time, or a daily rule's runs a stretch of
    days with the same window at a time) give numpy's rules.csv, to the byte."""
    import clmlang
    from clmlang.core import compiled
    from clmlang.market.model import Market
    from clmlang.simulation import rule_effects
    from clmlang.simulation.engine.simulation import simulate_policy
    from clmlang.simulation.metrics import forecast

    from .conftest import ROOT

    policy = clmlang.load(ROOT / "specs" / f"{spec}.clm")
    run = simulate_policy(policy, Market(), customers=3000, days=200, rng=np.random.default_rng(4))
    monkeypatch.setattr(rule_effects, "EXACT_PER_CUSTOMER", 0)
    monkeypatch.setattr(rule_effects, "EXACT_AT_LEAST", 0)
    monkeypatch.setattr(rule_effects, "CHUNK", 1000)  # several chunks
    tables = {}
    for switch in ("1", "0"):
        monkeypatch.setenv(compiled.SWITCH, switch)
        tables[switch] = forecast(run).files()["rules.csv"]
    assert tables["1"] == tables["0"]
    # a header and a row per arm: the clinic's rules have several, clinic_promotions' one
    assert len(tables["0"].splitlines()) > (2 if spec == "clinic" else 1)


def test_counted_bootstrap_looks_draws_up_as_the_search_finds_them(monkeypatch):
    """The counted bootstrap's draws read from the values spelled out, or found by a binary
    search over the counts: the same interval, to the bit, for the same seed."""
    from clmlang.core import statistics

    rng = np.random.default_rng(8)
    a, b = np.r_[0.0, rng.lognormal(3, 1, 40)], np.r_[0.0, rng.lognormal(3, 1, 30)]
    na, nb = rng.integers(1, 500, a.size), rng.integers(1, 400, b.size)
    spelled = statistics.counted_bootstrap_difference(a, na, b, nb, np.random.default_rng(1))
    monkeypatch.setattr(statistics, "SPELLED_AT_MOST", 0)
    searched = statistics.counted_bootstrap_difference(a, na, b, nb, np.random.default_rng(1))
    assert np.isfinite(spelled[1]) and spelled == searched
