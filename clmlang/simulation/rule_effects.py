"""Each rule's effect against its holdout: the rows of rules.csv."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.statistics import (
    bootstrap_difference,
    counted_bootstrap_difference,
    counted_mean,
    counted_too_small,
    too_small,
)
from .engine import Run
from .engine.firings import expand

__all__ = ["RULE_NUMBERS", "rule_effects"]

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


def rule_effects(run: Run, cust, time, revenue) -> pd.DataFrame:
    """rules.csv: each rule arm's counters (`arm`: the rule's variant, `-` for a rule without
    variants; integers), and its revenue and conversion within the rule's window against its
    holdout's, with the incremental revenue's 95% percentile-bootstrap interval (empty, and
    `too_small` true, when the holdout is too small to tell). `cust`, `time` and `revenue` are
    the run's purchases, sorted by customer then time.

    A rule fires on day d after that day's purchases (the engine's phase order), so its window
    is the days d+1 to d+window: the purchase that triggered it (`on first purchase`), or any
    other of that day, is not its outcome; the messages log's `converted` counts the same."""
    rec, policy = run.recorder, run.policy
    counters = rec.arm_counters
    runs = rec.rule_events.runs()
    key = cust.astype(np.float64) * 1e6 + time
    cum = np.r_[0.0, np.cumsum(revenue)]
    firings = int((runs["last"] - runs["first"] + 1).sum())
    exact = firings <= max(EXACT_PER_CUSTOMER * run.state.n, EXACT_AT_LEAST)
    by_arm = np.argsort(runs["arm"], kind="stable")
    bounds = np.searchsorted(runs["arm"][by_arm], np.arange(len(run.arms) + 1))
    rows = []
    for arm, (r, label) in enumerate(run.arms):
        rule = policy.rules[r]
        window = _window(rule)
        mine = {k: v[by_arm[bounds[arm] : bounds[arm + 1]]] for k, v in runs.items()}
        rows.append(
            {
                "rule": rule.name,
                "arm": label or "-",
                "window_days": _window(rule),
                **{k: counters[k][arm] for k in counters},
                "_sample": _sample(mine, key, cum, window, exact),
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


def _values(firings: dict[str, np.ndarray], key, cum, window: float):
    """Revenue within the window after each firing, and whether there was a purchase."""
    c = firings["customer"].astype(np.float64)
    d = firings["day"].astype(np.float64)
    lo = np.searchsorted(key, c * 1e6 + d + 1)
    hi = np.searchsorted(key, c * 1e6 + d + window + 1)
    return cum[hi] - cum[lo], hi > lo


def _sample(runs: dict[str, np.ndarray], key, cum, window: float, exact: bool) -> _Sample:
    """The arm's sample from its runs: one value per firing in the order of the firings
    (`exact`), else counted, a chunk of runs at a time."""
    if exact:
        values, converted = _values(expand(runs), key, cum, window)
        return _Sample(values, None, int(converted.sum()))
    length = (runs["last"] - runs["first"] + 1).astype(np.int64)
    ends = np.cumsum(length)
    found, counts, converted, start = [], [], 0, 0
    while start < length.size:
        done = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, done + CHUNK, side="right")), start + 1)
        n = length[start:stop]
        first = np.repeat(runs["first"][start:stop], n)
        spelled = {
            "customer": np.repeat(runs["customer"][start:stop], n),
            "day": first + (np.arange(first.size) - np.repeat(np.cumsum(n) - n, n)),
        }
        values, hit = _values(spelled, key, cum, window)
        distinct, times = np.unique(values, return_counts=True)
        found.append(distinct)
        counts.append(times)
        converted += int(hit.sum())
        start = stop
    if not found:
        return _Sample(np.zeros(0), np.zeros(0, np.int64), 0)
    distinct, inverse = np.unique(np.concatenate(found), return_inverse=True)
    times = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    return _Sample(distinct, times, converted)


def _rule_table(rules: pd.DataFrame) -> pd.DataFrame:
    """rules.csv's rows as a frame, counts as integers."""
    for column in rules.columns:
        if column not in RULE_NUMBERS and rules[column].dtype == np.float64:
            rules[column] = np.rint(rules[column].to_numpy()).astype(np.int64)
    return rules


def _window(rule) -> float:
    """The days after a firing that count as its outcome: its success window, else 30."""
    return rule.flow.success.within_days if rule.flow.success else 30.0
