"""Each rule's effect against its holdout: the rows of rules.csv."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.compiled import use_compiled
from ..core.statistics import (
    bootstrap_difference,
    counted_bootstrap_difference,
    counted_mean,
    counted_too_small,
    too_small,
)
from .engine import Run

__all__ = ["RULE_NUMBERS", "rule_effects", "rule_samples"]

# rules.csv's columns that are money, rates or days; the other numbers are counts
RULE_NUMBERS = (
    "window_days",
    "cost",
    "revenue",
    "profit",
    "roi",
    "revenue_per_eligible",
    "holdout_revenue_per_eligible",
    "conversion",
    "holdout_conversion",
    "incremental_revenue_per_eligible",
    "incremental_low",
    "incremental_high",
    "incremental_revenue",
)

# Up to this many firings per customer (or 262,144 in all), each firing's value is held on
# its own, in the order of the firings; past it (a rule that fires daily), the values are
# counted (each distinct value and how often), computed CHUNK firings at a time, so memory
# does not grow with the days a rule fires.
EXACT_PER_CUSTOMER = 4
EXACT_AT_LEAST = 1 << 18
CHUNK = 1 << 18


def exact_firings(firings: int, population: int) -> bool:
    """Whether `firings` firings of a population of `population` customers are held one value
    each (else counted). The measure of a block and the merge of the blocks decide with the
    same population (`partials.Part.population`)."""
    return firings <= max(EXACT_PER_CUSTOMER * population, EXACT_AT_LEAST)


@dataclass
class _Sample:
    """An arm's revenue per firing within its window: the values one per firing (`counts`
    None) or counted; and how many firings saw a purchase in the window."""

    values: np.ndarray
    counts: np.ndarray | None
    converted: int

    @property
    def size(self) -> int:
        return int(self.values.size if self.counts is None else self.counts.sum())

    def mean(self) -> float:
        if self.counts is None:
            return self.values.mean() if self.values.size else np.nan
        return counted_mean(self.values, self.counts)

    def weights(self) -> np.ndarray:
        return np.ones(self.values.size, np.int64) if self.counts is None else self.counts


def rule_samples(
    run: Run, cust, time, revenue, start: int = 0, customers: int | None = None
) -> list[dict[str, np.ndarray | int]]:
    """Each rule arm's revenue within its window after each firing, for the run's purchases
    (`cust`, `time`, `revenue`, sorted by customer then time): one block of a population
    whose customers start at id `start` and number `customers` (default: the run's alone).

    While the whole population's firings are few (`EXACT_PER_CUSTOMER` per customer), each
    firing's day and the bounds of its window in the purchases (`day`, `lo`, `hi`: the
    revenue is the purchases' cumulative revenue at `hi` minus at `lo`); past that, the
    values counted (`values`, `counts`); and `firings` and `converted` (firings with a
    purchase in their window) either way. The blocks' samples merge exactly (`rule_effects`)."""
    customers = customers if customers is not None else run.state.n
    compiled = use_compiled(run.customers * run.days)  # (ordering_kernels.py: the same bounds)
    runs = run.recorder.rule_events.runs()
    key = (cust.astype(np.float64) + start) * 1e6 + time
    firings = int((runs["last"] - runs["first"] + 1).sum())
    exact = exact_firings(firings, customers)
    if compiled and exact and runs["arm"].size:  # every arm at once (window_kernels.py)
        return _windows(run, runs, cust, key, start)
    cum = None if exact else np.r_[0.0, np.cumsum(revenue)]
    offsets = None
    if compiled and not exact and runs["arm"].size:  # each customer's first purchase
        size = max(int(runs["customer"].max()) + 1, int(cust.max()) + 1 if cust.size else 0)
        offsets = np.r_[0, np.cumsum(np.bincount(cust, minlength=size))]
    day_type = np.int16 if run.days < 2**15 else np.int32  # (a radix sort for int16)
    out = []
    for arm, mine in enumerate(_by_arm(runs, len(run.arms), compiled)):
        window = _window(run.policy.rules[run.arms[arm][0]])
        mine["customer"] = mine["customer"] + np.int32(start)
        if exact:
            spelled = _spelled(mine)
            lo, hi = _bounds(spelled, key, window, compiled)
            if key.size < 2**31:
                lo, hi = lo.astype(np.int32), hi.astype(np.int32)
            # the firings in the order of day, then customer (`expand`'s)
            by_day = np.argsort(spelled["day"].astype(day_type), kind="stable")
            out.append(
                {
                    "day": spelled["day"][by_day],
                    "lo": lo[by_day],
                    "hi": hi[by_day],
                    "firings": int(by_day.size),
                    "converted": int((hi > lo).sum()),
                }
            )
        else:
            out.append(_counted(mine, key, cum, window, compiled, offsets, start))
    return out


def _windows(run: Run, runs: dict[str, np.ndarray], cust, key, start: int) -> list[dict]:
    """`rule_samples`' exact samples in one pass over the firings (window_kernels.py): the
    same days and bounds as the loop over the arms."""
    from .window_kernels import arm_windows

    size = max(
        run.state.n, int(runs["customer"].max()) + 1, int(cust.max()) + 1 if cust.size else 0
    )
    offsets = np.r_[0, np.cumsum(np.bincount(cust, minlength=size))]
    days = max(run.days, int(runs["last"].max()) + 1)
    windows = np.array([_window(run.policy.rules[r]) for r, _ in run.arms], dtype=np.float64)
    bounds, day, lo, hi = arm_windows(
        runs["arm"], runs["customer"], runs["first"], runs["last"], len(run.arms), days,
        windows, key, offsets, start,
    )  # fmt: skip
    if key.size < 2**31:
        lo, hi = lo.astype(np.int32), hi.astype(np.int32)
    out = []
    for a in range(len(run.arms)):
        mine = slice(bounds[a], bounds[a + 1])
        converted = int((hi[mine] > lo[mine]).sum())
        firings = int(bounds[a + 1] - bounds[a])
        out.append({"day": day[mine], "lo": lo[mine], "hi": hi[mine], "firings": firings,
                    "converted": converted})  # fmt: skip
    return out


def rule_effects(
    run: Run, samples: list[list[dict]], revenue: list[np.ndarray], customers: int
) -> pd.DataFrame:
    """rules.csv: each rule arm's counters (`arm`: the rule's variant, `-` for a rule without
    variants; integers), and its revenue and conversion within the rule's window against its
    holdout's, with the incremental revenue's 95% percentile-bootstrap interval (empty, and
    `too_small` true, when the holdout is too small to tell). `samples`: each block's
    `rule_samples`, in block order; `revenue`: each block's purchases' revenue (sorted by
    customer then time); `customers`: the population's.

    A rule fires on day d after that day's purchases (the engine's phase order), so its window
    is the days d+1 to d+window: the purchase that triggered it (`on first purchase`), or any
    other of that day, is not its outcome; the messages log's `converted` counts the same."""
    rec, policy = run.recorder, run.policy
    counters = rec.arm_counters
    offsets = np.cumsum([0] + [r.size for r in revenue[:-1]])
    cum = np.r_[0.0, np.cumsum(np.concatenate(revenue))]
    firings = sum(a["firings"] for block in samples for a in block)
    exact = exact_firings(firings, customers)
    rows = []
    for arm, (r, label) in enumerate(run.arms):
        rule = policy.rules[r]
        pieces = [(block[arm], offset) for block, offset in zip(samples, offsets, strict=True)]
        rows.append(
            {
                "rule": rule.name,
                "arm": label or "-",
                "window_days": _window(rule),
                **{k: counters[k][arm] for k in counters},
                "_sample": _merged(pieces, cum, exact),
            }
        )
    frame_rows = []
    seeds = np.random.SeedSequence(run.stats_seed).spawn(len(rows))
    for row, seed in zip(rows, seeds, strict=True):
        if row["arm"] == "holdout":
            continue
        holdout = next(h for h in rows if h["rule"] == row["rule"] and h["arm"] == "holdout")
        treated, held = row["_sample"], holdout["_sample"]
        out = {k: v for k, v in row.items() if not k.startswith("_")}
        out["roi"] = (row["profit"] - row["cost"]) / row["cost"] if row["cost"] else np.nan
        out["holdout"] = holdout["fired"]
        out["revenue_per_eligible"] = treated.mean()
        out["holdout_revenue_per_eligible"] = held.mean()
        out["conversion"] = treated.converted / treated.size if treated.size else np.nan
        out["holdout_conversion"] = held.converted / held.size if held.size else np.nan
        diff, low, high, small = _difference(treated, held, np.random.default_rng(seed))
        out["incremental_revenue_per_eligible"] = diff
        out["incremental_low"] = low
        out["incremental_high"] = high
        out["too_small"] = small
        out["incremental_revenue"] = diff * treated.size if np.isfinite(diff) else np.nan
        frame_rows.append(out)
    return _rule_table(pd.DataFrame(frame_rows))


def _merged(pieces: list[tuple[dict, int]], cum: np.ndarray, exact: bool) -> _Sample:
    """One arm's sample from its blocks' (`pieces`: each block's sample and the offset of its
    purchases): one value per firing in the order of day then customer (`exact`: every
    block's sample is one per firing), else the values counted."""
    converted = sum(p["converted"] for p, _ in pieces)
    # a block counts its values past its own bound (`rule_samples`, by the population it is
    # given), which may be below this merge's (by the rows of the runs): counted then too
    if exact and all("day" in p for p, _ in pieces):
        day = np.concatenate([p["day"] for p, _ in pieces])
        lo = np.concatenate([p["lo"] + offset for p, offset in pieces])
        hi = np.concatenate([p["hi"] + offset for p, offset in pieces])
        values = cum[hi] - cum[lo]
        if len(pieces) > 1:  # each block's by day, then customer: the blocks' customers follow
            values = values[np.argsort(day, kind="stable")]
        return _Sample(values, None, converted)
    found, counts = [], []
    for p, offset in pieces:
        if "values" in p:
            found.append(p["values"])
            counts.append(p["counts"])
        elif p["lo"].size:
            distinct, times = np.unique(
                cum[p["hi"] + offset] - cum[p["lo"] + offset], return_counts=True
            )
            found.append(distinct)
            counts.append(times)
    if not found:
        return _Sample(np.zeros(0), np.zeros(0, np.int64), 0)
    distinct, inverse = np.unique(np.concatenate(found), return_inverse=True)
    times = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    return _Sample(distinct, times, converted)


def _difference(
    treated: _Sample, held: _Sample, rng: np.random.Generator
) -> tuple[float, float, float, bool]:
    """The incremental revenue per eligible customer, its interval, and whether the holdout
    is too small to tell (then no interval)."""
    if treated.counts is None and held.counts is None:
        a, b = treated.values, held.values
        small = too_small(a, b)
        if not small:
            return (*bootstrap_difference(a, b, rng), small)
    else:
        a, na, b, nb = treated.values, treated.weights(), held.values, held.weights()
        small = counted_too_small(a, na, b, nb)
        if not small:
            return (*counted_bootstrap_difference(a, na, b, nb, rng), small)
    diff = treated.mean() - held.mean() if treated.size and held.size else np.nan
    return diff, np.nan, np.nan, small


def _bounds(
    firings: dict[str, np.ndarray], key, window: float, compiled: bool = False,
    offsets=None, start: int = 0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Each firing's window in the purchases (`key`: customer * 1e6 + time, sorted): the
    first purchase in it and the first after it. Compiled, with `offsets` (each block
    customer's first purchase in `key`; the firings' customers have `start` added), each
    window is searched among its customer's purchases alone: the same bounds."""
    if compiled and offsets is not None:
        from .ordering_kernels import customer_windows

        return customer_windows(
            key, offsets, firings["customer"], firings["day"], float(window), start
        )
    if compiled:  # walking the purchases once (ordering_kernels.py): the same bounds
        from .ordering_kernels import window_bounds

        return window_bounds(key, firings["customer"], firings["day"], float(window))
    c = firings["customer"].astype(np.float64)
    d = firings["day"].astype(np.float64)
    lo = np.searchsorted(key, c * 1e6 + d + 1)
    hi = np.searchsorted(key, c * 1e6 + d + window + 1)
    return lo, hi


def _by_arm(runs: dict[str, np.ndarray], arms: int, compiled: bool):
    """Each arm's runs (a dict of columns), by customer, then day: the windows are looked up
    in the purchases' own order (a search that starts where the last one ended). Compiled,
    two counting sorts of all the runs at once (ordering_kernels.runs_by_arm: the same
    order) instead of a sort by arm and a lexsort of each arm's runs."""
    if compiled and runs["arm"].size:
        from .ordering_kernels import runs_by_arm

        size = runs["arm"].size
        index = np.int32 if size < 2**31 else np.int64
        order, scratch = np.empty(size, index), np.empty(size, index)
        customers = int(runs["customer"].max()) + 1
        bounds, held = runs_by_arm(
            runs["arm"], runs["customer"], runs["first"], arms, customers, order, scratch
        )
        del scratch
        if held:
            ordered = {k: v[order] for k, v in runs.items()}
            del order
            for arm in range(arms):
                yield {k: v[bounds[arm] : bounds[arm + 1]] for k, v in ordered.items()}
            return
    by_arm = np.argsort(runs["arm"], kind="stable")
    bounds = np.searchsorted(runs["arm"][by_arm], np.arange(arms + 1))
    for arm in range(arms):
        mine = {k: v[by_arm[bounds[arm] : bounds[arm + 1]]] for k, v in runs.items()}
        in_order = np.lexsort((mine["first"], mine["customer"]))
        yield {k: v[in_order] for k, v in mine.items()}


def _spelled(runs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs as one row per firing (customer, day), in the runs' order."""
    n = (runs["last"] - runs["first"] + 1).astype(np.int64)
    first = np.repeat(runs["first"], n)
    return {
        "customer": np.repeat(runs["customer"], n),
        "day": first + (np.arange(first.size) - np.repeat(np.cumsum(n) - n, n)).astype(np.int32),
    }


def _counted(
    runs: dict[str, np.ndarray], key, cum, window: float, compiled: bool = False,
    offsets=None, block_start: int = 0,
) -> dict:  # fmt: skip
    """The arm's revenue within the window after each firing, counted (each distinct value
    and how often), a chunk of runs at a time, so memory does not grow with the firings.
    `offsets` (compiled): each customer's first purchase in `key`, `block_start` the block's
    first customer (see `_bounds`)."""
    length = (runs["last"] - runs["first"] + 1).astype(np.int64)
    ends = np.cumsum(length)
    found, counts, converted, start = [], [], 0, 0
    while start < length.size:
        done = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, done + CHUNK, side="right")), start + 1)
        chunk = {k: v[start:stop] for k, v in runs.items()}
        long_runs = ends[stop - 1] - done > 2 * (stop - start)  # over two days a run on average
        if compiled and long_runs:  # a run's days with one window at once (window_kernels)
            from .window_kernels import window_stretches

            starts = {"customer": chunk["customer"], "day": chunk["first"]}
            lo, hi, days = window_stretches(
                key, chunk["customer"], chunk["first"], chunk["last"], float(window),
                *_bounds(starts, key, window, compiled, offsets, block_start),
            )  # fmt: skip
            distinct, inverse = np.unique(cum[hi] - cum[lo], return_inverse=True)
            times = np.bincount(inverse, weights=days).astype(np.int64)
            converted += int(days[hi > lo].sum())
        else:
            spelled = _spelled(chunk)
            lo, hi = _bounds(spelled, key, window, compiled, offsets, block_start)
            distinct, times = np.unique(cum[hi] - cum[lo], return_counts=True)
            converted += int((hi > lo).sum())
        found.append(distinct)
        counts.append(times)
        start = stop
    if found:
        distinct, inverse = np.unique(np.concatenate(found), return_inverse=True)
        times = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    else:
        distinct, times = np.zeros(0), np.zeros(0, np.int64)
    return {
        "values": distinct,
        "counts": times,
        "firings": int(length.sum()),
        "converted": converted,
    }


def _rule_table(rules: pd.DataFrame) -> pd.DataFrame:
    """rules.csv's rows as a frame, counts as integers."""
    for column in rules.columns:
        if column not in RULE_NUMBERS and rules[column].dtype == np.float64:
            rules[column] = np.rint(rules[column].to_numpy()).astype(np.int64)
    return rules


def _window(rule) -> float:
    """The days after a firing that count as its outcome: its success window, else 30."""
    return rule.flow.success.within_days if rule.flow.success else 30.0
