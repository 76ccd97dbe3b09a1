"""When a rule acts: its `active` window in days of the run, and the days its `on schedule`
trigger fires."""

from __future__ import annotations

import datetime as dt

__all__ = ["NO_BOUND", "scheduled", "window_days"]

NO_BOUND = 1 << 40  # a day no run reaches


def window_days(rule, start: dt.date) -> tuple[int, int]:
    """The first and last day (0: the market's start date) of the rule's `active` window,
    both included; a missing bound is as far as any run goes."""
    first = (rule.active_from - start).days if rule.active_from is not None else -NO_BOUND
    last = (rule.active_until - start).days if rule.active_until is not None else NO_BOUND
    return first, last


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def scheduled(trig, date: dt.date) -> bool:
    value = trig.schedule_value
    match trig.schedule:
        case "daily":
            return True
        case "weekly":
            return value is None or _WEEKDAYS[date.weekday()] == value
        case "monthly":
            return int(value or 1) == date.day
        case "yearly":
            return value == f"{date.month:02d}-{date.day:02d}"
        case "date":
            return value == date.isoformat()
    return False
