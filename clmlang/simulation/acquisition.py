"""What acquiring customers cost and brings: the funnel's counts and CAC (with prospects,
engine/prospects.py) and the days until the new customers' gross profit pays their cost back.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .engine import Run

__all__ = ["cac_payback", "existing_profit", "funnel", "referral_warnings"]


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


def referral_warnings(run: Run) -> list[str]:
    """A warning when some days' referrals did not fit the room the run keeps for them (the
    referral rate compounds when the referred refer in turn): the forecast then leaves out
    referred prospects, and says how many."""
    rec = run.recorder
    if not rec.referrals_beyond_room:
        return []
    return [
        f"{rec.referrals_beyond_room:,} referred prospects were not simulated: the room kept "
        f"for each day's referrals ({rec.referral_room:,} a day) was full on "
        f"{rec.referral_room_full_days:,} of {run.days:,} days (referred customers refer in "
        "turn, so the rate compounds); lower `market.prospects.referrals.per_day` or `lift`, "
        "or shorten the run"
    ]


def existing_profit(run: Run, cust, time, profit) -> np.ndarray | None:
    """The gross profit of an existing base's purchases in the run, per day (None: none):
    what `cac_payback` leaves out. The blocks of one population add theirs."""
    existing = run.state.prior_purchases[cust] > 0
    if not existing.any():
        return None
    day = np.floor(time[existing]).astype(np.int64)
    return np.bincount(day, weights=profit[existing], minlength=run.days)


def cac_payback(daily: pd.DataFrame, acquired: int, existing: np.ndarray | None) -> float | None:
    """Days until the cumulative gross profit of the customers new in the run covers the
    cumulative acquisition cost; None when nobody was acquired (`acquired`: the customers
    acquired in the run) or acquiring cost nothing.

    An existing base's purchases are left out (`existing`: their gross profit per day, from
    `existing_profit`; they would pay back an acquisition that never happened); its
    subscription renewals are not told apart and stay in."""
    acquisition = daily["acquisition_cost"].cumsum().to_numpy()
    if not acquisition.size or acquisition[-1] == 0 or not acquired:
        return None
    gross = daily["gross_profit"].to_numpy()
    if existing is not None:
        gross = gross - existing
    covered = np.flatnonzero(pd.Series(gross).cumsum().to_numpy() >= acquisition)
    return float(covered[0]) if covered.size else None
