"""A forecast's accuracy against what happened: measured on the forecast of what ran.

The history's actual purchases after the calibration end came from the policy that was in
force then, not from the spec's new policy. So the error is that of the forecast of what ran:
with `--current`, the policy in force's; without it, the calibrated behaviour alone (the
history already holds whatever marketing ran, and the spec's policy would be added on top).
The spec's policy's effect is reported apart (`change`, `policy_effect`): a policy that never
ran cannot be wrong, or right, against the history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..market.model import Market

__all__ = ["compare", "uncalibrated_responses"]

DEFAULT_RESPONSE = 0.03  # channels.NAME.response's default (docs/model.md)


def compare(actual: pd.DataFrame, start, until, customers, weekly, summary, ran, what) -> None:
    """Actual against the forecast of what ran (`ran`: per customer, its purchases and
    revenue; `what`: what it is, in words): totals, per-customer MAE, RMSE and correlation;
    `customers` and `weekly` gain the actual figures."""
    hold = actual[(actual["date"] >= start) & (actual["date"] <= until)]
    # each row's customer among the forecast's (-1: not one of them), by a hash index: a
    # string column's isin and groupby cost ten times as much
    who = pd.Index(customers["customer_id"]).get_indexer(hold["customer_id"])
    mine = who >= 0
    known = hold[mine]
    n = len(customers)
    truth = np.bincount(who[mine], minlength=n).astype(np.int64)
    amounts = known["amount"].to_numpy(dtype=float)
    paid = np.bincount(who[mine], weights=amounts, minlength=n).astype(float)
    predicted, predicted_revenue = ran
    customers["actual_transactions"] = truth
    customers["actual_revenue"] = paid
    truth = truth.astype(float)
    week = ((known["date"] - start).dt.days // 7).to_numpy()
    weekly["actual_transactions"] = np.bincount(week, minlength=len(weekly))[: len(weekly)]
    weekly["actual_revenue"] = np.bincount(week, weights=amounts, minlength=len(weekly))[
        : len(weekly)
    ]
    total, forecast_total = float(truth.sum()), float(predicted.sum())
    summary.update(
        {
            "compared_with": what,
            "compared_repeat_transactions": forecast_total,
            "compared_revenue": float(predicted_revenue.sum()),
            "actual_repeat_transactions": total,
            "transactions_error": forecast_total / total - 1 if total else None,
            "actual_revenue": float(paid.sum()),
            "revenue_error": float(predicted_revenue.sum()) / paid.sum() - 1
            if paid.sum()
            else None,
            "mae": float(np.mean(np.abs(predicted - truth))),
            "rmse": float(np.sqrt(np.mean((predicted - truth) ** 2))),
            "correlation": float(np.corrcoef(predicted, truth)[0, 1]) if truth.std() else None,
        }
    )


def uncalibrated_responses(policy: Policy, market: Market) -> str | None:
    """A note when the policy's rules answer at the market's default response (no channel's
    `response` set, no rule's measured): its effect is then an assumption, not a measure."""
    if not policy.rules or any(r.name in market.rules for r in policy.rules):
        return None
    if any("response" in market.channel(c.name).model_fields_set for c in policy.channels):
        return None
    return (
        f"the rules' responses are the uncalibrated defaults ({DEFAULT_RESPONSE:.0%} of messages"
        " lead to a purchase, before offers and fatigue): the policy's effect is an assumption;"
        " measure it from a message log (`clm calibrate --messages`, docs/calibration.md)"
    )
