"""Segments: who is in each segment, day by day, and the moves in and out of them that rules
trigger on (`on enter high_value`, `on leave at_risk`) and success tests wait for.

Membership is re-evaluated, like a condition trigger's filters, only for the customers
touched today (a purchase, a stage change). A segment that changes with time alone (it reads
`days_since_purchase`, `messages(...)`, or the stage while stages change with time) is
re-evaluated for everyone who has arrived, each day, unless time enters it only through clocks
compared with constants (`rfm.r >= 4`, `days_since_purchase in 30..60 days`): such a segment
is re-evaluated for the touched, the newcomers and the customers one of whose clocks crosses
a threshold today (crossings.py), one schedule for all of them. The count of members per
segment is kept up to date from the moves, for segments.csv.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...compile.policy import Policy
from ...language.conditions import Expr, evaluate, required_columns
from .columns import Columns
from .components import time_driven
from .crossings import Crossings, wakes_by_clocks

__all__ = ["SegmentMemory", "Segments"]


@dataclass
class SegmentMemory:
    conditions: list[Expr]
    member: list[np.ndarray]  # by segment: whether each customer is in it
    time_driven: list[bool]  # by segment: membership can change with time alone
    count: np.ndarray  # members per segment
    # by segment: time-driven and re-evaluated on its crossing days, not for everyone daily
    waking: list[bool]
    crossings: Crossings  # the waking segments' thresholds and schedule

    @classmethod
    def of(
        cls,
        policy: Policy,
        n: int,
        stages_time_driven: bool,
        growing: frozenset[str] = frozenset(),
        days: int = 0,
    ) -> SegmentMemory:
        conditions = [seg.condition for seg in policy.segments]
        driven = [
            time_driven(c, growing)
            or (stages_time_driven and bool({"stage", "previous_stage"} & required_columns(c)))
            for c in conditions
        ]
        waking = [
            d and wakes_by_clocks(c, growing) for c, d in zip(conditions, driven, strict=True)
        ]
        return cls(
            conditions,
            [np.zeros(n, dtype=bool) for _ in conditions],
            driven,
            np.zeros(len(conditions), dtype=np.int64),
            waking,
            Crossings.of([c for c, w in zip(conditions, waking, strict=True) if w], days),
        )

    @property
    def any_time_driven(self) -> bool:
        return any(self.time_driven)

    @property
    def any_waking(self) -> bool:
        return any(self.waking)

    @property
    def any_daily(self) -> bool:
        """Some segment is re-evaluated for everyone every day."""
        return any(t and not w for t, w in zip(self.time_driven, self.waking, strict=True))


class Segments:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _start_segments(self, ids: np.ndarray) -> None:
        """An existing base's members on day 0, from its history: no moves, no events."""
        seg = self.segments
        if not seg.conditions or not ids.size:
            return
        cols = Columns(self, ids, 0)
        for k, condition in enumerate(seg.conditions):
            now = evaluate(condition, cols, ids.size)
            seg.member[k][ids] = now
            seg.count[k] = np.count_nonzero(seg.member[k])

    def _track_segments(self, d: int) -> None:
        """Day `d`'s moves in and out of each segment, as events for the rules."""
        seg = self.segments
        if not seg.conditions:
            return
        touched = self.idset.union(list(self.today.touched))
        everyone = slice(0, self.arrived)
        touched_cols = Columns(self, touched, d)
        everyone_cols = Columns(self, everyone, d) if seg.any_daily else None
        waking, waking_cols = touched, touched_cols
        if seg.any_waking:  # the customers whose waking segments may have changed today
            waking = seg.crossings.rows(self.idset, touched, self.arrived, d)
            seg.crossings.schedule(self, waking, d)
            waking_cols = Columns(self, waking, d)
        for k, condition in enumerate(seg.conditions):
            if seg.time_driven[k] and not seg.waking[k]:
                now = evaluate(condition, everyone_cols, self.arrived)
                was = seg.member[k][everyone]
                entered = np.flatnonzero(now & ~was)
                left = np.flatnonzero(was & ~now)
                seg.member[k][everyone] = now
            else:
                rows, cols = (waking, waking_cols) if seg.waking[k] else (touched, touched_cols)
                if not rows.size:
                    continue
                now = evaluate(condition, cols, rows.size)
                was = seg.member[k][rows]
                entered, left = rows[now & ~was], rows[was & ~now]
                seg.member[k][rows] = now
            seg.count[k] += entered.size - left.size
            if entered.size:
                self.today.events_segment.append(("enter", k, entered))
                self._segment_success(k, entered, d)
            if left.size:
                self.today.events_segment.append(("leave", k, left))
            self._trace_segment(k, entered, left, d)

    def _segment_success(self, k: int, entered: np.ndarray, d: int) -> None:
        """Success tests waiting for an entry into segment `k` (`success enter SEGMENT`)."""
        name = self.policy.segments[k].name
        for node_id, until in self.memory.waiting.items():
            ev = self.program.nodes[node_id].success.event
            if ev.kind == "enter" and ev.segment == name:
                self._succeed(node_id, entered[until[entered] >= d], d)

    def _trace_segment(self, k: int, entered: np.ndarray, left: np.ndarray, d: int) -> None:
        if self.trace is None:
            return
        name = self.policy.segments[k].name
        for who, what in ((entered, "entered"), (left, "left")):
            if (who == self.trace.customer).any():
                self.trace.add(d, "segment", f"{what} {name}")
