"""What a trigger says about the customer at the moment it fires.

A rule's filters are checked when its trigger fires, so a filter that excludes every state
the trigger can fire in makes the rule dead even though customers meet the filters on other
days: `on 30 days of inactivity` fires at exactly 30 silent days, which `in stage lapsing`
(90 silent days or more) never allows. Only triggers whose moment is exact in the simulator
are described; stage events are not (a customer may pass through a stage within a day).
"""

from __future__ import annotations

from ..language import syntax as s
from ..language.conditions import Column, Compare, Const, Expr, Logic
from ..language.symbols import Symbols

__all__ = ["trigger_state"]


def trigger_state(rule: s.Rule, symbols: Symbols) -> tuple[Expr, str] | None:
    """The state every customer the trigger fires for is in, as a condition and in words;
    None when the trigger says nothing exact about it."""
    trigger = rule.trigger
    match trigger:
        case s.Inactivity(duration=length):
            return _since("days_since_purchase", "==", length.days)
        case s.Event(kind=s.EventKind.PURCHASE):
            return _and(_since("days_since_purchase", "==", 0), _owns(trigger, symbols))
        case s.Event(kind=s.EventKind.FIRST_PURCHASE):
            return _since("days_since_first_purchase", "==", 0)
        case s.After(delay=delay, anchor=s.Event(kind=s.EventKind.PURCHASE) as event):
            owns = _owns(event, symbols)
            # a later purchase of something else does not move the anchor of `purchase of X`
            op = "<=" if owns is not None else "=="
            return _and(_since("days_since_purchase", op, delay.days), owns)
        case s.After(delay=delay, anchor=s.Event(kind=s.EventKind.FIRST_PURCHASE)):
            return _since("days_since_first_purchase", "==", delay.days)
    return None


def _since(key: str, op: str, days: float) -> tuple[Expr, str]:
    whole = float(round(days))  # timers are due on whole days
    expr = Compare(op=op, left=Column(key=key), right=Const(value=whole))  # type: ignore[arg-type]
    return expr, f"{key} {op} {whole:g} days"


def _owns(event: s.Event, symbols: Symbols) -> tuple[Expr, str] | None:
    if event.product is not None and event.product.text in symbols.products:
        return Column(key=f"owns:{event.product.text}"), f"owns({event.product.text})"
    if event.line is not None and event.line.text in symbols.lines:
        return Column(key=f"owns_line:{event.line.text}"), f"owns(line {event.line.text})"
    return None


def _and(*parts: tuple[Expr, str] | None) -> tuple[Expr, str]:
    found = [p for p in parts if p is not None]
    if len(found) == 1:
        return found[0]
    return Logic(op="and", args=tuple(e for e, _ in found)), " and ".join(t for _, t in found)
