"""Blocks (or shards) of one population, each simulated on its own, merged into one run:
customers concatenated in block order (their ids shifted), counters added, logs appended in
block order. The merge of the same blocks gives the same bytes whichever process ran them."""

from __future__ import annotations

import dataclasses

import numpy as np

from .simulation import Run

__all__ = ["merge_runs"]


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
