"""Stage goals in `clm forecast`: how often the real base's customers come back within their
stage's goal over the forecast period, as the runs predict it and, with a holdout, as the
history shows it.

The windows are those of clmlang.simulation.stage_goals, read the way a purchase history
records purchases: a customer's purchases on one day are one visit. The windows are the one
each customer's last purchase before the forecast start opens, and those of the purchases in
the forecast period; a window counts once watched for its whole goal before the forecast end.

The actual stage after each purchase comes from the stage conditions evaluated on what the
history holds at that purchase: purchases so far, days since the first purchase, money spent
and the average check (days since the purchase is 0). Stages that read anything else (what
a customer owns, attributes, segments) cannot be told from a history: the actual side is
then left out, and the forecast says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..core.statistics import interval
from ..language.conditions import evaluate, required_columns
from ..simulation.engine import Run
from ..simulation.stage_goals import goal_windows, run_windows

__all__ = [
    "OUTCOMES",
    "actual_windows",
    "goal_block",
    "goal_lines",
    "has_goals",
    "run_goal_counts",
]

OUTCOMES = ("met", "early", "late")
# what a purchase history tells about a customer at each purchase
HISTORY_COLUMNS = frozenset(
    {"purchases", "days_since_purchase", "days_since_first_purchase", "total_spent", "avg_check"}
)


def has_goals(policy: Policy) -> bool:
    return any(s.goal_return_days is not None for s in policy.stages)


def run_goal_counts(run: Run, n: int, k: int) -> np.ndarray:
    """Per block of a stacked run of `k` copies of `n` customers: the windows met, early
    and late per stage, shape (k, stages, 3); customers acquired in the run are left out."""
    log = run.recorder.purchases.arrays()
    windows = run_windows(run, log, same_day=False)
    counts = np.zeros((k, len(run.policy.stages), len(OUTCOMES)), dtype=np.int64)
    mine = windows[windows["customer"] < n * k]
    for o, outcome in enumerate(OUTCOMES):
        hit = mine[mine["outcome"] == outcome]
        block = hit["customer"].to_numpy() // n
        np.add.at(counts, (block, hit["stage"].to_numpy(), o), 1)
    return counts


def actual_windows(
    policy: Policy, actual: pd.DataFrame, customers: np.ndarray, start, until
) -> tuple[pd.DataFrame | None, str | None]:
    """The history's goal windows over the forecast period (start = day 0 to `until`), or
    None and the reason they cannot be had."""
    read = set().union(*(required_columns(s.condition) for s in policy.stages))
    unknown = sorted(read - HISTORY_COLUMNS)
    if unknown:
        return None, (
            "the stage conditions read "
            + ", ".join(f"`{k}`" for k in unknown)
            + ", which a purchase history does not hold: the actual attainment is not known"
        )
    known = actual[actual["customer_id"].isin(set(customers)) & (actual["date"] <= until)]
    visits = known.groupby(["customer_id", "date"], sort=True)["amount"].sum().reset_index()
    code = pd.factorize(visits["customer_id"])[0]
    day = (visits["date"] - start).dt.days.to_numpy(dtype=float)
    number = visits.groupby("customer_id").cumcount().to_numpy() + 1
    spent = visits.groupby("customer_id")["amount"].cumsum().to_numpy(dtype=float)
    first = visits.groupby("customer_id")["date"].transform("min")
    columns = {
        "purchases": number.astype(float),
        "days_since_purchase": np.zeros(day.size),
        "days_since_first_purchase": (visits["date"] - first).dt.days.to_numpy(dtype=float),
        "total_spent": spent,
        "avg_check": spent / number,
    }
    stage = np.full(day.size, -1, dtype=np.int16)
    undecided = np.ones(day.size, dtype=bool)
    for s, st in enumerate(policy.stages):
        hit = undecided & evaluate(st.condition, columns, day.size)
        stage[hit] = s
        undecided &= ~hit
    # the last visit before day 0 and every visit from it on open the windows of the period
    later = np.r_[code[1:] == code[:-1], False] & np.r_[day[1:] < 0, False]
    keep = ~later
    days = float((pd.Timestamp(until) - pd.Timestamp(start)).days + 1)
    windows = goal_windows(policy, days, code[keep], day[keep], stage[keep], same_day=False)
    return windows, None


def goal_block(
    policy: Policy, predicted: np.ndarray, actual: pd.DataFrame | None, reason: str | None
) -> dict[str, object]:
    """forecast.json's `stage_goals`: per stage with a goal, the predicted share of returns
    within it (mean over replications and its 95% interval), early and late, and the actual
    shares when the history covers the period."""
    out: dict[str, object] = {}
    for s, stage in enumerate(policy.stages):
        if stage.goal_return_days is None:
            continue
        low = stage.goal_return_min_days
        per_rep = predicted[:, s, :].astype(float)  # (replications, 3)
        windows = per_rep.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = per_rep / windows[:, None]
        total = per_rep.sum(axis=0)
        pooled = total / total.sum() if total.sum() else np.full(3, np.nan)
        _, lo, hi = interval(shares[:, 0][np.isfinite(shares[:, 0])])
        row: dict[str, object] = {
            "goal_days": f"{low:g}..{stage.goal_return_days:g}"
            if low
            else f"{stage.goal_return_days:g}",
            "predicted_windows": float(windows.mean()) if windows.size else 0.0,
            "predicted_met": _r(pooled[0]),
            "predicted_met_low": _r(max(lo, 0.0)),  # a share: the t interval clipped to 0..1
            "predicted_met_high": _r(min(hi, 1.0)),
            "predicted_early": _r(pooled[1]) if low else None,
            "predicted_late": _r(pooled[2]),
        }
        if actual is not None:
            mine = actual["outcome"][actual["stage"] == s]
            counts = [int((mine == o).sum()) for o in OUTCOMES]
            n = sum(counts)
            row["actual_windows"] = n
            row["actual_met"] = _r(counts[0] / n) if n else None
            row["actual_early"] = _r(counts[1] / n) if n and low else None
            row["actual_late"] = _r(counts[2] / n) if n else None
        out[stage.name] = row
    if reason:
        out["note"] = reason
    return out


def goal_lines(block: object) -> list[tuple[str, str, str, str]]:
    """The stage goals as the report and the command line show them: stage and goal, the
    predicted share met with its interval, the actual share met, the returns behind it."""
    if not isinstance(block, dict):
        return []
    rows = []
    for name, row in block.items():
        if not isinstance(row, dict):
            continue
        predicted = _pct(row["predicted_met"])
        if row["predicted_met_low"] is not None and row["predicted_met_high"] is not None:
            predicted += f" [{_pct(row['predicted_met_low'])}, {_pct(row['predicted_met_high'])}]"
        actual = _pct(row.get("actual_met")) if "actual_met" in row else "not known"
        seen = f"{row['actual_windows']:,}" if "actual_windows" in row else "-"
        rows.append((f"{name}: back within {row['goal_days']} days", predicted, actual, seen))
    return rows


def _pct(x: object) -> str:
    return "-" if x is None else f"{float(x):.1%}"  # type: ignore[arg-type]


def _r(x: float) -> float | None:
    return round(float(x), 6) if x is not None and np.isfinite(x) else None
