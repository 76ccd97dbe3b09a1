"""Blocks (or shards) of one population, each simulated on its own, merged into one run:
customers concatenated in block order (their ids shifted), counters added, logs appended in
block order. The merge of the same blocks gives the same bytes whichever process ran them.

A block measured where it ran (simulation.partials) sends back its recorder without the logs
(`without_logs`): the counters, merged here the same way (`merge_recorders`)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from .firings import Firings
from .recorder import Recorder
from .simulation import Run

__all__ = ["merge_recorders", "merge_runs", "without_logs"]

LOGS = ("purchases", "items", "unsubscribes", "unsent", "events")


def merge_runs(runs: list[Run]) -> Run:
    """Shards of one population as one run: customers concatenated, counters added."""
    first = runs[0]
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
    # every field given: State.__post_init__ keeps them (it fills only the ones not given)
    state = dataclasses.replace(first.state, **state_fields)
    merged = merge_recorders(runs, [r.state.n for r in runs])
    return dataclasses.replace(
        first, state=state, recorder=merged, customers=sum(r.customers for r in runs)
    )


def merge_recorders(runs: list[Run], sizes: list[int]) -> Recorder:
    """The recorders of the runs of blocks of `sizes` customers each, as one: counters added
    in block order, logs appended (their customers shifted by the blocks before)."""
    first = runs[0]
    offsets = np.cumsum([0, *sizes[:-1]])
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
        for name in LOGS:
            arrays = getattr(rec, name).arrays()
            arrays["customer"] = arrays["customer"] + offset
            getattr(merged, name).add(**arrays)
        for rule, count in rec.triggered.items():
            merged.triggered[rule] = merged.triggered.get(rule, 0) + count
        merged.referrals_beyond_room += rec.referrals_beyond_room
        merged.referral_room_full_days += rec.referral_room_full_days
        merged.referral_room = max(merged.referral_room, rec.referral_room)
        for node, (won, lost) in rec.node_outcomes.items():
            outcome = merged.node_outcomes.setdefault(node, [0, 0])
            outcome[0] += won
            outcome[1] += lost
    return merged


def without_logs(recorder: Recorder) -> Recorder:
    """A copy of `recorder` with its counters and none of its logs (purchases, items, rule
    firings...): what a block measured where it ran sends back. The per-message counts
    stay (one row per batch sent); the recorder itself is left as it was."""
    slim = copy.copy(recorder)
    for name in LOGS:
        log = getattr(recorder, name)
        setattr(slim, name, type(log)(**log.dtypes))
    # the arms' type kept: int32 past 32,767 arms (int16 would wrap the arms merged later)
    slim.rule_events = Firings(None, len(recorder.arm_counters["fired"]))
    if recorder.messages.log is not None:
        slim.messages = copy.copy(recorder.messages)
        slim.messages.log = None
    return slim
