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

The cells with no `active` window are evaluated together after their first day: yesterday's
values of all of them are one matrix, customer x cell (each cell's `RuleMemory.was_true` a
column of it, a view), so today's rows are gathered and scattered once for all the cells,
their values computed as a block (stage table x membership bits) and each cell's edges cut
from the block's (sorted by customer, as one by one). A clock rule is never a cell (it keeps
its own matrix, clockrules.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core.compiled import kernel

__all__ = ["Cells"]

_WORD = 64  # segments a word of membership bits holds (segments.py)


@dataclass
class Cells:
    segment: dict[int, int]  # cell rule -> its segment
    # the cells evaluated together (no window), as columns of `was`, and for each column its
    # stages (a table: stage code + 1 -> inside), its segment's word and bit
    column: dict[int, int] = field(default_factory=dict)
    was: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    inside: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    word: list[int] = field(default_factory=list)
    bit: list[int] = field(default_factory=list)
    day: int = -1  # the day `rows`, `stages`, `words` and `edges` were gathered for
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stages: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    words: dict[int, np.ndarray] = field(default_factory=dict)
    edges: list[np.ndarray] | None = None  # today's, by column (computed on first use)
    compiled: bool = False  # the run takes the compiled kernels (cell_edges)

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
            # a clock rule keeps its own matrix (clockrules.py)
            if r in sim.wakeups.after_messages or r not in sim.unclocked:
                continue
            k = by_condition.get(_key(rule.audience))
            if k is not None and sim.policy.segments[k].condition == rule.audience:
                found[r] = k
        cells = cls(found)
        together = [r for r in found if sim.windows[r][0] <= 0 and sim.windows[r][1] >= sim.days]
        if together:
            cells._together(sim, together)
        return cells

    def _together(self, sim, rules: list[int]) -> None:
        """Evaluate `rules` together: their yesterday's values as one matrix."""
        self.was = np.zeros((sim.n, len(rules)), dtype=bool)
        self.inside = np.ones((len(sim.policy.stages) + 1, len(rules)), dtype=bool)
        for c, r in enumerate(rules):
            self.column[r] = c
            self.was[:, c] = sim.memory.was_true[r]
            sim.memory.was_true[r] = self.was[:, c]  # a view, for the code that reads it
            lut = sim.eligibility.stage_lut[r]
            if lut is not None:
                self.inside[:, c] = lut
            k = self.segment[r]
            self.word.append(k // _WORD)
            self.bit.append(1 << (k % _WORD))

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
        self.day, self.rows, self.edges = d, rows, None
        self.compiled = bool(getattr(sim, "compiled", False))  # the kernel `cell_edges`
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

    def became(self, r: int, rows: np.ndarray | slice) -> np.ndarray | None:
        """Who became eligible for cell `r` today among today's `rows`, when it is evaluated
        with the other cells (None: it is not, or `rows` is not today's: its first day)."""
        c = self.column.get(r)
        if c is None or rows is not self.rows:
            return None
        if self.edges is None:
            one_word = len(set(self.word)) == 1  # the usual: every cell's segment in one word
            self.edges = self._edges_compiled() if self.compiled and one_word else self._edges()
        return self.edges[c]

    def _edges_compiled(self) -> list[np.ndarray]:
        """`_edges` by the kernel `cell_edges` (every cell's segment in one word)."""
        word = self.words[self.word[0]]
        masks = np.array(self.bit, dtype=word.dtype)
        edges, starts = cell_edges(self.rows, self.stages, word, masks, self.inside, self.was)
        cuts = starts.tolist()
        return [edges[cuts[c] : cuts[c + 1]] for c in range(len(self.bit))]

    def _edges(self) -> list[np.ndarray]:
        """Today's edges of every cell evaluated together, by column (sorted by customer),
        with their values stored as yesterday's for tomorrow (the twin of `cell_edges`)."""
        rows = self.rows
        now = self.inside[self.stages.astype(np.intp) + 1]  # rows x cells: in its stages
        for w in sorted(set(self.word)):
            cols = [c for c, word in enumerate(self.word) if word == w]
            word = self.words[w]
            masks = np.array([self.bit[c] for c in cols], dtype=word.dtype)
            member = (word[:, None] & masks[None, :]) != 0
            if len(cols) == now.shape[1]:  # the usual: every cell's segment in one word
                now &= member
            else:
                now[:, cols] &= member
        was = self.was[rows]
        became = now & ~was
        self.was[rows] = now
        # by cell, then by row (sorted by customer); numpy's nonzero of a 2-d array is slow
        cell, at = np.divmod(np.flatnonzero(became.T), rows.size)
        cuts = np.searchsorted(cell, np.arange(1, now.shape[1]))
        return [rows[part] for part in np.split(at, cuts)]


@kernel
def cell_edges(rows, stages, word, masks, inside, was):
    """Today's edges of the cells evaluated together (`Cells._edges`, its numpy twin): for
    each of today's `rows` (sorted, distinct; their `stages` and membership `word`
    gathered) and each cell c, its value now (inside its stages, `inside[stage + 1, c]`,
    and a member of its segment, `word & masks[c]`) against yesterday's (`was[row, c]`,
    then overwritten with today's). Returns the rows whose value became true, by cell and
    by row within a cell, and where each cell's part starts (cells + 1 bounds)."""
    m, cells = rows.size, masks.size
    became = np.empty((m, cells), dtype=np.bool_)
    starts = np.zeros(cells + 1, dtype=np.int64)
    for i in range(m):
        row, stage, member = rows[i], np.int64(stages[i]) + 1, word[i]
        for c in range(cells):
            now = inside[stage, c] and (member & masks[c]) != 0
            edge = now and not was[row, c]
            became[i, c] = edge
            starts[c + 1] += edge
            was[row, c] = now
    for c in range(cells):
        starts[c + 1] += starts[c]
    edges = np.empty(starts[cells], dtype=rows.dtype)
    at = starts[:-1].copy()
    for i in range(m):  # by cell, then by row: each cell's rows in order
        for c in range(cells):
            if became[i, c]:
                edges[at[c]] = rows[i]
                at[c] += 1
    return edges, starts


def _key(expr) -> str:
    return repr(expr)
