"""Monthly cohorts: the rows of cohorts.csv.

A block of customers counts its own (`cohort_counts`: the customers and the (customer, month)
pairs with a purchase, per cohort and month since); the counts of the blocks add up, and the
table is read from their sum (`cohort_table`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..language.syntax.values import DAYS_PER_UNIT, Unit
from .engine import Run

__all__ = ["MONTH", "add_counts", "cohort_counts", "cohort_counts_of", "cohort_table", "cohorts"]

MONTH = DAYS_PER_UNIT[Unit.MONTHS]  # the language's month: the outputs' months too


def cohorts(run: Run, cust, time) -> pd.DataFrame:
    """Share of each monthly cohort (by first purchase) buying in each month since.

    The cohorts are the customers new in the run; an existing base is one row of its own,
    cohort `existing`, its months counted from day 0."""
    return cohort_table(cohort_counts(run, cust, time), run.days)


def cohort_counts(run: Run, cust, time) -> dict[str, np.ndarray]:
    """The counts behind cohorts.csv for the run's purchases (`cust`, `time`, sorted by
    customer then time): customers per cohort (`sizes`) and (customer, month) pairs with a
    purchase per cohort and month since (`table`), the purchases of new customers (`new`),
    the existing base's customers (`existing`) and those of them buying in each month of the
    run (`existing_months`). Integers: the counts of blocks add up exactly."""
    months = math.ceil(run.days / MONTH)
    existing = run.state.prior_purchases > 0
    out = {
        "table": np.zeros((months + 1) ** 2, dtype=np.int64),
        "sizes": np.zeros(months + 1, dtype=np.int64),
        "new": np.int64(cust.size),
        "existing": np.int64(existing.sum()),
        "existing_months": np.zeros(months, dtype=np.int64),
    }
    if existing.any():
        mine = existing[cust]
        if mine.any():
            month = np.clip(np.floor(time[mine] / MONTH).astype(np.int64), 0, months - 1)
            who = cust[mine]  # sorted by customer, then time: see below
            fresh = np.r_[True, (who[1:] != who[:-1]) | (month[1:] != month[:-1])]
            out["existing_months"] = np.bincount(month[fresh], minlength=months)
        cust, time = cust[~mine], time[~mine]
        out["new"] = np.int64(cust.size)
    if not cust.size:
        return out
    starts = np.r_[True, cust[1:] != cust[:-1]]  # each customer's first purchase (sorted)
    cohort_of = np.floor(time[starts] / MONTH)  # per customer with a purchase, in order
    cohort = cohort_of.astype(np.int64)[np.cumsum(starts) - 1]
    month = np.floor(time / MONTH).astype(np.int64) - cohort
    # each customer's months in order (the purchases are sorted by customer, then time): a
    # (customer, month) pair is new where either changes, with no sort
    fresh = np.r_[True, (cust[1:] != cust[:-1]) | (month[1:] != month[:-1])]
    cell = np.clip(cohort[fresh], 0, months) * (months + 1) + np.clip(month[fresh], 0, months)
    out["table"] = np.bincount(cell, minlength=(months + 1) ** 2)
    out["sizes"] = np.bincount(np.clip(cohort_of.astype(np.int64), 0, months), minlength=months + 1)
    return out


def cohort_counts_of(
    table: np.ndarray, sizes: np.ndarray, new: int, days: int
) -> dict[str, np.ndarray]:
    """`cohort_counts` of a run without an existing base from its `table` and `sizes`
    (counted as the purchases are read: purchase_kernels.py) and its `new` purchases."""
    months = math.ceil(days / MONTH)
    return {
        "table": table,
        "sizes": sizes,
        "new": np.int64(new),
        "existing": np.int64(0),
        "existing_months": np.zeros(months, dtype=np.int64),
    }


def add_counts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The counts of several blocks (or any dict of integer arrays) as one: their sums."""
    return {k: sum((p[k] for p in parts[1:]), parts[0][k]) for k in parts[0]}


def cohort_table(counts: dict[str, np.ndarray], days: int) -> pd.DataFrame:
    """cohorts.csv from the counts of `cohort_counts` (one block's, or their sum)."""
    months = math.ceil(days / MONTH)
    size = int(counts["existing"])
    base = None
    if size:
        bought = counts["existing_months"]
        base = {
            "cohort": "existing",
            "customers": size,
            **{f"month_{m}": bought[m] / size for m in range(months)},
        }
    if not counts["new"]:
        return pd.DataFrame([base]) if base else pd.DataFrame(columns=["cohort", "customers"])
    table = counts["table"].reshape(months + 1, months + 1).astype(np.float64)
    sizes = counts["sizes"]
    rows = []
    for c in range(months):
        if sizes[c] == 0:
            continue
        row = {"cohort": c, "customers": int(sizes[c])}
        for m in range(months - c):
            row[f"month_{m}"] = table[c, m] / sizes[c]
        rows.append(row)
    return pd.DataFrame(([base] if base else []) + rows)
