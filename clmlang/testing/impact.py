"""The KPI impact of a change to a policy, forecast with common random numbers.

Both policies run on the same customers (the same seeds, replication by replication), so the
paired difference of each KPI isolates the change. Customers whose treatment changed are
found by comparing, in the first replication, which rules' messages each customer received
under the old and the new policy; each kind of change comes with one example customer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..core.statistics import paired_difference
from ..market.model import Market
from ..simulation.engine import Run, simulate_policy
from ..simulation.engine.memory import size_problem
from ..simulation.metrics import forecast

__all__ = ["Impact", "TreatmentChange", "impact_size_problem", "simulate_impact"]

KPIS = (
    "revenue",
    "gross_profit",
    "profit",
    "marketing_cost",
    "messages",
    "survival_rate",
    "churn_rate",
    "retention_90d",
    "unsubscribes",
)


@dataclass(frozen=True)
class TreatmentChange:
    description: str  # "now get keep_rhythm (sms)", "no longer get birthday_gift (sms)"
    customers: int
    example: int  # a customer id: replay it with `clm simulate --trace ID`
    first_day: int


@dataclass
class Impact:
    # kpi, old, new (means over each side's runs with a value), diff, diff_low, diff_high,
    # diff_pct, diff_pct_low, diff_pct_high (of old's mean over the same pairs), significant,
    # pairs (replications where both runs have a value)
    kpis: pd.DataFrame
    treatment: list[TreatmentChange]
    replications: int
    customers: int
    days: int

    def to_dict(self) -> dict[str, object]:
        return {
            "replications": self.replications,
            "customers": self.customers,
            "days": self.days,
            "kpis": [
                {
                    k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                    for k, v in row.items()
                }
                for row in self.kpis.to_dict(orient="records")
            ],
            "treatment": [t.__dict__ for t in self.treatment],
        }


def simulate_impact(
    old: Policy,
    new: Policy,
    market: Market,
    *,
    customers: int = 5000,
    days: int = 365,
    replications: int = 5,
    seed: int = 0,
    names: dict[str, str] | None = None,
) -> Impact:
    """The paired KPI differences of `new` against `old`; raises ValueError, before any run,
    when the runs would not fit in memory (`names`: how the caller calls the settings)."""
    problem = impact_size_problem(old, new, market, customers, days, replications, names)
    if problem:
        raise ValueError(problem)
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in KPIS}
    runs: tuple[Run, Run] | None = None
    for r in range(replications):
        pair = []
        for policy in (old, new):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
            # the first pair keeps its messages log: the treatment change reads it
            pair.append(
                simulate_policy(
                    policy, market, customers=customers, days=days, rng=rng, logs=runs is None
                )
            )
        if runs is None:
            runs = (pair[0], pair[1])
        a, b = forecast(pair[0]).summary, forecast(pair[1]).summary
        for k in KPIS:
            rows[k].append((_num(a.get(k)), _num(b.get(k))))
    table = []
    for k, pairs in rows.items():
        olds = np.array([p[0] for p in pairs])
        news = np.array([p[1] for p in pairs])
        d = paired_difference(news, olds)
        table.append(
            {
                "kpi": k,
                "old": float(np.nanmean(olds)) if np.isfinite(olds).any() else np.nan,
                "new": float(np.nanmean(news)) if np.isfinite(news).any() else np.nan,
                "diff": d.diff,
                "diff_low": d.low,
                "diff_high": d.high,
                "diff_pct": d.pct,
                "diff_pct_low": d.pct_low,
                "diff_pct_high": d.pct_high,
                "significant": bool(np.isfinite(d.low) and (d.low > 0 or d.high < 0)),
                "pairs": d.pairs,
            }
        )
    treatment = _treatment(*runs) if runs else []
    return Impact(pd.DataFrame(table), treatment, replications, customers, days)


def impact_size_problem(
    old: Policy,
    new: Policy,
    market: Market,
    customers: int,
    days: int,
    replications: int,
    names: dict[str, str] | None = None,
) -> str | None:
    """Why `simulate_impact` with these sizes cannot run here, or None when it fits."""
    # the first replication's pair is kept for the treatment while each later pair runs
    copies = 2 if replications == 1 else 4
    larger = max(old, new, key=lambda p: len(p.rules) + len(p.attributes))
    return size_problem(larger, market, customers, days, copies=copies, names=names)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else np.nan


def _received(run: Run) -> dict[tuple[int, str], int]:
    """(customer, "rule (channel)") -> first day, for every message of the run."""
    log = run.recorder.messages.arrays()
    names = [
        f"{run.policy.rules[run.arms[a][0]].name} ({run.policy.channels[c].name})"
        for a, c in zip(log["arm"], log["channel"], strict=True)
    ]
    first: dict[tuple[int, str], int] = {}
    for cust, name, day in zip(log["customer"].tolist(), names, log["day"].tolist(), strict=True):
        key = (cust, name)
        if key not in first or day < first[key]:
            first[key] = day
    return first


def _treatment(old: Run, new: Run) -> list[TreatmentChange]:
    before, after = _received(old), _received(new)
    counts: Counter[str] = Counter()
    example: dict[str, tuple[int, int]] = {}
    for key in after.keys() - before.keys():
        what = f"now get {key[1]}"
        counts[what] += 1
        example.setdefault(what, (key[0], after[key]))
        example[what] = min(example[what], (key[0], after[key]), key=lambda e: (e[1], e[0]))
    for key in before.keys() - after.keys():
        what = f"no longer get {key[1]}"
        counts[what] += 1
        example.setdefault(what, (key[0], before[key]))
        example[what] = min(example[what], (key[0], before[key]), key=lambda e: (e[1], e[0]))
    return [
        TreatmentChange(what, n, example[what][0], example[what][1])
        for what, n in counts.most_common()
    ]
