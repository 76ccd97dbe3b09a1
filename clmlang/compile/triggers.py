"""A rule's trigger in words a strategist reads, and whether it can still come for one
customer (`clm explain`, `clm test` examples, trace summaries).

Durations are said in the unit the spec used (`10 months after purchase of new_car`), or in
the largest whole unit when the spec's wording is not at hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..language import syntax as s
from .policy import EventSpec, Product, Trigger

__all__ = ["can_come", "describe_trigger", "duration_words"]

_UNITS = (("year", 365.25), ("month", 30.4375), ("week", 7.0), ("day", 1.0))


def duration_words(days: float, written: s.Quantity | None = None) -> str:
    """`10 months` as the spec wrote it, else the largest unit that is a whole number of
    `days` (`304.375` -> `10 months`), else days."""
    if written is not None and written.unit.is_duration:
        number = written.text or f"{written.value:g}"
        unit = written.unit_text or written.unit.value
        return f"{number} {unit}"
    for unit, size in _UNITS:
        count = days / size
        if count >= 1 and math.isclose(count, round(count), abs_tol=1e-9):
            n = round(count)
            return f"{n} {unit}" + ("" if n == 1 else "s")
    return f"{days:g} days"


def _event_words(ev: EventSpec) -> str:
    """`purchase`, `purchase of cars`, `first purchase of line plastic`, `entering stage x`,
    `event cart_abandoned`."""
    if ev.kind == "event":
        return f"event {ev.name}"
    if ev.kind in ("enter", "leave"):
        verb = "entering" if ev.kind == "enter" else "leaving"
        if getattr(ev, "segment", None):
            return f"{verb} segment {ev.segment}"
        return f"{verb} stage {ev.stage}"
    what = "first purchase" if ev.kind == "first_purchase" else "purchase"
    if ev.product:
        return f"{what} of {ev.product}"
    if ev.line:
        return f"{what} of line {ev.line}"
    return what


def _written_duration(written: s.Trigger | None) -> s.Quantity | None:
    for attr in ("delay", "lead", "period", "duration"):
        q = getattr(written, attr, None)
        if isinstance(q, s.Quantity):
            return q
    return None


def describe_trigger(trigger: Trigger, written: s.Trigger | None = None) -> str:
    """The trigger in words: `on purchase of cars`, `10 months after purchase of new_car`,
    `7 days before the anniversary of wedding`, `every 30 days`. `written`: the trigger as
    the spec wrote it, for its units."""
    t = trigger
    span = duration_words(t.days or 0.0, _written_duration(written))
    if t.kind == "condition":
        return "when its conditions become true"
    if t.kind == "event" and t.event is not None:
        return f"on {_event_words(t.event)}"
    if t.kind == "after":
        anchor = t.attribute if t.attribute else _event_words(t.event) if t.event else "?"
        return f"{span} after {anchor}"
    if t.kind == "before":
        target = f"the anniversary of {t.attribute}" if t.anniversary else t.attribute
        return f"{span} before {target}"
    if t.kind == "anniversary":
        return f"on the anniversary of {t.attribute}"
    if t.kind == "every":
        return f"every {span}"
    if t.kind == "inactivity":
        return f"after {span} of inactivity"
    if t.kind == "schedule":
        if t.schedule == "date":
            return f"on {t.schedule_value}"
        if t.schedule == "monthly" and t.schedule_value:
            return f"monthly on day {t.schedule_value}"
        return " ".join(
            filter(None, (t.schedule, "on" if t.schedule_value else "", t.schedule_value))
        )
    return t.kind


def _get(columns: Mapping[str, np.ndarray], key: str) -> float:
    value = columns.get(key)
    return math.nan if value is None else float(value[0])


def _ago(days: float) -> str:
    return "today" if days == 0 else f"{days:g} days ago"


def can_come(
    trigger: Trigger,
    columns: Mapping[str, np.ndarray],
    products: Sequence[Product] = (),
    written: s.Trigger | None = None,
) -> str | None:
    """Why the trigger cannot come for this customer as they are now, or None when it can.

    Event triggers wait for the event (a next purchase, a stage change): they can come,
    except a first purchase for someone who has bought. Timers need their anchor in the
    customer's history and still ahead: `10 months after purchase of new_car` cannot come
    for someone who never bought one, nor `30 days after purchase` 80 days after the last
    purchase (it came 50 days ago; the next purchase starts it again). `products`: the
    policy's products, in the order `last_product` codes them.
    """
    t = trigger
    purchases = _get(columns, "purchases")
    bought = purchases > 0
    span = duration_words(t.days or 0.0, _written_duration(written))
    due = round(t.days or 0.0)
    if t.kind == "event" and t.event is not None and t.event.kind == "first_purchase":
        ev = t.event
        if ev.product and _get(columns, f"owns:{ev.product}") > 0:
            return f"they have bought {ev.product} already"
        if ev.line and _get(columns, f"owns_line:{ev.line}") > 0:
            return f"they have bought from line {ev.line} already"
        if not ev.product and not ev.line and bought:
            return f"they have bought already (purchases={purchases:g})"
        return None
    if t.kind == "after" and t.event is not None and t.event.kind != "enter":
        ev = t.event
        if ev.kind in ("leave", "event"):  # no history of either: they can come
            return None
        if ev.product and _get(columns, f"owns:{ev.product}") <= 0:
            return f"they have not bought {ev.product}"
        if ev.line and _get(columns, f"owns_line:{ev.line}") <= 0:
            return f"they have bought nothing of line {ev.line}"
        if not bought:
            return "they have never bought"
        if ev.kind == "first_purchase" and not ev.product and not ev.line:
            since = _get(columns, "days_since_first_purchase")
            if since > due:
                return f"it came {since - due:g} days ago ({span} after their first purchase)"
            return None
        since = _get(columns, "days_since_purchase")
        last = _get(columns, "last_product")
        bought_last = products[int(last)] if 0 <= last < len(products) else None
        was_last = bought_last is not None and (
            bought_last.name == ev.product or (ev.line is not None and bought_last.line == ev.line)
        )
        if ((ev.product is None and ev.line is None) or was_last) and since > due:
            return (
                f"it came {since - due:g} days ago ({span} after the last purchase); "
                "the next purchase starts it again"
            )
        return None
    if t.kind in ("after", "before", "anniversary") and t.attribute:
        since = _get(columns, f"days_since:{t.attribute}")
        if math.isnan(since):
            return f"their {t.attribute} is not known"
        if t.kind == "after" and since > due:
            return f"it came {since - due:g} days ago ({t.attribute} was {_ago(since)})"
        if t.kind == "before" and not t.anniversary and -since < due:
            when = f"was {_ago(since)}" if since >= 0 else f"is {-since:g} days ahead"
            return f"{t.attribute} {when}, less than {span} ahead"
        return None
    if t.kind == "inactivity":
        if not bought:
            return "they have never bought (inactivity counts from a purchase)"
        since = _get(columns, "days_since_purchase")
        if since > due:
            return (
                f"it came {since - due:g} days ago ({span} after the last purchase); "
                "the next purchase starts it again"
            )
    return None
