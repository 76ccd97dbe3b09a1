"""How long customers stay: the churn window and the customer lifetime.

The churn window is the scenario's `[market.kpis] churn_days` when it sets one; else the
longest `goal return within N days` of the spec's stages (the rhythm the company itself
expects: a customer silent for longer has missed every goal); else 90 days.

A customer's lifetime is the span from their first purchase to their last (an existing
base's history included). It has ended for customers with no purchase in the churn window
before the end of the run; for the others it is still going, so it is censored: at least
what has been seen. `lifetime_days` is the Kaplan-Meier restricted mean of the span, the
area under the estimated share of customers still buying after t days, up to the longest
span seen (censoring-aware; short runs make it a lower bound). `lifetime_observed_days` is
the plain mean of the spans seen so far, biased short by the customers still buying.

`still_buying` is the estimated curve itself, one row per day since the first purchase: the
Kaplan-Meier share of customers whose span is longer than that many days, with Greenwood's
95% interval. A customer still buying at the end counts only up to the span seen (the right
censoring), so customers acquired late, who cannot have come back yet, do not pull the curve
down.

`retention_at` reads the same estimate at given ages: the share of customers still buying
`age` days or more after their first purchase, read only from customers observed that long
(it stops where fewer than `MIN_AT_RISK` of them are left). It is the one definition of
retention: the `retention_30d` ... `retention_365d` KPIs (summary.json, the what-if's
comparison), the forecast's `retention` table and the what-if's retention curve. The plain
rolling retention (among customers who first bought D days or more before the end, the share
who bought again D days or more after it) counts a customer who has not come back *yet* as
lost, so it falls towards 0 at the horizon as late customers cannot have come back.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .engine import Run

__all__ = [
    "DEFAULT_CHURN_DAYS",
    "MIN_AT_RISK",
    "SortedSpans",
    "churn_window",
    "lifetime_kpis",
    "lifetime_of",
    "restricted_mean",
    "retention_at",
    "retention_by_age",
    "sorted_spans",
    "spans",
    "still_buying",
    "still_buying_of",
]

DEFAULT_CHURN_DAYS = 90.0
MIN_AT_RISK = 20  # customers observed at an age, below which the curve stops


def churn_window(run: Run) -> float:
    """The churn window in days: the market's `kpis.churn_days`, else the stages' longest
    return goal, else 90."""
    if run.market.kpis.churn_days is not None:
        return float(run.market.kpis.churn_days)
    goals = [s.goal_return_days for s in run.policy.stages if s.goal_return_days]
    return float(max(goals)) if goals else DEFAULT_CHURN_DAYS


class SortedSpans(NamedTuple):
    """The buyers' spans sorted once for every Kaplan-Meier figure below (`sorted_spans`):
    the spans, the ended ones, and the event times (the distinct ended spans) with the
    spans that end at each (`deaths`) and those that reach it (`at_risk`: span >= time)."""

    spans: np.ndarray
    events: np.ndarray
    times: np.ndarray
    deaths: np.ndarray
    at_risk: np.ndarray


def sorted_spans(span: np.ndarray, ended: np.ndarray) -> SortedSpans:
    """`SortedSpans` of the buyers' spans and whether each has ended (`spans`)."""
    ordered, events = np.sort(span), np.sort(span[ended])
    times, deaths = _distinct(events)
    at_risk = span.size - np.searchsorted(ordered, times, side="left")
    return SortedSpans(ordered, events, times, deaths, at_risk)


def _distinct(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of sorted `events` and how often each occurs (np.unique's)."""
    starts = np.flatnonzero(np.r_[True, events[1:] != events[:-1]] if events.size else events)
    return events[starts], np.diff(np.r_[starts, events.size]).astype(np.int64)


def restricted_mean(span: np.ndarray, ended: np.ndarray, ordered=None) -> float:
    """The Kaplan-Meier restricted mean of `span` (an event where `ended`, else censored),
    up to the longest span; events at a time come before the censorings at it. `ordered`:
    `sorted_spans(span, ended)`, when already made."""
    sorted_ = ordered or sorted_spans(span, ended)
    ordered = sorted_.spans
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # each time's first
    times = ordered[first]
    deaths = np.zeros(times.size, dtype=np.int64)  # the event times are among the spans'
    deaths[np.searchsorted(times, sorted_.times)] = sorted_.deaths
    at_risk = span.size - first
    survival = np.cumprod(1.0 - deaths / at_risk)  # just after each time
    widths = np.diff(np.r_[times, times[-1]])
    return float(times[0] + (survival * widths).sum())


def lifetime_kpis(first: np.ndarray, last: np.ndarray, days: int, churn_days: float) -> dict:
    """`lifetime_days` and `lifetime_observed_days` (see the module docstring) from each
    customer's first and last purchase (NaN and -inf for customers without one)."""
    return lifetime_of(*spans(first, last, days, churn_days))


def spans(
    first: np.ndarray, last: np.ndarray, days: int, churn_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each buyer's span (last purchase - first) and whether it has ended (no purchase in
    the churn window before the end), in the customers' order: what the lifetime KPIs and
    the curve read, compact (the blocks of one population give theirs, concatenated)."""
    buyers = np.isfinite(first)
    return (last - first)[buyers], last[buyers] < days - churn_days


def lifetime_of(span: np.ndarray, ended: np.ndarray, ordered=None) -> dict:
    """`lifetime_kpis` from the buyers' spans and whether each has ended (`spans`;
    `ordered`: `sorted_spans` of them, when already made)."""
    if not span.size:
        return {"lifetime_days": None, "lifetime_observed_days": None}
    return {
        "lifetime_days": round(restricted_mean(span, ended, ordered), 6),
        "lifetime_observed_days": round(float(span.mean()), 6),
    }


def still_buying(first: np.ndarray, last: np.ndarray, days: int, churn_days: float) -> pd.DataFrame:
    """The Kaplan-Meier curve of the span (see the module docstring): for each whole day t
    from 0 to the longest span seen (at most `days - churn_days`, the longest span that can be
    seen to end), `still_buying` (the share with a span longer than t),
    `low` and `high` (Greenwood's 95% interval, clipped to [0, 1]) and `at_risk` (customers
    whose span is known to reach t: the ones observed that long). `first`, `last`: each
    customer's first and last purchase (NaN and -inf for customers without one)."""
    return still_buying_of(*spans(first, last, days, churn_days), days, churn_days)


def still_buying_of(
    span: np.ndarray, ended: np.ndarray, days: int, churn_days: float, ordered=None
):
    """`still_buying` from the buyers' spans and whether each has ended (`spans`;
    `ordered`: `sorted_spans` of them, when already made)."""
    columns = ("days", "still_buying", "low", "high", "at_risk")
    if not span.size:
        empty = (np.int64, np.float64, np.float64, np.float64, np.int64)
        return pd.DataFrame({c: np.zeros(0, d) for c, d in zip(columns, empty, strict=True)})
    # past `days - churn_days` no span can be seen to end: the curve stops there
    grid = np.arange(int(np.floor(max(0.0, min(span.max(), days - churn_days)))) + 1)
    ordered, _, times, deaths, at_event = ordered or sorted_spans(span, ended)  # (span >= time)
    survival_at = np.cumprod(1.0 - deaths / at_event)
    with np.errstate(divide="ignore"):  # the last customer ending: no variance left to add
        term = np.where(at_event > deaths, deaths / (at_event * (at_event - deaths)), 0.0)
    variance_at = survival_at**2 * np.cumsum(term)
    k = np.searchsorted(times, grid, side="right") - 1  # the last event time <= each day
    survival = np.where(k >= 0, survival_at[np.maximum(k, 0)] if times.size else 1.0, 1.0)
    se = np.where(k >= 0, np.sqrt(variance_at[np.maximum(k, 0)]) if times.size else 0.0, 0.0)
    at_risk = span.size - np.searchsorted(ordered, grid, side="left")
    return pd.DataFrame(
        {
            "days": grid,
            "still_buying": survival,
            "low": np.clip(survival - 1.96 * se, 0.0, 1.0),
            "high": np.clip(survival + 1.96 * se, 0.0, 1.0),
            "at_risk": at_risk.astype(np.int64),
        }
    )


def retention_by_age(
    first: np.ndarray, last: np.ndarray, days: int, churn_days: float, ages: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`retention_at` from each customer's first and last purchase (NaN and -inf for
    customers without one)."""
    return retention_at(*spans(first, last, days, churn_days), ages)


def retention_at(
    span: np.ndarray, ended: np.ndarray, ages: np.ndarray, ordered=None
) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan-Meier share of customers still buying `age` days or more after their first
    purchase (at age 0: who bought again at all), for each of `ages`, and how many customers
    were observed that long (at risk), from the buyers' spans and whether each has ended
    (`spans`: an event when they did not buy in the churn window before the end, else
    censored at their last purchase). The share is NaN where fewer than `MIN_AT_RISK`
    customers are at risk. This is the `retention_Dd` KPIs' definition and the what-if's
    retention curve. `ordered`: `sorted_spans(span, ended)`, when already made."""
    span, _, times, deaths, at_risk = ordered or sorted_spans(span, ended)
    edge = np.maximum(np.asarray(ages, dtype=float), 1e-9)  # age 0: bought again at all
    at_age = span.size - np.searchsorted(span, edge, side="left")
    after = np.cumprod(1.0 - deaths / np.maximum(at_risk, 1))  # just after each event time
    before = np.searchsorted(times, edge, side="left")  # event times < age
    share = np.ones(edge.size)
    if times.size:
        share = np.where(before > 0, after[np.maximum(before - 1, 0)], 1.0)
    share = np.where(at_age >= MIN_AT_RISK, share, np.nan)
    return share, at_age
