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


_WORD = 64  # segments a word of membership bits holds


def _word_dtype(segments: int) -> type:
    """The narrowest unsigned integer with a bit for each of `segments` (at most 64)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if segments <= np.iinfo(dtype).bits:
            return dtype
    return np.uint64


@dataclass
class SegmentMemory:
    conditions: list[Expr]
    # who is in which segment: segment k is bit k % 64 of word k // 64, one word per
    # customer in the narrowest unsigned integer that holds its segments' bits
    bits: list[np.ndarray]
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
        words = [
            np.zeros(n, dtype=_word_dtype(min(_WORD, len(conditions) - w)))
            for w in range(0, len(conditions), _WORD)
        ]
        return cls(
            conditions,
            words,
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
            word = seg.bits[k // _WORD]
            bit = word.dtype.type(1) << word.dtype.type(k % _WORD)
            word[ids] = (word[ids] & ~bit) | np.where(now, bit, word.dtype.type(0))
            seg.count[k] = np.count_nonzero(word & bit)

    def _track_segments(self, d: int) -> None:
        """Day `d`'s moves in and out of each segment, as events for the rules: each group of
        segments re-evaluated for the same customers (everyone, today's waking customers,
        today's touched) has its membership bits gathered and scattered once, and only the
        customers whose bits changed are looked at segment by segment."""
        seg = self.segments
        if not seg.conditions:
            return
        touched = self.idset.union(list(self.today.touched))
        everyone = slice(0, self.arrived)
        waking = touched
        if seg.any_waking:  # the customers whose waking segments may have changed today
            waking = seg.crossings.rows(self.idset, touched, self.arrived, d)
            seg.crossings.schedule(self, waking, d)
        groups: dict[str, list[int]] = {}
        for k in range(len(seg.conditions)):
            if seg.time_driven[k] and not seg.waking[k]:
                groups.setdefault("everyone", []).append(k)
            else:
                groups.setdefault("waking" if seg.waking[k] else "touched", []).append(k)
        rows_of = {"everyone": everyone, "waking": waking, "touched": touched}
        moves: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name, ks in groups.items():
            moves.update(self._segment_moves(rows_of[name], ks, d))
        for k in range(len(seg.conditions)):
            if k not in moves:  # no one to re-evaluate
                continue
            who, was, now = moves[k]
            word = seg.bits[k // _WORD]
            shift, one = word.dtype.type(k % _WORD), word.dtype.type(1)
            was, now = (was >> shift) & one, (now >> shift) & one
            entered, left = who[now > was], who[was > now]
            seg.count[k] += entered.size - left.size
            if entered.size:
                self.today.events_segment.append(("enter", k, entered))
                self._segment_success(k, entered, d)
            if left.size:
                self.today.events_segment.append(("leave", k, left))
            self._trace_segment(k, entered, left, d)

    def _segment_moves(
        self, rows: np.ndarray | slice, ks: list[int], d: int
    ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Re-evaluate segments `ks` for `rows` on day `d` and store the new bits; by segment,
        the customers whose bits changed (in the order of `rows`) and their old and new
        words (a segment whose rows are none is left out)."""
        seg = self.segments
        size = rows.stop - rows.start if isinstance(rows, slice) else rows.size
        if not size:
            return {}
        cols = Columns(self, rows, d)
        moves = {}
        for w in sorted({k // _WORD for k in ks}):
            word = seg.bits[w]
            mine = [k for k in ks if k // _WORD == w]
            dtype = word.dtype.type
            mask = dtype(0)
            for k in mine:
                mask |= dtype(1) << dtype(k % _WORD)
            was = word[rows].copy()  # (a slice's rows are a view)
            now = was & ~mask
            for k in mine:
                hit = evaluate(seg.conditions[k], cols, size)
                bits = hit.astype(bool, copy=False).view(np.uint8)
                now |= np.left_shift(bits, k % _WORD, dtype=word.dtype)
            changed = np.flatnonzero(was != now)
            word[rows] = now
            who = changed + rows.start if isinstance(rows, slice) else rows[changed]
            for k in mine:
                moves[k] = (who, was[changed], now[changed])
        return moves

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
