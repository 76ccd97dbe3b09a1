"""What acquiring customers cost and brings: the funnel's counts and CAC (with prospects,
engine/prospects.py) and the days until the new customers' gross profit pays their cost back.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .engine import Run

__all__ = ["cac_payback", "funnel"]


def _r(x: float) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), 6)


def funnel(run: Run, out: dict) -> dict:
    """The top of the funnel: prospects who came (from the sources and by referral), those
    who made a first purchase, and the cost of a new customer (CAC): what acquisition cost
    (sources, acquired customers, referral rewards) per customer acquired in the run."""
    f = run.recorder.funnel
    came = int(f["prospect_arrivals"].sum())
    converted = int(f["conversions"].sum())
    acquired = int(out["acquired_customers"] or 0)
    cost = float(out["acquisition_cost"] or 0.0)
    return {
        "prospects": came,
        "referrals": int(f["referrals"].sum()),
        "conversions": converted,
        "conversion_rate": _r(converted / came) if came else None,
        "prospects_lost": int(f["prospects_lost"].sum()),
        "prospects_at_end": int(f["prospects"][-1]) if f["prospects"].size else 0,
        "cac": _r(cost / acquired) if acquired else None,
    }


def cac_payback(run: Run, daily: pd.DataFrame, cust, time, profit) -> float | None:
    """Days until the cumulative gross profit of the customers new in the run covers the
    cumulative acquisition cost; None when nobody was acquired or acquiring cost nothing.

    An existing base's purchases are left out (they would pay back an acquisition that never
    happened); its subscription renewals are not told apart and stay in."""
    acquisition = daily["acquisition_cost"].cumsum().to_numpy()
    arrived = int(daily["customers"].iloc[-1]) if len(daily) else 0
    rows = run.recorder.rows or arrived
    if not acquisition.size or acquisition[-1] == 0 or not run.state.acquired[:rows].any():
        return None
    gross = daily["gross_profit"].to_numpy()
    existing = run.state.prior_purchases[cust] > 0
    if existing.any():
        day = np.floor(time[existing]).astype(np.int64)
        gross = gross - np.bincount(day, weights=profit[existing], minlength=gross.size)
    covered = np.flatnonzero(pd.Series(gross).cumsum().to_numpy() >= acquisition)
    return float(covered[0]) if covered.size else None
