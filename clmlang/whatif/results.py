"""A scenario's runs as forecasts: shards of a split population merged into one run, and the
event logs of each variant's first replication, side by side."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..simulation.engine import Run
from ..simulation.metrics import Forecast, forecast

__all__ = ["RunResult", "forecasts", "merge_runs", "variant_logs"]


@dataclass
class RunResult:
    variant: str
    replication: int
    shard: int
    run: Run | None  # set for shards of a split population, merged later
    forecast: Forecast | None


def merge_runs(runs: list[Run]) -> Run:
    """Shards of one population as one run: customers concatenated, counters added."""
    first = runs[0]
    offsets = np.cumsum([0] + [r.state.n for r in runs[:-1]])
    state_fields = {}
    for f in dataclasses.fields(first.state):
        values = [getattr(r.state, f.name) for r in runs]
        if f.name == "n":
            state_fields["n"] = sum(values)
        elif f.name == "plan":  # the arrivals of prospects: a market with them is not split
            state_fields["plan"] = None
        elif f.name in ("attributes", "growth"):
            state_fields[f.name] = {k: np.concatenate([v[k] for v in values]) for k in values[0]}
        else:
            state_fields[f.name] = np.concatenate(values)
    state = dataclasses.replace(first.state, **{k: v for k, v in state_fields.items()})
    recorder = first.recorder
    merged = type(recorder)(
        first.days,
        len(first.policy.stages),
        len(first.policy.channels),
        len(first.arms),
        logs=recorder.logs,
        segments=len(first.policy.segments),
        events=len(first.policy.events),
    )
    for r, offset in zip(runs, offsets, strict=True):
        rec = r.recorder
        for key in merged.daily:
            merged.daily[key] += rec.daily[key]
        merged.channel_messages += rec.channel_messages
        merged.channel_cost += rec.channel_cost
        merged.channel_backlog += rec.channel_backlog
        merged.channel_expired += rec.channel_expired
        merged.channel_waited += rec.channel_waited
        merged.stage_counts += rec.stage_counts
        merged.segment_counts += rec.segment_counts
        merged.event_counts += rec.event_counts
        merged.transitions += rec.transitions
        for key in merged.arm_counters:
            merged.arm_counters[key] += rec.arm_counters[key]
        merged.rule_events.extend(rec.rule_events, offset)
        merged.messages.extend(rec.messages, offset)
        for name in (
            "purchases",
            "items",
            "unsubscribes",
            "unsent",
            "events",
        ):
            arrays = getattr(rec, name).arrays()
            arrays["customer"] = arrays["customer"] + offset
            getattr(merged, name).add(**arrays)
        for rule, count in rec.triggered.items():
            merged.triggered[rule] = merged.triggered.get(rule, 0) + count
        for node, (won, lost) in rec.node_outcomes.items():
            outcome = merged.node_outcomes.setdefault(node, [0, 0])
            outcome[0] += won
            outcome[1] += lost
    return dataclasses.replace(
        first, state=state, recorder=merged, customers=sum(r.customers for r in runs)
    )


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
