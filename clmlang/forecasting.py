"""Forecasting from the real customer base (`clm forecast`).

Each real customer starts the simulation as they are at the calibration end: their purchases,
recency and spend from history, and their latent state drawn from the BG/NBD posterior given
that history: alive with P(alive | x, t_x, T), a purchase rate from Gamma(r + x, alpha + T), a
dropout probability from Beta(a, b + x), a spend level from the Gamma-Gamma posterior. Each
replication draws again. Without a spec no policy is in force: the past's marketing carries
on, as the CLV models assume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from .calibration import Calibration
from .engine import Base, simulate_policy
from .history import Summary
from .market import Market
from .policy import Policy

__all__ = ["HoldoutForecast", "bgnbd_expected_holdout", "forecast_base", "p_alive"]

WEEK = 7.0


def p_alive(summary: Summary, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD P(alive | x, t_x, T) (Fader, Hardie and Lee 2005, eq. 13; times in weeks)."""
    x, t_x, T = summary.x, summary.t_x, summary.T
    with np.errstate(divide="ignore", over="ignore"):
        ratio = (a / np.maximum(b + x - 1, 1e-300)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return np.where(x > 0, 1.0 / (1.0 + ratio), 1.0)


def bgnbd_expected_holdout(summary: Summary, weeks: float, r, alpha, a, b) -> np.ndarray:
    """BG/NBD E[Y(t) | x, t_x, T]: expected purchases in the next `weeks` (eq. 10)."""
    x, t_x, T = summary.x, summary.t_x, summary.T
    z = weeks / (alpha + T + weeks)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((alpha + T) / (alpha + T + weeks)) ** (r + x) * hyp
    with np.errstate(divide="ignore", over="ignore"):
        denominator = 1 + np.where(
            x > 0, (a / np.maximum(b + x - 1, 1e-300)) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0
        )
    return head * body / denominator


def _draw_base(cal: Calibration, rng: np.random.Generator) -> Base:
    s, bg, gg = cal.summary, cal.bgnbd.params, cal.gamma_gamma.params
    r, alpha, a, b = bg["r"], bg["alpha"], bg["a"], bg["b"]
    alive = rng.random(s.x.size) < p_alive(s, r, alpha, a, b)
    rate = rng.gamma(r + s.x, 1.0 / (alpha + s.T)) / WEEK  # per day
    dropout = rng.beta(a, b + s.x)
    px = gg["p"] * s.x
    spend = rng.gamma(gg["q"] + px, 1.0 / (gg["gamma"] + s.monetary * s.x))
    end_offset = 1.0  # day 0 is the day after the calibration end
    return Base(
        purchases=(s.x + 1).astype(np.int32),
        first_day=-(s.T * WEEK) - end_offset,
        last_day=-((s.T - s.t_x) * WEEK) - end_offset,
        spent=s.monetary * s.x,
        alive=alive,
        rate=rate,
        dropout=dropout,
        spend=spend,
    )


@dataclass
class HoldoutForecast:
    customers: pd.DataFrame  # customer_id, predicted_transactions, predicted_revenue, p_alive
    weekly: pd.DataFrame  # week, predicted (and actual when known) transactions
    summary: dict[str, object]


def forecast_base(
    cal: Calibration,
    policy: Policy,
    market: Market,
    *,
    until: str,
    replications: int = 20,
    seed: int = 0,
    actual: pd.DataFrame | None = None,
) -> HoldoutForecast:
    """Simulate the real base from the calibration end to `until`, `replications` times."""
    s = cal.summary
    start = pd.Timestamp(cal.calibration_end) + pd.Timedelta(days=1)
    days = (pd.Timestamp(until) - start).days + 1
    if days < 1:
        raise ValueError(f"--until {until} is not after the calibration end {cal.calibration_end}")
    n = s.x.size
    weeks = math.ceil(days / WEEK)
    transactions = np.zeros(n)
    revenue = np.zeros(n)
    weekly = np.zeros(weeks)
    totals = []
    market = market.model_copy(update={"start_date": start.date().isoformat()})
    for rep in range(replications):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(rep,)))
        base = _draw_base(cal, rng)
        run = simulate_policy(policy, market, customers=n, days=days, rng=rng, base=base)
        log = run.recorder.purchases.arrays()
        mine = log["customer"] < n
        cust, day = log["customer"][mine], np.floor(log["time"][mine]).astype(np.int64)
        pairs = np.unique(np.stack([cust, day]), axis=1)  # same-day purchases are one
        transactions += np.bincount(pairs[0], minlength=n)
        totals.append(pairs.shape[1])
        revenue += np.bincount(cust, weights=log["revenue"][mine], minlength=n)
        weekly += np.bincount(pairs[1] // 7, minlength=weeks)[:weeks]
    transactions /= replications
    revenue /= replications
    weekly /= replications
    bg = cal.bgnbd.params
    customers = pd.DataFrame(
        {
            "customer_id": s.customers,
            "predicted_transactions": transactions,
            "predicted_revenue": revenue,
            "p_alive": p_alive(s, bg["r"], bg["alpha"], bg["a"], bg["b"]),
        }
    )
    week_frame = pd.DataFrame({"week": np.arange(weeks), "predicted_transactions": weekly})
    summary: dict[str, object] = {
        "calibration_end": cal.calibration_end,
        "until": pd.Timestamp(until).date().isoformat(),
        "customers": int(n),
        "replications": replications,
        "holdout_repeat_transactions": float(transactions.sum()),
        "holdout_repeat_transactions_sd": float(np.std(totals, ddof=1))
        if replications > 1
        else None,
        "holdout_revenue": float(revenue.sum()),
        "bgnbd_closed_form_transactions": float(
            bgnbd_expected_holdout(s, days / WEEK, bg["r"], bg["alpha"], bg["a"], bg["b"]).sum()
        ),
    }
    if actual is not None:
        _compare(actual, start, pd.Timestamp(until), customers, week_frame, summary)
    return HoldoutForecast(customers, week_frame, summary)


def _compare(actual: pd.DataFrame, start, until, customers, weekly, summary) -> None:
    """Actual against predicted: totals, per-customer MAE, RMSE and correlation, weekly."""
    hold = actual[(actual["date"] >= start) & (actual["date"] <= until)]
    known = hold[hold["customer_id"].isin(set(customers["customer_id"]))]
    count = known.groupby("customer_id").size()
    money = known.groupby("customer_id")["amount"].sum()
    truth = count.reindex(customers["customer_id"], fill_value=0).to_numpy(dtype=float)
    paid = money.reindex(customers["customer_id"], fill_value=0.0).to_numpy(dtype=float)
    predicted = customers["predicted_transactions"].to_numpy()
    customers["actual_transactions"] = truth
    customers["actual_revenue"] = paid
    week = ((known["date"] - start).dt.days // 7).to_numpy()
    weekly["actual_transactions"] = np.bincount(week, minlength=len(weekly))[: len(weekly)]
    total, forecast_total = float(truth.sum()), float(predicted.sum())
    summary.update(
        {
            "actual_repeat_transactions": total,
            "transactions_error": forecast_total / total - 1 if total else None,
            "actual_revenue": float(paid.sum()),
            "revenue_error": float(customers["predicted_revenue"].sum()) / paid.sum() - 1
            if paid.sum()
            else None,
            "mae": float(np.mean(np.abs(predicted - truth))),
            "rmse": float(np.sqrt(np.mean((predicted - truth) ** 2))),
            "correlation": float(np.corrcoef(predicted, truth)[0, 1]) if truth.std() else None,
        }
    )
