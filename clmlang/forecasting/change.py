"""A policy change against the policy in force (`clm forecast NEW --current CURRENT`).

Both policies run on the same forecast base with the same random numbers, replication by
replication (common random numbers), so the paired per-replication difference isolates the
change: with CURRENT equal to NEW it is exactly zero, and its interval is far narrower than
the two totals' own spreads would give.
"""

from __future__ import annotations

import numpy as np

from ..compile.policy import Policy
from ..core.statistics import interval

__all__ = ["KPIS", "block_figures", "change_block"]

# What each replication totals, per policy, for the change: the base's repeat purchase days,
# its revenue, profit (purchases' profit less message cost), message cost and unsubscribes.
KPIS = ("repeat_transactions", "revenue", "profit", "marketing_cost", "unsubscribes")


def block_figures(run, policy: Policy, n: int, k: int) -> np.ndarray:
    """Per block of a stacked run, (profit, marketing cost, unsubscribes) of the base's `n`
    customers; customers acquired during the run belong to no block and are left out."""
    purchases = run.recorder.purchases.arrays()
    mine = purchases["customer"] < n * k
    profit = np.bincount(
        purchases["customer"][mine] // n, weights=purchases["profit"][mine], minlength=k
    )
    sent = run.recorder.messages.counts()  # per day, send step and block of n customers
    price = np.array([c.cost for c in policy.channels], dtype=float)
    mine = sent["block"] < k
    cost = np.bincount(
        sent["block"][mine], weights=price[sent["channel"][mine]] * sent["count"][mine], minlength=k
    )
    unsub = run.recorder.unsubscribes.arrays()
    left = unsub["customer"] < n * k
    unsubscribes = np.bincount(unsub["customer"][left] // n, minlength=k).astype(float)
    return np.stack([profit - cost, cost, unsubscribes], axis=1)


def change_block(
    new: np.ndarray,
    current: np.ndarray,
    adjustment: np.ndarray,
    names: tuple[str, str],
) -> dict[str, object]:
    """The change block of forecast.json: per KPI, each policy's total and the paired
    difference NEW - CURRENT with its 95% Student-t interval over the replications.

    `new`, `current`: (replications, len(KPIS)) totals per replication, from the same random
    numbers. `adjustment`: added to both policies' mean totals (the closed form's expectation
    less the no-marketing control, where the buying model has one), so that each total is the
    one the forecast reports; it cancels in the difference.
    """
    rows = []
    for i, kpi in enumerate(KPIS):
        diff, low, high = interval(new[:, i] - current[:, i])
        rows.append(
            {
                "kpi": kpi,
                "current": float(current[:, i].mean() + adjustment[i]),
                "new": float(new[:, i].mean() + adjustment[i]),
                "change": diff,
                "low": None if np.isnan(low) else low,
                "high": None if np.isnan(high) else high,
            }
        )
    return {
        "new_policy": names[0],
        "current_policy": names[1],
        "replications": int(new.shape[0]),
        "method": "common random numbers: both policies on the same draws, replication by"
        " replication; the interval is the 95% Student-t interval of the paired differences",
        "kpis": rows,
    }
