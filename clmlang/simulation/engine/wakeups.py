"""Wake-ups: condition rules that read time cost nothing while nothing changes.

A condition such as `days_since_purchase >= 60 days` changes for a customer either at an
event (a purchase resets the clock: the customer is touched that day) or on the day a clock
crosses a threshold. A clock column is `day - anchor`, the anchor set by an event: the last
purchase day, the first purchase day, the day the stage was entered, a date attribute, the
last purchase of a product or line, the last behavioural event. So a rule whose time-driven
columns are all clocks compared with constants (`>=`, `>`, `<=`, `<`, `==`, `!=`, `in a..b`,
and RFM scores of the recency) is re-evaluated only for the customers touched today, those
whose wake-up is due today, and newcomers: each evaluation schedules the customer's next
wake-up, the first day after today on which one of the thresholds is crossed
(`Wakeups.next_change`). A firing of a rule with `reentry once per P days` schedules the day
its re-entry opens again. Both are calendar items ("wake", rule) and ("reentry", rule), or,
for a clock rule, keys in the clock rules' store (clockrules.py).

Conditions that read other columns that move with time (the buying model's predictions,
`messages(...)` counts, attributes that grow) have no closed-form crossing day: their rules
are still evaluated every day for everyone, as are `every` rules (docs/engine.md).
"""

from __future__ import annotations

import numpy as np

from ...language.conditions import Expr, required_columns
from .cells import Cells
from .clockrules import Clocked
from .components import time_driven
from .crossing_kernels import earliest_crossing

__all__ = ["Wakeups", "clock_thresholds", "next_crossing"]

_CLOCK_FIELDS = ("days_since_purchase", "days_since_first_purchase", "days_in_stage")
_CLOCK_PREFIXES = ("days_since:", "days_since_purchase:", "days_since_purchase_line:")
_CLOCK_PREFIXES += ("days_since_event:",)
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}
# how the day a threshold t = anchor + K is crossed is found: "ceil" (the first day with
# day >= t) or "after" (the first day with day > t)
_MODES = {">=": ("ceil",), "<": ("ceil",), ">": ("after",), "<=": ("after",)}
_MODES |= {"==": ("ceil", "after"), "!=": ("ceil", "after")}


def _is_clock(key: str) -> bool:
    return key in _CLOCK_FIELDS or key.startswith(_CLOCK_PREFIXES)


def clock_thresholds(expr: Expr | None) -> list[tuple[str, float, str]] | None:
    """The (clock column, constant, crossing mode) triples of a condition, or None when some
    column that moves with time is read in a way whose crossing day is not closed-form."""
    if expr is None:
        return []
    found: list[tuple[str, float, str]] = []
    return found if _collect(expr, found) else None


def _number(node: Expr) -> float | None:
    if (
        node.op == "const"
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    return None


def _collect(node: Expr, found: list) -> bool:
    op = node.op
    if op in _FLIP:
        left, right = node.left, node.right
        if left.op == "column" and _is_clock(left.key) and _number(right) is not None:
            found.extend((left.key, _number(right), m) for m in _MODES[op])
            return True
        if right.op == "column" and _is_clock(right.key) and _number(left) is not None:
            found.extend((right.key, _number(left), m) for m in _MODES[_FLIP[op]])
            return True
        return _collect(left, found) and _collect(right, found)
    if op == "between" and node.arg.op == "column" and _is_clock(node.arg.key):
        found += [(node.arg.key, node.low, "ceil"), (node.arg.key, node.high, "after")]
        return True
    if op == "score":
        if not _is_clock(node.key):
            return not time_driven(node)
        mode = "after" if node.descending else "ceil"
        found.extend((node.key, b, mode) for b in node.bounds)
        return True
    if op == "column":
        return not time_driven(node)
    if op == "const":
        return True
    if op in ("and", "or"):
        return all(_collect(a, found) for a in node.args)
    if op in ("not", "neg", "between"):
        return _collect(node.arg, found)
    return _collect(node.left, found) and _collect(node.right, found)


class Wakeups:
    """Which condition rules run on wake-ups, and each one's thresholds by clock column."""

    def __init__(self, policy, growing: frozenset[str], driven: list[bool]):
        self.thresholds: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        # rules that read what a delivered message changes (an unsubscribe): they also see
        # the customers yesterday's messages touched, after yesterday's rules had run
        self.after_messages: set[int] = set()
        for r, rule in enumerate(policy.rules):
            # a condition that does not read time is re-evaluated for the touched alone anyway
            if rule.trigger.kind != "condition" or not driven[r]:
                continue
            if any(key in growing for key in required_columns_of(rule.eligible)):
                continue
            found = clock_thresholds(rule.eligible)
            if found is None:
                continue
            by_key: dict[str, tuple[list, list]] = {}
            for key, k, mode in found:
                ks, after = by_key.setdefault(key, ([], []))
                ks.append(k)
                after.append(mode == "after")
            if any(k.startswith("unsubscribed:") for k in required_columns_of(rule.eligible)):
                self.after_messages.add(r)
            self.thresholds[r] = {
                key: (np.array(ks, dtype=np.float64), np.array(after))
                for key, (ks, after) in by_key.items()
            }

    def __contains__(self, r: object) -> bool:
        return r in self.thresholds

    def __bool__(self) -> bool:
        return bool(self.thresholds)

    def next_change(self, sim, r: int, ids: np.ndarray, d: int) -> np.ndarray:
        """For each of `ids`, the first day after `d` on which a threshold of rule `r` is
        crossed with no event (inf: none): the day its condition may change by time alone."""
        return next_crossing(sim, self.thresholds[r], ids, d)


def next_crossing(sim, thresholds: dict, ids: np.ndarray, d: int) -> np.ndarray:
    """For each of `ids`, the first day after `d` on which one of `thresholds` is crossed
    with no event (inf: none), the day a condition on them may change by time alone
    (a rule's in `Wakeups.next_change`, a stage's or segment's in crossings.py)."""
    out = np.full(ids.size, np.inf)
    compiled = getattr(sim, "compiled", False)
    for key, (ks, after) in thresholds.items():
        anchor = _anchor(sim, key, ids)
        # an attribute's date may have a fraction: `day - date >= K` and `day >= date + K`
        # may round apart, so the day before is a wake-up too (a spare one is harmless)
        spare = key.startswith("days_since:")
        if compiled:  # one pass (crossing_kernels.py), the same days
            earliest_crossing(anchor, ks, after, spare, float(d), out)
            continue
        for k, late in zip(ks.tolist(), after.tolist(), strict=True):
            t = anchor + k
            days = [np.floor(t) + 1.0 if late else np.ceil(t)]
            if spare:
                days.append(np.floor(t))
            for day in days:
                np.copyto(day, np.inf, where=~(day > d))  # crossed already, or no anchor
                np.minimum(out, day, out=out)
    return out


def required_columns_of(expr: Expr | None) -> set[str]:
    return set() if expr is None else required_columns(expr)


def _anchor(sim, key: str, ids: np.ndarray) -> np.ndarray:
    """The day a clock column counts from (its value is `day - anchor`), as float64."""
    st = sim.state
    if key == "days_since_purchase":
        a = st.last_day[ids]
    elif key == "days_since_first_purchase":
        a = st.first_day[ids]
    elif key == "days_in_stage":
        a = st.stage_since[ids]
    elif key.startswith("days_since:"):
        a = st.attributes[key.partition(":")[2]][ids]
    elif key.startswith("days_since_event:"):
        events = sim.event_memory
        a = events.last_day[events.index[key.partition(":")[2]]][ids]
    else:  # days_since_purchase of a product or line
        _, target = sim.tally.keys[key]
        a = sim.tally.targets[target][1][ids]
    return a.astype(np.float64)


class Waking(Clocked):
    """Methods of the simulation (mixed into it): the condition rules that run on wake-ups
    (`self.wakeups`); see rules.py for the others."""

    def _waking_rows_today(self, touched: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whom wake-up rules re-evaluate today besides their own wake-ups: today's touched
        customers and newcomers; and the same with those yesterday's messages touched after
        the rules had run (for the rules in `wakeups.after_messages`)."""
        if not hasattr(self, "cells"):  # the rules whose filters are stages and a segment
            self.cells = Cells.of(self)
        parts = [touched]
        seen = getattr(self, "_rules_arrived", 0)
        if self.arrived > seen:
            parts.append(np.arange(seen, self.arrived))
        self._rules_arrived = self.arrived
        rows = self.idset.union(parts)
        late = getattr(self, "_touched_after_rules", None)
        if late is None or not self.wakeups.after_messages:
            return rows, rows
        work, mark = late
        return rows, self.idset.union([rows, *work.touched[mark:]])

    def _waking_rows(self, r: int, bucket: dict, d: int) -> np.ndarray:
        """Whom wake-up rule `r` re-evaluates today (after its first day): today's touched
        and newcomers and its wake-ups due today; a cell's, the cells' rows (cells.py)."""
        if r in self.cells:
            return self.cells.today(self, d)
        woken = bucket.get(("wake", r))
        rows = self.waking_rows[r in self.wakeups.after_messages]
        if woken is not None:
            rows = self.idset.union([rows, woken])
        return rows

    def _waking_done_today(self) -> None:
        """Remember where today's touched list stood when the rules ran: whoever messages
        touch later is re-evaluated tomorrow."""
        self._touched_after_rules = (self.today, len(self.today.touched))

    def _waking_edge(self, r: int, rows: np.ndarray | slice, bucket: dict, d: int) -> np.ndarray:
        """A wake-up rule's candidates today: who became eligible among `rows` (everyone on
        the rule's first day, else touched, newcomers and today's wake-ups), and, for
        `reentry once per P days`, the holders whose re-entry opens today."""
        rule = self.rules[r]
        cell = r in self.cells  # its filters read from the segments' bits: no wake-ups
        was = self.memory.was_true[r]
        became = self.cells.became(r, rows) if cell else None  # with the other cells
        if became is None:
            now_true = self.cells.eligible(self, r, rows) if cell else self._eligible(r, rows, d)
            ids = np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
            became = ids[now_true & ~was[rows]]
            was[rows] = now_true
            if not cell:
                self._schedule_wakes(r, ids, d)
        kind = rule.reentry.kind
        if kind == "edge":
            return became
        # a trace says "re-entry does not allow it" on the edge only, not every day it holds
        self.today_edges = became
        if kind == "always":
            return np.flatnonzero(was[: self.arrived])
        due = bucket.get(("reentry", r))
        if due is None:
            return became
        return self.idset.union([became, due[was[due]]])

    def _schedule_wakes(self, r: int, ids: np.ndarray, d: int) -> None:
        """Put each of `ids` on the calendar on the next day rule `r`'s condition may change
        for them by time alone; outside the rule's stages, only an event (a stage move, which
        touches them) can change it."""
        if not self.wakeups.thresholds[r] or not ids.size:
            return
        lut = self.eligibility.stage_lut[r]
        if lut is not None:
            ids = ids[lut[self.state.stage[ids] + 1]]
        nxt = self.wakeups.next_change(self, r, ids, d)
        ok = nxt <= min(self.windows[r][1], self.days - 1)
        if not ok.all():
            nxt, ids = nxt[ok], ids[ok]
        if not ids.size:
            return
        first = nxt.min()
        if first == nxt.max():  # the usual case: all of them bought today
            self.calendar.add(int(first), "wake", r, ids)
        else:
            self.calendar.add_spread(nxt, "wake", r, ids)

    def _schedule_reentry(self, r: int, ids: np.ndarray, last: np.ndarray | float) -> None:
        """`reentry once per P days`: the day the re-entry of `ids`, who last fired rule `r`
        on day(s) `last`, opens again (the first day d with d - last >= P)."""
        period = self.rules[r].reentry.period_days
        if r not in self.wakeups or period is None or self.rules[r].reentry.kind != "once":
            return
        days = np.ceil(np.asarray(last, dtype=np.float64) + period)
        if r in self.clock_rules:  # kept with the clock rules' wake-ups (clockrules.py)
            self.clock_rules.reopen(self.clock_rules.col[r], ids, days, self.windows[r][1])
            return
        if days.ndim == 0:
            if days <= self.windows[r][1]:
                self.calendar.add(int(days), "reentry", r, ids)
            return
        ok = days <= self.windows[r][1]
        self.calendar.add_spread(days[ok], "reentry", r, ids[ok])
