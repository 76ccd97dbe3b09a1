"""Rules: triggers, eligibility, re-entry, holdouts and variants, flows and their follow-ups,
success tests and their outcomes."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from ...compile.policy import ContinueStep, SendStep, StopStep, WaitStep
from ...language.conditions import evaluate
from .columns import Columns
from .components import waiting_on
from .idset import as_range
from .schedules import scheduled
from .streams import Purpose


class Rules:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _rules(self, bucket: dict, d: int) -> None:
        """Day `d`'s rules: each one's trigger and entry, then what the calendar has due
        today, then the flows all of that started."""
        self._anchor_stage_events(d)
        self.recorder.rule_events.compiled = self.compiled  # its runs by kernel or numpy
        parts = list(self.today.touched)
        if d == 0 and self.existing:  # an existing base's history counts from day 0
            parts.append(np.arange(self.customers))
        touched = self.idset.union(parts)
        everyone = slice(0, self.arrived)
        self.waking_rows = self._waking_rows_today(touched) if self.wakeups else None
        date = self.start_date + dt.timedelta(days=d)
        clocked = self.clock_rules
        # clock rules (clockrules.py) are evaluated together: those with work today run
        work = self._clock_candidates(bucket, d) if clocked else {}
        order = sorted([*self.unclocked, *work]) if clocked else self.unclocked
        simple = clocked.simple if clocked and self.trace is None else ()
        for r in order:
            rule = self.rules[r]
            first, last = self.windows[r]
            if not first <= d <= last:  # outside its `active` window: the rule does nothing
                continue
            if r in work:
                ids, self.today_edges = work[r]
                pre_evaluated = True
            else:
                ids, pre_evaluated = self._triggered(r, rule, bucket, touched, everyone, date, d)
            if not ids.size:
                continue
            self.recorder.triggered[r] = self.recorder.triggered.get(r, 0) + int(ids.size)
            enter = self._enter_clocked if r in simple else self._enter  # the usual: fast
            # those arrived only: a schedule's are; clock rules' ids are sorted
            if rule.trigger.kind != "schedule" and (r not in work or ids[-1] >= self.arrived):
                ids = ids[ids < self.arrived]
            enter(r, ids, pre_evaluated, d)
        self._due(bucket, d)
        self._waking_done_today()
        while self.today.pending_flows:
            node_id, step, ids = self.today.pending_flows.pop(0)
            node = self.program.nodes[node_id]
            ids = self._not_exited(node.rule, ids, d)
            self._run_steps(node_id, step, ids, d)

    def _anchor_stage_events(self, d: int) -> None:
        """Today's stage and segment entries and exits, and behavioural events, start the
        timers of "N days after enter/leave STAGE or SEGMENT" and "after event E" rules."""
        moves = [(kind, code, who, False) for kind, code, who in self.today.events_stage]
        moves += [(kind, code, who, True) for kind, code, who in self.today.events_segment]
        names = self.event_memory.names
        moves += [("event", names[e], who, None) for e, who in self.today.events_behaviour]
        for kind, code, who, segment in moves:
            for r in self.memory.anchor:
                ev = self.rules[r].trigger.event
                if ev.kind != kind:
                    continue
                if code == (ev.name if kind == "event" else self._move_code(ev, segment)):
                    # the latest anchor, even if the timer is not set
                    self.memory.anchor[r][who] = d
                    due = d + round(self.rules[r].trigger.days)
                    if due <= self.windows[r][1]:  # later, the rule's window has closed
                        self.calendar.add(due, "timer", r, who)

    def _triggered(
        self, r: int, rule, bucket: dict, touched, everyone: slice, date: dt.date, d: int
    ) -> tuple[np.ndarray, bool]:
        """Whom rule `r`'s trigger picks today, and whether its filters were evaluated on the
        way (condition triggers: the level of the filters, for whom it may have changed)."""
        st = self.state
        trig = rule.trigger
        kind = trig.kind
        if kind == "event":
            return self._event_candidates(trig.event), False
        if kind in ("after", "before", "anniversary", "inactivity"):
            ids = bucket.get(("timer", r), np.zeros(0, np.int64))
            if kind == "inactivity":
                ids = ids[np.floor(st.last_t[ids]) == d - round(trig.days)]
            elif r in self.memory.anchor:
                ids = ids[self.memory.anchor[r][ids] == d - round(trig.days)]
            return ids, False
        if kind == "schedule":
            ids = np.arange(self.arrived) if scheduled(trig, date) else np.zeros(0, np.int64)
            return ids, False
        # a window opening after the first day sees everyone on its first day, as if the rule
        # were deployed then (its conditions were not followed while it was inactive)
        opens_today = d == self.windows[r][0] > 0
        if r in self.wakeups:  # time enters only through clocks: wake-ups (wakeups.py)
            if d == max(self.windows[r][0], 0):
                rows = everyone
            else:
                rows = self._waking_rows(r, bucket, d)
                idle = rule.reentry.kind != "always" and ("reentry", r) not in bucket
                if idle and not rows.size:
                    return _NONE, True
            return self._waking_edge(r, rows, bucket, d), True
        rows = everyone if self.eligibility.time_driven[r] or opens_today else touched
        return self._edge(r, rows, d), True

    def _enter(self, r: int, ids: np.ndarray, pre_evaluated: bool, d: int) -> None:
        """Rule `r` fired for the triggered `ids` whose filters hold and whom re-entry
        allows; the others traced with the reason."""
        if not pre_evaluated and ids.size:
            ok = self._eligible(r, ids, d)
            if self.trace is not None:  # (a schedule's candidates are everyone: no gather)
                self._trace_rule(ids[~ok], d, r, "triggered, but its filters are false")
            ids = ids[ok]
        allowed = self._reentry(r, ids, d)
        if self.trace is not None and allowed.size < ids.size:
            blocked = np.setdiff1d(ids, allowed)
            if self.rules[r].trigger.kind == "condition":
                blocked = np.intersect1d(blocked, self.today_edges)
            self._trace_rule(blocked, d, r, "triggered, but re-entry does not allow it yet")
        if allowed.size:
            self._fire(r, allowed, d)

    def _due(self, bucket: dict, d: int) -> None:
        """The calendar's other items for today: follow-ups queued as flows, success windows
        closed as failures, delayed messages queued for sending."""
        for (kind, key), ids in bucket.items():
            if kind == "continue":
                node_id, step = key
                self.today.pending_flows.append((node_id, step, ids))
            elif kind == "deadline":
                until = self.memory.waiting[key]
                failed = ids[until[ids] == d]
                if failed.size:
                    until[failed] = np.nan
                    node = self.program.nodes[key]
                    self.recorder.arm_counters["failed"][
                        self.arms.of[(node.rule, node.variant)]
                    ] += failed.size
                    self.recorder.node_outcomes.setdefault(key, [0, 0])[1] += failed.size
                    self._trace_rule(failed, d, node.rule, "failure: the success window closed")
                    if node.on_failure is not None:
                        self.today.pending_flows.append((node.on_failure, 0, failed))
            elif kind == "send":
                self._enqueue(key, ids)

    def _event_candidates(self, ev) -> np.ndarray:
        parts: list[np.ndarray] = []
        if ev.kind == "purchase":
            for ids, product, *_ in self.today.events_purchase:
                parts.append(ids[self._event_match(ev, ids, product)])
        elif ev.kind == "first_purchase" and (ev.product or ev.line):
            for ids, product, *held in self.today.events_purchase:
                hit = self._event_match(ev, ids, product) & self._first_of(ev, product, held)
                parts.append(ids[hit])
        elif ev.kind == "first_purchase":
            parts = list(self.today.events_first)
        elif ev.kind == "event":
            e = self.event_memory.index[ev.name]
            parts = [who for k, who in self.today.events_behaviour if k == e]
        else:
            segment = ev.segment is not None
            code = self._move_code(ev, segment)
            events = self.today.events_segment if segment else self.today.events_stage
            parts = [who for kind, c, who in events if kind == ev.kind and c == code]
        return self.idset.union(parts)

    def _move_code(self, ev, segment: bool) -> int | None:
        """The code of the stage, or segment, an enter/leave event names (None: other kind)."""
        if segment:
            return self.segment_index.get(ev.segment) if ev.segment is not None else None
        return self.stage_index.get(ev.stage) if ev.stage is not None else None

    def _event_match(self, ev, ids: np.ndarray, product: np.ndarray) -> np.ndarray:
        if ev.product is not None:
            return product == self.product_index[ev.product]
        if ev.line is not None and self.catalogue.count:
            return self.catalogue.line[product] == self.line_index[ev.line]
        return np.ones(ids.size, dtype=bool)

    def _first_of(self, ev, product: np.ndarray, held: list[np.ndarray]) -> np.ndarray:
        """Whether each purchase of `product` is the buyer's first of the event's product or
        line, from what they owned before it (`held`: product bits, line bits)."""
        if ev.product is not None:
            bit, owned = self.product_index[ev.product], held[0]
        else:
            bit, owned = self.line_index[ev.line], held[1]
        return (owned >> np.uint64(bit)) & np.uint64(1) == 0

    def _edge(self, r: int, rows: np.ndarray | slice, d: int) -> np.ndarray:
        """Condition and `every` triggers: who fires today, from the level of the filters.

        `rows` is whom to re-evaluate: everyone who has arrived (a slice, so columns are views,
        not copies) when the filters change with time, else only today's touched customers.
        """
        rule = self.rules[r]
        now_true = self._eligible(r, rows, d)
        was = self.memory.was_true[r]
        if isinstance(rows, slice):
            changed = np.flatnonzero(now_true & ~was[rows])
            was[rows] = now_true
            became = changed
        else:
            became = rows[now_true & ~was[rows]]
            was[rows] = now_true
        if rule.trigger.kind == "every":
            since = self.memory.eligible_since[r]
            since[became] = d
            holders = np.flatnonzero(was[: self.arrived])
            since_h = since[holders]
            return holders[((d - since_h) % max(1, round(rule.trigger.days)) == 0) & (d > since_h)]
        if rule.reentry.kind == "edge":
            return became
        # always, once, once per period: whoever holds the condition (re-entry filters next);
        # a trace says "re-entry does not allow it" on the edge only, not every day it holds
        self.today_edges = became
        return np.flatnonzero(was[: self.arrived])

    def _eligible(self, r: int, ids: np.ndarray | slice, d: int) -> np.ndarray:
        """The rule's filters (`in stage`, `for`, `when`) for each of `ids`."""
        lut, rest = self.eligibility.stage_lut[r], self.eligibility.rest[r]
        ids = as_range(ids)  # everyone (a schedule's candidates): views, not gathers
        size = ids.stop - ids.start if isinstance(ids, slice) else ids.size
        if lut is None and rest is None:
            return np.ones(size, dtype=bool)
        if lut is None:
            return evaluate(rest, Columns(self, ids, d), size)
        stage = self.state.stage[ids]
        codes = self.eligibility.stage_codes[r]
        if len(codes) <= 4:  # a few comparisons beat a gather
            inside = stage == codes[0]
            for code in codes[1:]:
                inside |= stage == code
        else:
            inside = lut[stage + 1]
        if rest is None or not inside.any():
            return inside
        # columns of a slice are views, cheaper than gathering rows, but not of a small stage
        if isinstance(ids, slice) and np.count_nonzero(inside) * 8 >= size:
            inside &= evaluate(rest, Columns(self, ids, d), size)
            return inside
        sub = np.flatnonzero(inside) + ids.start if isinstance(ids, slice) else ids[inside]
        inside[inside] = evaluate(rest, Columns(self, sub, d), sub.size)
        return inside

    def _reentry(self, r: int, ids: np.ndarray, d: int) -> np.ndarray:
        re = self.rules[r].reentry
        if re.kind not in ("once",) or not ids.size:
            return ids
        return self.memory.last_fired[r].allows(ids, d, re.period_days)

    def _fire(self, r: int, ids: np.ndarray, d: int) -> None:
        rule, rec, S = self.rules[r], self.recorder, self.streams
        if r in self.memory.last_fired:  # kept for `reentry once` rules
            self.memory.last_fired[r][ids] = d
        self._schedule_reentry(r, ids, d)
        counters = rec.arm_counters
        if not rule.holdout and not rule.variants:  # the usual case: one arm, nobody held out
            arm = self.arms.of[(r, -1)]
            counters["fired"][arm] += ids.size
            rec.rule_events.add(arm=arm, customer=ids, day=d)
            self._trace_rule(ids, d, r, "fired")
            self._run_steps(self.program.roots[r][0], 0, ids, d)
            return
        held = (
            S.uniform(ids, Purpose.HOLDOUT, self.arms.rule_keys[r]) < rule.holdout
            if rule.holdout
            else np.zeros(ids.size, bool)
        )
        if held.any():
            hold_arm = self.arms.holdout[r]
            counters["fired"][hold_arm] += held.sum()
            rec.rule_events.add(arm=hold_arm, customer=ids[held], day=d)
            self._trace_rule(ids[held], d, r, "held out: in the rule's control group")
        treated = ids[~held]
        if not treated.size:
            return
        roots = self.program.roots[r]
        if rule.variants:
            u = S.uniform(treated, Purpose.VARIANT, self.arms.rule_keys[r])
            variant = np.minimum(
                np.searchsorted(self.arms.variant_cumulative[r], u, side="right"), len(roots) - 1
            )
        else:
            variant = np.zeros(treated.size, dtype=np.int64)
        for v, root in enumerate(roots):
            who = treated[variant == v]
            if not who.size:
                continue
            arm = self.arms.of[(r, v if rule.variants else -1)]
            counters["fired"][arm] += who.size
            rec.rule_events.add(arm=arm, customer=who, day=d)
            self._trace_rule(
                who, d, r, "fired" + (f", variant {rule.variants[v].name}" if rule.variants else "")
            )
            self._run_steps(root, 0, who, d)

    def _not_exited(self, r: int, ids: np.ndarray, d: int) -> np.ndarray:
        ex = self.rules[r].exit
        if ex is None or not ids.size:
            return ids
        gone = evaluate(ex, Columns(self, ids, d), ids.size)
        self._trace_rule(ids[gone], d, r, "left the flow: its exit condition holds")
        return ids[~gone]

    def _run_steps(self, node_id: int, start: int, ids: np.ndarray, d: int) -> None:
        node = self.program.nodes[node_id]
        for i in range(start, len(node.steps)):
            if not ids.size:
                return
            step = node.steps[i]
            if isinstance(step, SendStep):
                self._enqueue(self.steps.ids[(node_id, i)], ids)
            elif isinstance(step, WaitStep):
                self.calendar.add(d + max(1, round(step.days)), "continue", (node_id, i + 1), ids)
                return
            elif isinstance(step, ContinueStep):
                target = next(j for j, rr in enumerate(self.rules) if rr.name == step.rule)
                self._fire(target, ids, d)
                return
            elif isinstance(step, StopStep):
                return
        if node.success is not None and ids.size:
            deadline = d + max(1, math.ceil(node.success.within_days))
            self.memory.waiting[node_id][ids] = deadline
            self.calendar.add(deadline, "deadline", node_id, ids)

    def _check_success_purchase(self, ids: np.ndarray, product: np.ndarray, d: int) -> None:
        cat = self.catalogue
        for node_id, until in self.memory.waiting.items():
            ev = self.program.nodes[node_id].success.event
            if ev.kind not in ("purchase", "first_purchase"):
                continue
            hit = waiting_on(until, ids, d)
            if ev.product is not None:
                hit &= product == self.product_index[ev.product]
            elif ev.line is not None and cat.count:
                hit &= cat.line[product] == self.line_index[ev.line]
            self._succeed(node_id, ids[hit], d)

    def _succeed(self, node_id: int, ids: np.ndarray, d: int) -> None:
        if not ids.size:
            return
        node = self.program.nodes[node_id]
        self.memory.waiting[node_id][ids] = np.nan
        self.recorder.arm_counters["converted"][self.arms.of[(node.rule, node.variant)]] += ids.size
        self.recorder.node_outcomes.setdefault(node_id, [0, 0])[0] += ids.size
        self._trace_rule(ids, d, node.rule, "success")
        if node.on_success is not None:
            self.today.pending_flows.append((node.on_success, 0, ids))

    def _trace_rule(self, ids: np.ndarray, d: float, r: int, what: str) -> None:
        if self.trace and ids.size and (ids == self.trace.customer).any():
            rule = self.rules[r]
            self.trace.add(d, "rule", f"{rule.name} ({rule.span}): {what}")

    def _arm_label(self, arm: int) -> str:
        r, label = self.arms.labels[arm]
        return self.rules[r].name + (f"/{label}" if label else "")


_NONE = np.zeros(0, dtype=np.int64)
