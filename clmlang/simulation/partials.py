"""One block's metrics as partial aggregates, made where the block ran, and their merge.

`measure` reads a block's run (its customers' state and logs) into what the forecast needs of
it: integer counts that add up (survival, churn, cohorts, goal windows, customers
active each day, products' distinct customers and checks), sums added in block order
(products' money), and, for what no sum gives exactly, compact columns concatenated in block
order: each purchase's revenue and purchase number (averages, the top decile's share), each
buyer's span (the Kaplan-Meier lifetime), each paying customer's revenue (the Gini), and each
rule firing's day and window in the purchases (the bootstrap of rule effects: the revenue in
a window is read from the cumulative revenue of all blocks' purchases, as a single run would).
The block's counters come back in its recorder without its logs; the customers' state and
logs stay where the block ran, and are freed there.

A run of one block measured is exactly the run measured whole: `forecast(run)` is the merge of
one part. The parts of several blocks give the same bytes whichever process measured which.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core.compiled import use_compiled
from ..core.heap import mapped, trim
from .acquisition import existing_profit
from .cohorts import MONTH, cohort_counts, cohort_counts_of
from .economics import Items
from .engine import Run
from .engine.merge import merge_recorders, without_logs
from .lifetime import churn_window, spans
from .ordering import gathered_by_customer
from .product_kernels import checks_and_products
from .rule_effects import rule_samples
from .stage_goals import dense_goal_counts, goal_bounds, goal_counts, run_windows

__all__ = [
    "ACTIVE_DAYS",
    "RETENTION_DAYS",
    "Part",
    "history",
    "measure",
    "measure_block",
    "retention_ages",
    "whole",
]

ACTIVE_DAYS = 90
RETENTION_DAYS = (30, 90, 180, 365)
# the customers' state the metrics read (the rest is freed first when a run is consumed)
_STATE_READ = {
    "n",
    "acquired",
    "control",
    "first_t",
    "prior_purchases",
    "prior_last_t",
    "prior_stage",
}


@dataclass
class Part:
    """One block's metrics (see the module docstring); `run`: the block's run without its
    customers' state and logs; `start`: its first customer's id in the population;
    `customers`: the block's rows; `population`: the population's customers, against which
    the measure and the merge decide whether the rules' firings are held one value each."""

    run: Run
    start: int
    customers: int
    population: int
    counts: dict[str, int]
    active: np.ndarray
    revenue: np.ndarray  # each purchase's, by customer then time
    number: np.ndarray  # its purchase number (1 = first ever), 3 for the third and later
    span: np.ndarray  # each buyer's last purchase - first
    ended: np.ndarray  # and whether their span has ended (no purchase in the churn window)
    existing: np.ndarray | None  # an existing base's gross profit per day (cac_payback)
    checks: dict
    products: dict
    cohorts: dict
    goals: dict
    rules: list
    programme: tuple[np.ndarray, np.ndarray] | None  # revenue per customer, control


def measure(run: Run, start: int = 0, customers: int | None = None, consume: bool = False) -> Part:
    """Block `run`'s metrics, its customers starting at id `start` of a population of
    `customers` (default: the run is the whole population). `consume`: the run is not used
    after, so its customers' state and logs are freed as soon as they are read (the peak
    memory of a block is its run and the metrics' working copies). Big arrays are mapped
    on their own meanwhile (core/heap.py's `mapped`), and the heap's free pages are given
    back as the logs are freed: the heap kept 100-300 MB of them at 500,000 customers."""
    with mapped():
        return _measure(run, start, customers, consume)


def _measure(run: Run, start: int, customers: int | None, consume: bool) -> Part:
    rec, st, days = run.recorder, run.state, run.days
    # the customers asked for (a whole run's `run.customers`), not the rows: those hold the
    # prospects and acquisitions that arrived too, which a block's measure does not count
    population = customers if customers is not None else run.customers
    if consume:
        for f in dataclasses.fields(st):
            if f.name not in _STATE_READ:
                setattr(st, f.name, None)
    items = Items.of(run)  # the items first: their working copies are gone before the rest
    checks, products = checks_and_products(run, items)
    del items
    if consume:
        rec.items = type(rec.items)(**rec.items.dtypes)
        trim()  # the items log's pages back (core/heap.py)
    purchases = rec.purchases.arrays()
    compiled = use_compiled(run.customers * days)  # the metrics' kernels: the same arrays
    base = bool((st.prior_purchases > 0).any())  # an existing base's history
    read = ("customer", "time", "revenue", "stage") + (("profit",) if base else ())
    buy = gathered_by_customer(purchases, read, compiled)  # (profit: an existing base's only)
    del purchases
    if consume:
        rec.purchases = type(rec.purchases)(**rec.purchases.dtypes)
        trim()
    cust, time, revenue = buy["customer"], buy["time"], buy["revenue"]
    arrived = int(rec.daily["customers"][-1]) if days else 0
    rows = rec.rows or arrived
    if compiled and not base:  # one pass (purchase_kernels.py): the same numbers
        from .purchase_kernels import purchase_pass

        low, high = goal_bounds(run.policy)
        number, first, last, count, payers, table, sizes, active, goals = purchase_pass(
            cust, time, buy["stage"], st.prior_purchases, st.n, days, MONTH, ACTIVE_DAYS,
            low, high,
        )  # fmt: skip
        cohorts = cohort_counts_of(table, sizes, cust.size, days)
        goals = dense_goal_counts(goals)
    else:
        starts = np.r_[True, cust[1:] != cust[:-1]] if cust.size else np.zeros(0, bool)
        group_start = (
            np.maximum.accumulate(np.where(starts, np.arange(cust.size), 0)) if cust.size else cust
        )
        # purchase number per customer, the history before day 0 included (1 = first ever)
        number = np.arange(cust.size) - group_start + 1 + st.prior_purchases[cust]
        number = np.minimum(number, 3).astype(np.int8)
        del group_start
        first, last, count = history(run, cust, time)
        payers = int(starts.sum())
        active = _active_days(run, cust, time)
        cohorts = cohort_counts(run, cust, time)
        goals = goal_counts(run_windows(run, buy))
    buyers = np.isfinite(first)
    counts = {
        "acquired": int(st.acquired[:rows].sum()),
        "buyers": int(buyers.sum()),
        "repeaters": int((count >= 2).sum()),
        "payers": int(payers),
    }
    churn = churn_window(run)
    old = buyers & (first <= days - churn)
    counts["old"] = int(old.sum())
    counts["churned"] = int((old & (last < days - churn)).sum())
    span, ended = spans(first, last, days, churn)
    programme = None
    if run.policy.control_share > 0 and rows:
        per_customer = np.bincount(cust, weights=revenue, minlength=st.n)[:rows]
        programme = (per_customer, st.control[:rows].copy())
    part = Part(
        run=dataclasses.replace(run, state=None, recorder=without_logs(rec)),
        start=start,
        customers=st.n,
        population=population,
        counts=counts,
        active=active,
        revenue=revenue,
        number=number,
        span=span,
        ended=ended,
        existing=existing_profit(run, cust, time, buy["profit"]) if base else None,
        checks=checks,
        products=products,
        cohorts=cohorts,
        goals=goals,
        rules=rule_samples(run, cust, time, revenue, start, population),
        programme=programme,
    )
    return part


def measure_block(run: Run, block, customers: int) -> Part:
    """Block `block`'s run measured (`measure`), its population `customers` strong: what a
    worker sends back (engine.blocks.run_blocks' `measure`)."""
    return measure(run, block.start, customers, consume=True)


def whole(parts: list[Part]) -> Run:
    """The run the parts make together, without customers' state or logs: the first part's
    policy and market, the blocks' counters merged, the traced customer's journey if any."""
    first = parts[0].run
    if len(parts) == 1:
        recorder = first.recorder
    else:
        recorder = merge_recorders([p.run for p in parts], [p.customers for p in parts])
    trace = None
    for p in parts:
        if p.run.trace is not None:
            trace = dataclasses.replace(p.run.trace, customer=p.start + p.run.trace.customer)
    return dataclasses.replace(
        first, recorder=recorder, customers=sum(p.run.customers for p in parts), trace=trace
    )


def history(run: Run, cust, time) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's first and last purchase (NaN, -inf: none) and purchase count, over the
    history before day 0 and the run's purchases (`cust`, `time` sorted by customer, time)."""
    st = run.state
    first = np.full(st.n, np.nan)
    if cust.size:
        starts = np.r_[True, cust[1:] != cust[:-1]]
        first[cust[starts]] = time[starts]
    last = np.full(st.n, -np.inf)
    if cust.size:  # sorted by customer, then time: each customer's last row is their last
        ends = np.r_[cust[1:] != cust[:-1], True]
        last[cust[ends]] = time[ends]
    count = np.bincount(cust, minlength=st.n)[: st.n] if cust.size else np.zeros(st.n, np.int64)
    existing = st.prior_purchases > 0
    if existing.any():
        first[existing] = st.first_t[existing]
        last[existing] = np.maximum(last[existing], st.prior_last_t[existing])
        count = count + st.prior_purchases
    return first, last, count


def retention_ages(days: int) -> np.ndarray:
    """The ages of the retention curve (Kaplan-Meier): up to 60, from 0 to the last day."""
    return np.unique(np.linspace(0, max(days - 1, 0), num=min(days, 60)).round().astype(int))


def _active_days(run: Run, cust: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Customers with a purchase in the last ACTIVE_DAYS days, for every day; an existing
    base's last purchase before day 0 counts too."""
    st, days = run.state, run.days
    before = np.flatnonzero(st.prior_purchases > 0)
    if before.size:
        c = np.concatenate([before, cust])
        t = np.concatenate([st.prior_last_t[before], time])
        order = np.lexsort((t, c))
        return _active(c[order], t[order], days)
    return _active(cust, time, days)


def _active(cust: np.ndarray, time: np.ndarray, days: int) -> np.ndarray:
    """Customers with a purchase in the last ACTIVE_DAYS days, for every day (sweep line);
    purchases before day 0 (negative times) count for the days they reach into the run."""
    if not cust.size:
        return np.zeros(days, dtype=np.int64)
    day = np.floor(time).astype(np.int64)
    nxt = np.r_[day[1:], np.iinfo(np.int64).max]
    same = np.r_[cust[1:] == cust[:-1], False]
    end = np.where(same, np.minimum(day + ACTIVE_DAYS, nxt), day + ACTIVE_DAYS)
    keep = end > day
    delta = np.bincount(np.clip(day[keep], 0, days), minlength=days + 1)
    delta -= np.bincount(np.clip(end[keep], 0, days), minlength=days + 1)
    return np.cumsum(delta)[:days]
