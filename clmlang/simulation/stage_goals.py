"""Stage goals measured: how often a stage's customers come back within its goal.

`stage forming ... goal return within 74 days` (or `within 47..60 days`) states the rhythm a
stage aims for. Every purchase that leaves a customer in a stage with a goal opens a *goal
window* from that purchase; the customer's next purchase closes it:
- **met**: the next purchase came within the goal (for a range, not before its low end);
- **early**: it came before the low end of a range (`within 47..60 days`, back on day 30);
- **late**: it came after the goal, or has not come at all.

A window is counted only once it has been watched for its whole length: its purchase is at
least the goal's (high) length before the end of the run. Windows opened closer to the end
are censored: a return that has not happened yet cannot be told from one that never will,
and counting only the early returns among them would flatter the stage, so they are left out
of every share and reported as `censored`. An existing base's last purchase before day 0
opens a window too, in the stage the customer is in on day 0, when its goal reaches day 0:
one that closed before belongs to the history, not to the run.

The shares are of windows, so a customer who stays in a stage for five visits counts five
times, once per return: the stage's rhythm, as the clinic case states it ("forming patients
come back within 74 days").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from .cohorts import MONTH
from .engine import Run

__all__ = [
    "GOAL_COLUMNS",
    "add_goal_counts",
    "dense_goal_counts",
    "goal_bounds",
    "goal_counts",
    "goal_summary",
    "goal_table",
    "goal_windows",
    "run_windows",
]

OUTCOMES = ("met", "early", "late", "censored")
GOAL_COLUMNS = ("stage", "month", "windows", "met", "early", "late", "censored", "met_share")


def goal_windows(
    policy: Policy,
    days: float,
    customer: np.ndarray,
    time: np.ndarray,
    stage: np.ndarray,
    prior: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    same_day: bool = True,
) -> pd.DataFrame:
    """One row per goal window: stage code, opening time, the gap to the next purchase (inf:
    none yet) and the outcome (`met`, `early`, `late`, or `censored`).

    `customer`, `time`, `stage`: the purchases, any order; `stage` is the stage after each
    (-1: none). `prior`: customers, last purchase times (negative) and stages on day 0 of an
    existing base, opening windows before the run. `same_day` False: a customer's purchases
    on one day are one visit (as a real history records them), in the stage the last one
    left the customer in: a purchase on the day of the one before it opens and closes no
    window."""
    low, high = goal_bounds(policy)
    customer, time, stage = _in_order(customer, time, stage)
    if prior is not None:  # each goes before its customer's purchases in the run
        p_cust, p_time, p_stage = _in_order(*prior)
        at = np.searchsorted(customer, p_cust, side="left")
        customer = np.insert(customer, at, p_cust)
        time = np.insert(time, at, p_time)
        stage = np.insert(stage, at, p_stage)
    if not same_day and customer.size:
        day = np.floor(time)
        last_of_day = np.r_[(customer[1:] != customer[:-1]) | (day[1:] != day[:-1]), True]
        customer, time, stage = customer[last_of_day], time[last_of_day], stage[last_of_day]
    same = np.r_[customer[1:] == customer[:-1], False] if customer.size else np.zeros(0, bool)
    nxt = np.where(same, np.r_[time[1:], np.inf] if time.size else time, np.inf)
    has_goal = np.isfinite(high[stage])  # stage -1 (none) reads the last entry: no goal
    customer, time, stage, nxt = customer[has_goal], time[has_goal], stage[has_goal], nxt[has_goal]
    # a window that closed before day 0 (an existing base's last purchase long before it)
    # belongs to the history, not to the run: it is left out
    current = time + high[stage] >= 0
    customer, time, stage, nxt = customer[current], time[current], stage[current], nxt[current]
    lo, hi = low[stage], high[stage]
    gap = nxt - time
    code = np.where(gap < lo, 1, np.where(gap <= hi, 0, 2)).astype(np.int8)
    code[time + hi > days] = 3
    outcome = pd.Categorical.from_codes(code, categories=list(OUTCOMES))
    return pd.DataFrame(
        {"stage": stage, "customer": customer, "time": time, "gap": gap, "outcome": outcome}
    )


def run_windows(run: Run, buy: dict[str, np.ndarray], same_day: bool = True) -> pd.DataFrame:
    """A run's goal windows: its purchases (`buy`: the purchase log's arrays) and an existing
    base's last purchase before day 0, in the stage each left the customer in."""
    st = run.state
    before = np.flatnonzero(st.prior_purchases > 0)
    prior = (before, st.prior_last_t[before], st.prior_stage[before]) if before.size else None
    return goal_windows(
        run.policy, run.days, buy["customer"], buy["time"], buy["stage"], prior, same_day
    )


def goal_counts(windows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The goal windows counted per stage and month of the opening purchase (`stage`,
    `month`: the keys, sorted) and outcome (`counts`: met, early, late, censored): integers,
    so the counts of blocks of customers add up exactly (`add_goal_counts`)."""
    if windows.empty:
        return _grouped(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.int64))
    stage = windows["stage"].to_numpy().astype(np.int64)
    month = np.floor(windows["time"].to_numpy() / MONTH).astype(np.int64)
    code = windows["outcome"].cat.codes.to_numpy().astype(np.int64)  # OUTCOMES' order
    order = np.lexsort((month, stage))
    stage, month, code = stage[order], month[order], code[order]
    new = np.r_[True, (stage[1:] != stage[:-1]) | (month[1:] != month[:-1])]
    group = np.cumsum(new) - 1
    counts = np.bincount(group * 4 + code, minlength=int(new.sum()) * 4).reshape(-1, 4)
    return {"stage": stage[new], "month": month[new], "counts": counts}


def dense_goal_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """`goal_counts` from the windows counted per stage, month and outcome (`counts`, as
    purchase_kernels.py counts them): the (stage, month) keys with a window, sorted."""
    stage, month = np.nonzero(counts.sum(axis=2))
    return {"stage": stage.astype(np.int64), "month": month.astype(np.int64),
            "counts": counts[stage, month]}  # fmt: skip


def add_goal_counts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The goal counts of several blocks as one."""
    return _grouped(*(np.concatenate([p[k] for p in parts]) for k in ("stage", "month", "counts")))


def _grouped(stage: np.ndarray, month: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of (stage, month, counts) summed per distinct (stage, month), in their order."""
    if stage.size:
        order = np.lexsort((month, stage))
        stage, month, counts = stage[order], month[order], counts[order]
        starts = np.flatnonzero(np.r_[True, (stage[1:] != stage[:-1]) | (month[1:] != month[:-1])])
        stage, month, counts = stage[starts], month[starts], np.add.reduceat(counts, starts)
    return {"stage": stage, "month": month, "counts": counts}


def goal_table(policy: Policy, windows: pd.DataFrame | dict) -> pd.DataFrame:
    """`goals.csv`: per stage with a goal and month of the opening purchase (month 0 starts
    on day 0; negative months are an existing base's purchases before it), the windows
    watched to their end and their outcomes, the censored ones, and the share met.
    `windows`: the goal windows, or their counts (`goal_counts`)."""
    counts = goal_counts(windows) if isinstance(windows, pd.DataFrame) else windows
    names = [s.name for s in policy.stages]
    if not counts["stage"].size:
        return pd.DataFrame({c: [] for c in GOAL_COLUMNS})
    table = pd.DataFrame({"stage": counts["stage"], "month": counts["month"]})
    for k, outcome in enumerate(OUTCOMES):
        table[outcome] = counts["counts"][:, k]
    table.insert(2, "windows", table["met"] + table["early"] + table["late"])
    with np.errstate(invalid="ignore", divide="ignore"):
        table["met_share"] = np.where(
            table["windows"] > 0,
            table["met"] / table["windows"].where(table["windows"] > 0),
            np.nan,
        )
    table["stage"] = [names[s] for s in table["stage"]]
    return table[list(GOAL_COLUMNS)]


def goal_summary(policy: Policy, windows: pd.DataFrame | dict) -> dict[str, float | int | None]:
    """summary.json's figures per stage with a goal: `goal_met_STAGE` (the share of watched
    windows met), `goal_early_STAGE` (ranges only), `goal_late_STAGE` and the windows behind
    them, `goal_windows_STAGE` (None shares: no window watched to its end). `windows`: the
    goal windows, or their counts (`goal_counts`)."""
    counts = goal_counts(windows) if isinstance(windows, pd.DataFrame) else windows
    low, high = goal_bounds(policy)
    out: dict[str, float | int | None] = {}
    for code, stage in enumerate(policy.stages):
        if not np.isfinite(high[code]):
            continue
        mine = counts["counts"][counts["stage"] == code].sum(axis=0)
        met, early, late = (int(mine[k]) for k in range(3)) if mine.size else (0, 0, 0)
        n = met + early + late
        out[f"goal_met_{stage.name}"] = round(met / n, 6) if n else None
        if low[code] > 0:
            out[f"goal_early_{stage.name}"] = round(early / n, 6) if n else None
        out[f"goal_late_{stage.name}"] = round(late / n, 6) if n else None
        out[f"goal_windows_{stage.name}"] = n
    return out


def _in_order(
    customer: np.ndarray, time: np.ndarray, stage: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The purchases by customer, then time (a sorted log, as metrics passes, is kept)."""
    c, t = customer, time
    if c.size and not ((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (t[1:] >= t[:-1]))).all():
        order = np.lexsort((t, c))
        customer, time, stage = c[order], t[order], stage[order]
    return customer, time, stage.astype(np.int64)


def goal_bounds(policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Each stage's goal in days, (low, high); no goal: (0, inf). One entry more than the
    stages, for no stage (code -1)."""
    low = np.array([s.goal_return_min_days or 0.0 for s in policy.stages] + [0.0])
    high = np.array(
        [s.goal_return_days if s.goal_return_days is not None else np.inf for s in policy.stages]
        + [np.inf]
    )
    return low, high
