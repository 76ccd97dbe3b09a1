"""Each rule's effect against its holdout: the rows of rules.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.statistics import bootstrap_difference, too_small
from .engine import Run

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
    events = rec.rule_events.arrays()
    key = cust.astype(np.float64) * 1e6 + time
    cum = np.r_[0.0, np.cumsum(revenue)]
    windows = np.array([_window(policy.rules[r]) for r, _ in run.arms] + [0.0], dtype=np.float64)
    # every firing's window at once: its customer's purchases from the day after it
    arm_of = events["arm"]
    c = events["customer"].astype(np.float64)
    d = events["day"].astype(np.float64)
    # the firings by customer (by day within one) search the purchases in order: each
    # search starts where the one before ended, in memory it has just read
    by_customer = np.argsort(events["customer"], kind="stable")
    lo, hi = np.empty(arm_of.size, np.int64), np.empty(arm_of.size, np.int64)
    lo[by_customer] = np.searchsorted(key, (c * 1e6 + d + 1)[by_customer])
    hi[by_customer] = np.searchsorted(key, (c * 1e6 + d + windows[arm_of] + 1)[by_customer])
    values, converted = cum[hi] - cum[lo], (hi > lo).astype(float)
    # each arm's firings in the order logged (a radix sort: arms fit 16 bits)
    by_arm = np.argsort(
        arm_of.astype(np.uint16 if len(run.arms) < 1 << 16 else np.int64), kind="stable"
    )
    cuts = np.searchsorted(arm_of[by_arm], np.arange(len(run.arms) + 1))
    rows = []
    for arm, (r, label) in enumerate(run.arms):
        rule = policy.rules[r]
        mine = by_arm[cuts[arm] : cuts[arm + 1]]
        rows.append(
            {
                "rule": rule.name,
                "arm": label or "-",
                "window_days": _window(rule),
                **{k: counters[k][arm] for k in counters},
                "_values": values[mine],
                "_converted": converted[mine],
            }
        )
    frame_rows = []
    seeds = np.random.SeedSequence(run.stats_seed).spawn(len(rows))
    for row, seed in zip(rows, seeds, strict=True):
        if row["arm"] == "holdout":
            continue
        holdout = next(h for h in rows if h["rule"] == row["rule"] and h["arm"] == "holdout")
        treated, held = row["_values"], holdout["_values"]
        out = {k: v for k, v in row.items() if not k.startswith("_")}
        out["roi"] = (row["profit"] - row["cost"]) / row["cost"] if row["cost"] else np.nan
        out["holdout"] = holdout["fired"]
        out["revenue_per_eligible"] = treated.mean() if treated.size else np.nan
        out["holdout_revenue_per_eligible"] = held.mean() if held.size else np.nan
        out["conversion"] = row["_converted"].mean() if treated.size else np.nan
        out["holdout_conversion"] = holdout["_converted"].mean() if held.size else np.nan
        small = too_small(treated, held)
        if small:
            diff = treated.mean() - held.mean() if treated.size and held.size else np.nan
            low = high = np.nan
        else:
            diff, low, high = bootstrap_difference(treated, held, np.random.default_rng(seed))
        out["incremental_revenue_per_eligible"] = diff
        out["incremental_low"] = low
        out["incremental_high"] = high
        out["too_small"] = small
        out["incremental_revenue"] = diff * treated.size if np.isfinite(diff) else np.nan
        frame_rows.append(out)
    return _rule_table(pd.DataFrame(frame_rows))


def _rule_table(rules: pd.DataFrame) -> pd.DataFrame:
    """rules.csv's rows as a frame, counts as integers."""
    for column in rules.columns:
        if column not in RULE_NUMBERS and rules[column].dtype == np.float64:
            rules[column] = np.rint(rules[column].to_numpy()).astype(np.int64)
    return rules


def _window(rule) -> float:
    """The days after a firing that count as its outcome: its success window, else 30."""
    return rule.flow.success.within_days if rule.flow.success else 30.0
