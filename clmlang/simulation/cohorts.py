"""Monthly cohorts: the rows of cohorts.csv."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..language.syntax.values import DAYS_PER_UNIT, Unit
from .engine import Run

__all__ = ["MONTH", "cohorts"]

MONTH = DAYS_PER_UNIT[Unit.MONTHS]  # the language's month: the outputs' months too


def cohorts(run: Run, cust, time) -> pd.DataFrame:
    """Share of each monthly cohort (by first purchase) buying in each month since.

    The cohorts are the customers new in the run; an existing base is one row of its own,
    cohort `existing`, its months counted from day 0."""
    existing = run.state.prior_purchases > 0
    base = _existing_cohort(run, cust, time, existing) if existing.any() else None
    if existing.any():
        new = ~existing[cust]
        cust, time = cust[new], time[new]
    if not cust.size:
        return pd.DataFrame([base]) if base else pd.DataFrame(columns=["cohort", "customers"])
    first = np.full(run.state.n, np.nan)
    starts = np.r_[True, cust[1:] != cust[:-1]]  # each customer's first purchase (sorted)
    first[cust[starts]] = time[starts]
    cohort_of = np.floor(first / MONTH)
    cohort = cohort_of[cust].astype(np.int64)
    month = np.floor(time / MONTH).astype(np.int64) - cohort
    months = math.ceil(run.days / MONTH)
    # each customer's months in order (the purchases are sorted by customer, then time): a
    # (customer, month) pair is new where either changes, with no sort
    fresh = np.r_[True, (cust[1:] != cust[:-1]) | (month[1:] != month[:-1])]
    cell = np.clip(cohort[fresh], 0, months) * (months + 1) + np.clip(month[fresh], 0, months)
    table = np.bincount(cell, minlength=(months + 1) ** 2).reshape(months + 1, months + 1)
    table = table.astype(np.float64)
    sizes = np.bincount(
        np.clip(cohort_of[np.isfinite(cohort_of)].astype(np.int64), 0, months), minlength=months + 1
    )
    rows = []
    for c in range(months):
        if sizes[c] == 0:
            continue
        row = {"cohort": c, "customers": int(sizes[c])}
        for m in range(months - c):
            row[f"month_{m}"] = table[c, m] / sizes[c]
        rows.append(row)
    return pd.DataFrame(([base] if base else []) + rows)


def _existing_cohort(run: Run, cust, time, existing: np.ndarray) -> dict:
    """The existing base as a cohort: the share of it buying in each month of the run."""
    months = math.ceil(run.days / MONTH)
    mine = existing[cust]
    size = int(existing.sum())
    if not mine.any():
        months_bought = np.zeros(months)
    else:
        month = np.clip(np.floor(time[mine] / MONTH).astype(np.int64), 0, months - 1)
        who = cust[mine]  # sorted by customer, then time: see cohorts
        fresh = np.r_[True, (who[1:] != who[:-1]) | (month[1:] != month[:-1])]
        months_bought = np.bincount(month[fresh], minlength=months)
    return {
        "cohort": "existing",
        "customers": size,
        **{f"month_{m}": months_bought[m] / size for m in range(months)},
    }
