"""A scenario's runs as forecasts: shards of a split population merged into one run, and the
event logs of each variant's first replication, side by side."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..simulation.engine import Run
from ..simulation.engine.merge import merge_runs
from ..simulation.metrics import Forecast, forecast

__all__ = ["RunResult", "forecasts", "merge_runs", "variant_logs"]


@dataclass
class RunResult:
    variant: str
    replication: int
    shard: int
    run: Run | None  # set for shards of a split population, merged later
    forecast: Forecast | None


def forecasts(results: list[RunResult]) -> dict[tuple[str, int], Forecast]:
    out: dict[tuple[str, int], Forecast] = {}
    shards: dict[tuple[str, int], list[RunResult]] = {}
    for r in results:
        if r.forecast is not None:
            out[(r.variant, r.replication)] = r.forecast
        else:
            shards.setdefault((r.variant, r.replication), []).append(r)
    for key, parts in shards.items():
        parts.sort(key=lambda p: p.shard)
        merged = merge_runs([p.run for p in parts])  # type: ignore[misc]
        out[key] = forecast(merged, logs=merged.recorder.logs)
    return out


def variant_logs(
    forecasts: dict[tuple[str, int], Forecast], order: list[str]
) -> dict[str, pd.DataFrame] | None:
    """The logs each variant's first replication kept, one table per log, the scenario's
    variant as the first column (`scenario_variant`), variants in the scenario's order."""
    kept = [(v, forecasts[(v, 0)].event_logs) for v in order if (v, 0) in forecasts]
    if not kept or any(logs is None for _, logs in kept):
        return None
    out = {}
    for name in kept[0][1]:  # type: ignore[union-attr]  (LOGS, and `events` with events)
        parts = []
        for variant, logs in kept:
            frame = logs[name].copy()  # type: ignore[index]
            frame.insert(0, "scenario_variant", variant)
            parts.append(frame)
        out[name] = pd.concat(parts, ignore_index=True)
    return out
