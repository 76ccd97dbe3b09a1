"""A scenario's runs as forecasts: shards of a split population merged into one run, each
run's censoring-aware retention curve, the event logs of each variant's first replication
side by side, and the paired differences of the KPIs against the base."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.statistics import interval, paired_difference
from ..simulation.engine import Run
from ..simulation.engine.merge import merge_runs
from ..simulation.metrics import Forecast, forecast

__all__ = [
    "RunResult",
    "forecasts",
    "merge_runs",
    "paired_differences",
    "variant_logs",
]


@dataclass
class RunResult:
    variant: str
    replication: int
    shard: int
    run: Run | None  # set for shards of a split population, merged later
    forecast: Forecast | None


def forecasts(
    results: list[RunResult],
) -> dict[tuple[str, int], tuple[Forecast, pd.DataFrame]]:
    """Each (variant, replication)'s forecast and its retention curve (`Forecast.retention`,
    Kaplan-Meier by customer age), a split population's shards merged first."""
    out: dict[tuple[str, int], tuple[Forecast, pd.DataFrame]] = {}
    shards: dict[tuple[str, int], list[RunResult]] = {}
    for r in results:
        if r.forecast is not None:
            out[(r.variant, r.replication)] = (r.forecast, r.forecast.retention)
        else:
            shards.setdefault((r.variant, r.replication), []).append(r)
    for key, parts in shards.items():
        parts.sort(key=lambda p: p.shard)
        merged = merge_runs([p.run for p in parts])  # type: ignore[misc]
        merged_forecast = forecast(merged, logs=merged.recorder.logs)
        out[key] = (merged_forecast, merged_forecast.retention)
    return out


def variant_logs(
    forecasts: dict[tuple[str, int], tuple[Forecast, pd.DataFrame]], order: list[str]
) -> dict[str, pd.DataFrame] | None:
    """The logs each variant's first replication kept, one table per log, the scenario's
    variant as the first column (`variant`; a rule's own A/B arm is `arm`), variants in the
    scenario's order."""
    kept = [(v, forecasts[(v, 0)][0].event_logs) for v in order if (v, 0) in forecasts]
    if not kept or any(logs is None for _, logs in kept):
        return None
    out = {}
    for name in kept[0][1]:  # type: ignore[union-attr]  (LOGS, and `events` with events)
        parts = []
        for variant, logs in kept:
            frame = logs[name].copy()  # type: ignore[index]
            frame.insert(0, "variant", variant)
            parts.append(frame)
        out[name] = pd.concat(parts, ignore_index=True)
    return out


def paired_differences(runs: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per variant and KPI: the mean with its 95% interval over the variant's runs that have
    a value, and the difference against the base paired by replication (common random
    numbers), with its interval, in % of the base over the same pairs, and whether it is
    significant (the interval excludes 0). A pair counts only when both of its runs have a
    value (a KPI such as `retention_365d` has none in a run with fewer than 20 customers
    observed that long); `pairs` says how many did (for the base: its runs with a value)."""
    kpis = [c for c in runs.columns if c not in ("variant", "replication")]
    base = runs[runs["variant"] == "base"].set_index("replication")
    rows = []
    for variant in [v for v in order if v in set(runs["variant"])]:
        mine = runs[runs["variant"] == variant].set_index("replication")
        for kpi in kpis:
            mean, low, high = interval(mine[kpi].to_numpy(dtype=float))
            a, b = mine[kpi].align(base[kpi], join="inner")
            d = paired_difference(a.to_numpy(dtype=float), b.to_numpy(dtype=float))
            other = variant != "base"
            rows.append(
                {
                    "variant": variant,
                    "kpi": kpi,
                    "mean": mean,
                    "low": low,
                    "high": high,
                    "diff": d.diff if other else 0.0,
                    "diff_low": d.low if other else math.nan,
                    "diff_high": d.high if other else math.nan,
                    "diff_pct": d.pct if other else math.nan,
                    "diff_pct_low": d.pct_low if other else math.nan,
                    "diff_pct_high": d.pct_high if other else math.nan,
                    "significant": bool(other and np.isfinite(d.low) and (d.low > 0 or d.high < 0)),
                    "pairs": d.pairs,
                }
            )
    return pd.DataFrame(rows)
