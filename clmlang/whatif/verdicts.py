"""The verdict per variant, in words a manager can paste into an email: the change in revenue,
profit after marketing and retention against the base, each with its 95% interval, and what
else changed significantly."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from ..core.statistics import interval
from .traces import LABELS

if TYPE_CHECKING:
    from .experiment import Comparison

__all__ = ["change_words", "is_share", "verdict_css", "verdicts"]

_SHARES = ("retention", "goal_met_", "goal_early_", "goal_late_")


def is_share(kpi: str) -> bool:
    """Whether a KPI is a share (shown in %, its changes in percentage points)."""
    return kpi.endswith(("_rate", "_share_at_end")) or kpi.startswith(_SHARES)


def change_words(row: pd.Series, kpi: str, replications: int | None = None) -> str:
    """A change against the base with its interval: points for shares, % for the rest (the
    change itself where the base is 0); with `replications`, how many pairs it rests on when
    some had no value on one side (`paired_differences`)."""
    unit, scale, keys = "%", 1.0, ("diff_pct", "diff_pct_low", "diff_pct_high")
    if is_share(kpi):
        unit, scale, keys = " pts", 100.0, ("diff", "diff_low", "diff_high")
    elif not math.isfinite(row["diff_pct"]):  # a base of 0 has no percentage
        unit, keys = "", ("diff", "diff_low", "diff_high")
    mid, low, high = (float(row[k]) * scale for k in keys)
    if not math.isfinite(mid):
        return "-"
    pairs = int(row["pairs"]) if "pairs" in row.index else None
    short = replications is not None and pairs is not None and pairs < replications
    of = f"; {pairs} of {replications} pairs" if short else ""
    if mid == 0 and (not math.isfinite(low) or low == high == 0) and not short:
        return "no change"
    top = max(abs(v) for v in (mid, low, high) if math.isfinite(v)) or 1.0
    places = 1 if top >= 1 else 2 if top >= 0.1 else 3  # a small change still shows its sign
    if not math.isfinite(low):
        one = f"one pair of {replications}" if short else "one replication"
        return f"{mid:+.{places}f}{unit} ({one}: no interval)"
    return (
        f"{mid:+.{places}f}{unit} (95% interval {low:+.{places}f}{unit} to "
        f"{high:+.{places}f}{unit}{of})"
    )


def _retention_kpi(table: pd.DataFrame) -> str | None:
    base = table[table["variant"] == "base"].set_index("kpi")["mean"]
    for kpi in ("retention_90d", "retention_30d"):
        if kpi in base.index and math.isfinite(base[kpi]):
            return kpi
    return None


def _identical(comparison: Comparison, variant: str) -> bool:
    """Every KPI of every run equal to the base's: the change did not alter the runs."""
    runs = comparison.runs.drop(columns="variant")
    base = runs[comparison.runs["variant"] == "base"].reset_index(drop=True)
    mine = runs[comparison.runs["variant"] == variant].reset_index(drop=True)
    return base.shape == mine.shape and bool(
        ((base == mine) | (base.isna() & mine.isna())).all().all()
    )


def verdicts(comparison: Comparison) -> dict[str, str]:
    """A verdict per variant a manager can paste into an email: the change in revenue, profit
    after marketing and retention against the base with 95% intervals, which of them could be
    chance, and what else changed significantly (churn, unsubscribes, later stages)."""
    table = comparison.comparison
    retention = _retention_kpi(table)
    out = {}
    for variant in comparison.variant_names()[1:]:
        if _identical(comparison, variant):
            out[variant] = "the same as the base in every run: this change did not alter them"
            continue
        rows = table[table["variant"] == variant].set_index("kpi")
        parts = []
        for kpi in ("revenue", "profit", retention):
            if kpi and kpi in rows.index:
                change = change_words(rows.loc[kpi], kpi, comparison.replications)
                words = f"no change in {LABELS[kpi]}" if change == "no change" else ""
                words = words or f"{LABELS[kpi]} {change}"
                low, high = rows.loc[kpi, "diff_low"], rows.loc[kpi, "diff_high"]
                moved = math.isfinite(low) and low != high
                if not rows.loc[kpi, "significant"] and moved:
                    words += ", not significant"
                parts.append(words)
        notes = []
        for kpi, more, fewer in (
            ("churn_rate", "more churn", "less churn"),
            ("unsubscribes", "more unsubscribes", "fewer unsubscribes"),
            ("marketing_cost", "higher marketing cost", "lower marketing cost"),
        ):
            if kpi in rows.index and rows.loc[kpi, "significant"]:
                notes.append(more if rows.loc[kpi, "diff"] > 0 else fewer)
        loyal = _loyal_note(comparison, variant)
        if loyal:
            notes.append(loyal)
        out[variant] = "; ".join(parts) + ("; " + ", ".join(notes) if notes else "")
    return out


def _loyal_note(comparison: Comparison, variant: str) -> str | None:
    """Customers in the later half of the stages at the end, against the base."""
    series = comparison.series
    stage_cols = [c for c in series.columns if c.startswith("stage:") and c != "stage:(none)"]
    if len(stage_cols) < 2:
        return None
    late = stage_cols[len(stage_cols) // 2 :]
    end = series[series["day"] == series["day"].max()]
    count = end[late].sum(axis=1)
    base = count[end["variant"] == "base"].to_numpy()
    mine = count[end["variant"] == variant].to_numpy()
    if base.size != mine.size or base.size < 2:
        return None
    _, low, high = interval(mine - base)
    names = ", ".join(c.split(":", 1)[1] for c in late)
    if low > 0:
        return f"more customers in {names}"
    if high < 0:
        return f"fewer customers in {names}"
    return None


def verdict_css(comparison: Comparison, variant: str) -> str:
    """Green or red when profit after marketing changed significantly, grey otherwise."""
    table = comparison.comparison
    row = table[(table["variant"] == variant) & (table["kpi"] == "profit")]
    if row.empty or not row["significant"].iloc[0]:
        return "flat"
    return "up" if row["diff"].iloc[0] > 0 else "down"
