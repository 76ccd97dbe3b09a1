"""Stages: each customer's stage from the stage conditions (the first that holds, in spec
order). A move records its transition, raises the enter and leave events that rules trigger
on, and meets the success tests waiting for a stage entry.

Stages that change with time alone (`days_since_purchase < 60 days`) are re-assigned each
day: for everyone who has arrived, or, when the stage conditions read time only through
clocks compared with constants, for the customers touched today, the newcomers and those one
of whose clocks crosses a threshold today (crossings.py), the only ones whose stage can
have changed."""

from __future__ import annotations

import numpy as np

from ...compile.policy import Policy
from ...language.conditions import evaluate, required_columns
from .buying_kernels import restage
from .columns import Columns
from .components import waiting_on
from .crossings import Crossings, wakes_by_clocks

# a stage condition that reads the stage itself may change when re-evaluated with nothing
# else changed, so such stages are re-assigned for everyone each day
_OWN_STAGE = {"stage", "previous_stage", "days_in_stage"}


def stage_crossings(
    policy: Policy, time_driven: bool, growing: frozenset[str], days: int
) -> Crossings | None:
    """The thresholds and schedule of stages that change with time through clocks alone
    (None: no stage changes with time, or some does otherwise)."""
    conditions = [s.condition for s in policy.stages]
    if not time_driven or any(_OWN_STAGE & required_columns(c) for c in conditions):
        return None
    if not all(wakes_by_clocks(c, growing) for c in conditions):
        return None
    return Crossings.of(conditions, days)


# the purchase counts a stage table covers (`purchase_stage_table`); a batch with a count
# beyond it evaluates the conditions
COUNTS = 1024


def purchase_stage_table(policy: Policy) -> np.ndarray | None:
    """Each purchase count's stage (0 to COUNTS - 1), when every stage condition reads the
    purchase count alone (`stage purchases in 3..7`): a purchase then moves its buyer to the
    stage of their new count, a look-up (None: some condition reads something else)."""
    conditions = [s.condition for s in policy.stages]
    if not conditions or any(required_columns(c) - {"purchases"} for c in conditions):
        return None
    counts = {"purchases": np.arange(COUNTS, dtype=float)}  # as `Columns` gives it
    table = np.full(COUNTS, -1, dtype=np.int16)
    undecided = np.ones(COUNTS, dtype=bool)
    for code, condition in enumerate(conditions):
        hit = undecided & evaluate(condition, counts, COUNTS)
        table[hit] = code
        undecided &= ~hit
    return table


class Stages:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _restage_buyers(self, ids: np.ndarray, k: np.ndarray, d: int) -> np.ndarray:
        """`_assign_stages` of buyers whose purchase count is now `k` + 1, and their stages:
        with a stage table (`purchase_stage_table`, when compiled), a look-up of their count
        in one pass over their rows (buying_kernels.restage), the conditions otherwise."""
        table = self.purchase_stages
        if table is None or self.plan is not None or not k.size or k.max() + 1 >= COUNTS:
            self._assign_stages(ids, d)
            return self.state.stage[ids]
        st = self.state
        ids = ids.astype(np.int64, copy=False)
        new, moved = restage(
            ids, table, st.purchases, st.stage, st.previous_stage, st.stage_since, np.float32(d)
        )
        if moved.size:
            who = ids[moved]
            self._record_moves(who, st.previous_stage[who], new[moved], d)
        return new

    def _age_stages(self, d: int) -> None:
        """Day `d`'s stage moves by time alone (stages that change with time)."""
        crossings = self.stage_crossings
        if crossings is None:
            self._assign_stages(np.arange(self.arrived), d)
            return
        touched = self.idset.union(list(self.today.touched))
        rows = crossings.rows(self.idset, touched, self.arrived, d)
        self._assign_stages(rows, d)
        crossings.schedule(self, rows, d)

    def _assign_stages(self, ids: np.ndarray, d: int, events: bool = True) -> None:
        """Re-evaluate the stage of `ids` on day `d`; with `events` False (the existing base at
        the start) the moves are recorded as transitions only."""
        st = self.state
        if not self.policy.stages or not ids.size:
            return
        cols = Columns(self, ids, d)
        new = np.full(ids.size, -1, dtype=np.int16)
        undecided = np.ones(ids.size, dtype=bool)
        for code, stage in enumerate(self.policy.stages):
            hit = undecided & evaluate(stage.condition, cols, ids.size)
            np.copyto(new, code, where=hit)
            undecided ^= hit  # hit is within undecided
            if not undecided.any():
                break
        if self.plan is not None:  # prospects who left the base are in no stage
            new[self.gone[ids]] = -1
        old = st.stage[ids]
        moved = new != old
        if not moved.any():
            return
        who, frm, to = ids[moved], old[moved], new[moved]
        st.previous_stage[who] = frm
        st.stage[who] = to
        st.stage_since[who] = d
        self._record_moves(who, frm, to, d, events)

    def _record_moves(
        self, who: np.ndarray, frm: np.ndarray, to: np.ndarray, d: int, events: bool = True
    ) -> None:
        """The moves of `who` from stage `frm` to `to` on day `d`: their transitions, and with
        `events` the enter and leave events and the success tests waiting for an entry."""
        table = self.recorder.transitions  # counted by a bincount: np.add.at is slow
        cells = (frm.astype(np.intp) + 1) * table.shape[1] + (to + 1)
        table += np.bincount(cells, minlength=table.size).reshape(table.shape).astype(table.dtype)
        if not events:
            return
        self.today.touched.append(who)
        for code in np.flatnonzero(np.bincount(to + 1)) - 1:
            if code >= 0:
                self.today.events_stage.append(("enter", int(code), who[to == code]))
        for code in np.flatnonzero(np.bincount(frm + 1)) - 1:
            if code >= 0:
                self.today.events_stage.append(("leave", int(code), who[frm == code]))
        for node_id, until in self.memory.waiting.items():
            node = self.program.nodes[node_id]
            ev = node.success.event
            if ev.kind == "enter" and ev.stage in self.stage_index:
                hit = who[(to == self.stage_index[ev.stage]) & waiting_on(until, who, d)]
                self._succeed(node_id, hit, d)
        if self.trace and (who == self.trace.customer).any():
            i = int(np.flatnonzero(who == self.trace.customer)[0])
            names = [s.name for s in self.policy.stages]
            self.trace.add(
                d,
                "stage",
                f"{names[frm[i]] if frm[i] >= 0 else '(none)'} -> "
                f"{names[to[i]] if to[i] >= 0 else '(none)'}",
            )
