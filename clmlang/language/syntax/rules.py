"""Communication rules as written: triggers, steps, flows, offers, variants."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ...core.source import Span
from .expressions import Expr
from .values import Name, Quantity

# ---- rules ----------------------------------------------------------------------------


class EventKind(StrEnum):
    PURCHASE = "purchase"
    FIRST_PURCHASE = "first purchase"
    ENTER = "enter"
    LEAVE = "leave"
    EVENT = "event"  # a behavioural event the spec declares: `event cart_abandoned`


@dataclass(frozen=True, slots=True)
class Event:
    """`purchase`, `purchase of facial`, `purchase of line dentistry`, `enter loyal`,
    `event cart_abandoned`, ..."""

    kind: EventKind
    product: Name | None = None
    line: Name | None = None
    stage: Name | None = None
    span: Span = field(default=None, compare=False)  # type: ignore[assignment]
    behaviour: Name | None = None  # the declared event of `event NAME`


@dataclass(frozen=True, slots=True)
class After:
    """`30 days after purchase`, `10 months after purchase of car`, `1 week after wedding`."""

    delay: Quantity
    anchor: Event | Name  # a Name anchors on a dated attribute
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Before:
    """`7 days before wedding` or `3 days before anniversary of birthday`."""

    lead: Quantity
    attribute: Name
    anniversary: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Anniversary:
    """`anniversary of birthday`: every year on the attribute's date."""

    attribute: Name
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Every:
    """`every 30 days`: periodically while the customer stays eligible."""

    period: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Inactivity:
    """`90 days of inactivity`: that long with no purchase."""

    duration: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A calendar schedule: `daily`, `weekly on friday`, `monthly on day 1`, `yearly on 12-01`,
    `on 2026-12-20`."""

    kind: str  # "daily" | "weekly" | "monthly" | "yearly" | "date"
    value: str | None
    span: Span = field(compare=False)


Trigger = Event | After | Before | Anniversary | Every | Inactivity | Schedule


@dataclass(frozen=True, slots=True)
class Offer:
    """`offer facial discount 10%`, `offer line cosmetology`, `offer bonus 500`."""

    product: Name | None
    line: Name | None
    discount: Quantity | None
    bonus: Quantity | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Send:
    """`send sms "Time for your next visit" offer facial discount 10% tag promo`."""

    channel: Name
    content: str
    offer: Offer | None
    tags: tuple[Name, ...]
    transactional: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Wait:
    duration: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class ContinueWith:
    """`continue with winback_call`: hand the customer to another rule's flow."""

    rule: Name
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Stop:
    span: Span = field(compare=False)


Step = Send | Wait | ContinueWith | Stop


@dataclass(frozen=True, slots=True)
class Success:
    """`success purchase of facial within 14 days`: what counts as success, and how long to wait."""

    event: Event
    within: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Flow:
    """Steps in order, then an optional success test with a branch for each outcome."""

    steps: tuple[Step, ...]
    success: Success | None
    on_success: Flow | None
    on_failure: Flow | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Variant:
    """`variant short 50% { send sms "..." }`: an A/B/n arm that replaces the rule's steps."""

    name: Name
    share: Quantity
    steps: tuple[Step, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Reentry:
    """`reentry once`, `reentry once per 90 days`, or `reentry always`."""

    kind: str  # "once" | "always"
    period: Quantity | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Window:
    """`active from 2026-01-01`, `active until 2026-03-31`, or `active from ... until ...`:
    the calendar days (both included) on which the rule may fire. The dates are kept as
    written (`Name` leaves, for their places); the checker tests that they are real dates."""

    start: Name | None
    end: Name | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class GridAxis:
    """`stage in lapsing, dormant` or `segment in champions, loyal`: one axis of a grid rule."""

    kind: str  # "stage" | "segment"
    names: tuple[Name, ...]
    span: Span = field(compare=False)


GridValue = Quantity | Name | str | None  # a number, a name, a text, or `-` (no rule there)


@dataclass(frozen=True, slots=True)
class GridRow:
    """`lapsing: 10%, -, 15%`: a parameter's values along the second axis, for one name of
    the first."""

    name: Name
    values: tuple[GridValue, ...]
    value_spans: tuple[Span, ...] = field(compare=False)
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class GridTable:
    """`where discount { lapsing: 10%, 15% ... }`: a parameter's value in each cell."""

    parameter: Name
    rows: tuple[GridRow, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Grid:
    """`for each stage in a, b and each segment in c, d` with its `where` tables."""

    axes: tuple[GridAxis, ...]
    tables: tuple[GridTable, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Cell:
    """Where an expanded rule came from: the grid rule's name and the cell's values as
    written (axis names first, then the `where` parameters)."""

    template: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """A communication scenario: to whom, on what trigger and condition, what to send, and what
    happens on success and on failure."""

    name: Name
    title: str | None
    stages: tuple[Name, ...]
    audience: Expr | None
    condition: Expr | None
    trigger: Trigger | None
    priority: Quantity | None
    holdout: Quantity | None
    reentry: Reentry | None
    window: Window | None
    exit: Expr | None
    variants: tuple[Variant, ...]
    flow: Flow
    span: Span = field(compare=False)
    grid: Grid | None = None  # a grid rule as written: one rule per cell (language/grid.py)
    cell: Cell | None = None  # an expanded rule: the grid rule and cell it came from
