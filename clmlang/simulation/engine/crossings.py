"""Crossings: the days on which a customer's clocks cross the thresholds that stage and
segment conditions compare them with, so that stages and segments that change with time are
re-evaluated on those days only, not for everyone every day.

A clock column is `day - anchor`, the anchor set by an event (wakeups.py lists them). A
condition whose time-driven columns are all clocks compared with constants changes value only
at an event for the customer (a purchase, a stage move, a behavioural event, an attribute
switch: the customer is touched that day) or on the day a clock crosses a constant, a day
known in closed form. `Crossings` keeps the union of such thresholds for a group of
conditions (all the stages, or all the segments that change with time) and one schedule per
group: each customer waits on one day at a time, the next day one of the thresholds is
crossed. Rules have their own wake-ups on the calendar (wakeups.py); this schedule is kept
apart so that stages and segments add no work to the calendar's buckets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...language.conditions import Expr
from .wakeups import clock_thresholds, next_crossing, required_columns_of

__all__ = ["Crossings", "wakes_by_clocks"]


def wakes_by_clocks(condition: Expr, growing: frozenset[str]) -> bool:
    """Whether a time-driven condition can be re-evaluated on its crossing days alone: it
    reads time only through clocks compared with constants, no attribute that grows, and
    nothing a delivered message changes (unsubscribes: messages go out after stages and
    segments, so the customers they touch are not among the next day's touched)."""
    keys = required_columns_of(condition)
    if any(k in growing or k.startswith("unsubscribed:") for k in keys):
        return False
    return clock_thresholds(condition) is not None


@dataclass
class Crossings:
    """The thresholds of a group of conditions, by clock column, and who wakes on which day."""

    # clock column -> (constants, crossed the day after: `>` and `<=`, not `>=` and `<`)
    thresholds: dict[str, tuple[np.ndarray, np.ndarray]]
    days: int
    wakes: dict[int, list[np.ndarray]] = field(default_factory=dict)  # day -> ids (int32)
    seen: int = -1  # customers who had arrived at the last evaluation (-1: none yet)

    @classmethod
    def of(cls, conditions: list[Expr], days: int) -> Crossings:
        """The union of the thresholds of `conditions` (each one accepted by
        `wakes_by_clocks`)."""
        pairs: dict[str, set[tuple[float, bool]]] = {}
        for condition in conditions:
            for key, k, mode in clock_thresholds(condition) or []:
                pairs.setdefault(key, set()).add((k, mode == "after"))
        thresholds = {
            key: (
                np.array([k for k, _ in sorted(found)], dtype=np.float64),
                np.array([late for _, late in sorted(found)], dtype=bool),
            )
            for key, found in pairs.items()
        }
        return cls(thresholds, days)

    def rows(self, idset, touched: np.ndarray, arrived: int, d: int) -> np.ndarray:
        """Whom to re-evaluate on day `d`: everyone who has arrived the first time, then the
        `touched`, the newcomers and those whose crossing day is `d` (sorted, distinct)."""
        due = self.wakes.pop(d, [])
        if self.seen < 0:
            rows = np.arange(arrived)
        else:
            rows = idset.union([touched, np.arange(self.seen, arrived), *due])
        self.seen = arrived
        return rows

    def schedule(self, sim, ids: np.ndarray, d: int) -> None:
        """Put each of `ids` on the day after `d` when one of the thresholds is next crossed
        for them (none: no wake-up; an event will touch them first)."""
        if not self.thresholds or not ids.size:
            return
        nxt = next_crossing(sim, self.thresholds, ids, d)
        ok = nxt < self.days
        if not ok.any():
            return
        days, ids = nxt[ok].astype(np.int64), ids[ok].astype(np.int32)
        order = np.argsort(days.astype(np.uint16), kind="stable")  # days < MAX_DAYS < 2**16
        days, ids = days[order], ids[order]
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
        for day, part in zip(days[np.r_[0, cuts]].tolist(), np.split(ids, cuts), strict=True):
            self.wakes.setdefault(day, []).append(part)
