"""Cells: condition rules whose filters are their stages and one segment, read from the
segments' membership bits instead of re-evaluating the segment's condition.

A grid rule (`for each stage in ... and each segment in ...`) expands into one rule per cell,
each with its stage and its segment's condition inlined as its audience (`rfm.r >= 4 and
rfm.f >= 4 and rfm.m >= 4`). As a wake-up rule, each cell would re-evaluate that condition
for the customers touched or woken today and put them back on the calendar at their next
crossing: ecommerce_cdp's 28 cells gathering the same columns for nearly the same rows every
day. But the segments have just been re-evaluated (segments.py, before the rules) for
everyone whose membership may have changed today, so a cell's filters are its stages' look-up
and the segment's bit. They change only for the customers touched today (a stage move
touches), the newcomers and the customers who moved in or out of a cell's segment today: one
set of rows a day for all the cells, their stages and membership words gathered once, and no
wake-ups on the calendar. The edges are those of the wake-up rule, which looks at a customer
on every day its filters can change (tests/test_cells.py, and the examples' hashes).

A rule is a cell when it is a wake-up rule (wakeups.py) with no `when`, not one that reads
what messages change, and its audience is a segment's condition, of a segment re-evaluated
for the newcomers and whenever it may change (one that changes with time: on its crossing
days or for everyone daily; a segment of event-driven state is re-evaluated for the touched
alone, and a newcomer's bit would wait for their first event).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Cells"]

_WORD = 64  # segments a word of membership bits holds (segments.py)


@dataclass
class Cells:
    segment: dict[int, int]  # cell rule -> its segment
    day: int = -1  # the day `rows`, `stages` and `words` were gathered for
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stages: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    words: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, sim) -> Cells:
        """The cell rules of the simulation `sim` and their segments."""
        segments = sim.segments
        by_condition = {}
        for k, seg in enumerate(sim.policy.segments):
            if segments.time_driven[k]:
                by_condition.setdefault(_key(seg.condition), k)
        found = {}
        for r in sim.wakeups.thresholds:
            rule = sim.rules[r]
            if rule.condition is not None or rule.audience is None:
                continue
            if r in sim.wakeups.after_messages:
                continue
            k = by_condition.get(_key(rule.audience))
            if k is not None and sim.policy.segments[k].condition == rule.audience:
                found[r] = k
        return cls(found)

    def __contains__(self, r: object) -> bool:
        return r in self.segment

    def today(self, sim, d: int) -> np.ndarray:
        """Whom the cells re-evaluate on day `d` (after their first day): the touched, the
        newcomers and those who moved in or out of a cell's segment today (sorted,
        distinct); their stages and membership words are gathered once for all the cells."""
        if self.day == d:
            return self.rows
        mine = set(self.segment.values())
        moved = [who for _, k, who in sim.today.events_segment if k in mine]
        rows = sim.idset.union([sim.waking_rows[0], *moved])
        self.day, self.rows = d, rows
        self.stages = sim.state.stage[rows]
        self.words = {w: sim.segments.bits[w][rows] for w in {k // _WORD for k in mine}}
        return rows

    def eligible(self, sim, r: int, rows: np.ndarray | slice) -> np.ndarray:
        """Rule `r`'s filters for `rows` (today's rows, or everyone on its first day): in
        one of its stages and a member of its segment."""
        k = self.segment[r]
        w = k // _WORD
        if rows is self.rows:
            stage, word = self.stages, self.words[w]
        else:
            stage, word = sim.state.stage[rows], sim.segments.bits[w][rows]
        bit = word.dtype.type(1) << word.dtype.type(k % _WORD)
        member = (word & bit) != 0
        lut = sim.eligibility.stage_lut[r]
        if lut is None:
            return member
        inside = lut[stage + 1]
        inside &= member
        return inside


def _key(expr) -> str:
    return repr(expr)
