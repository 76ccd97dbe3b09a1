"""How far the outcome may fall from the forecast: the spread of the replications.

Each replication draws every customer's latent state from its posterior and simulates their
purchases, so the replications' totals spread as the actual total may: the 95% range is the
forecast plus or minus 1.96 standard deviations of the replications (normal approximation,
clipped at 0). It is a range for what will happen, not for the forecast's mean (which the
closed form gives without sampling error). One replication has no range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base_blocks import WEEK

__all__ = ["Z95", "total_interval", "weekly_frame"]

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def total_interval(total: float, replications: np.ndarray) -> list[float] | None:
    """[low, high]: the 95% range of a total whose replications are `replications` (None
    with fewer than 2)."""
    if replications.size < 2:
        return None
    half = Z95 * float(np.std(replications, ddof=1))
    return [max(float(total) - half, 0.0), float(total) + half]


def weekly_frame(
    start: pd.Timestamp, transactions: np.ndarray, revenue: np.ndarray, spread: np.ndarray
) -> pd.DataFrame:
    """The weekly series: `week` (0, 1, ...), `week_start` (a datetime), the predicted repeat
    transactions and revenue, and, with 2 replications or more, their 95% ranges week by
    week (`*_low`, `*_high`) and cumulated (`cumulative_*_low`, `cumulative_*_high`).

    `spread`: per replication, week by week, (2, replications, weeks): purchase days and
    revenue of the simulation, whose spread around its mean is added to the forecast."""
    weeks = len(transactions)
    frame = pd.DataFrame(
        {
            "week": np.arange(weeks, dtype=np.int64),
            "week_start": pd.to_datetime(start) + pd.to_timedelta(np.arange(weeks) * WEEK, "D"),
            "predicted_transactions": transactions,
            "predicted_revenue": revenue,
        }
    )
    if spread.shape[1] < 2:
        return frame
    for i, name in enumerate(("transactions", "revenue")):
        forecast = frame[f"predicted_{name}"].to_numpy()
        for prefix, series, reps in (
            ("", forecast, spread[i]),
            ("cumulative_", np.cumsum(forecast), np.cumsum(spread[i], axis=1)),
        ):
            half = Z95 * reps.std(axis=0, ddof=1)
            frame[f"{prefix}predicted_{name}_low"] = np.maximum(series - half, 0.0)
            frame[f"{prefix}predicted_{name}_high"] = series + half
    return frame
