"""The syntax tree of a `.clm` file: frozen, slotted dataclasses, each with its source span.

The parser builds these from the Lark parse tree; the checker, the compiler and the
formatter read them. Nodes hold what was written, not what it means: units are kept as
written (`2 weeks` stays weeks), names are not yet resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .source import Span

__all__ = [
    "After",
    "Anniversary",
    "Attribute",
    "Audience",
    "Before",
    "BinaryOp",
    "BoolLiteral",
    "BoolOp",
    "Call",
    "Cap",
    "Channel",
    "Comment",
    "Compare",
    "ContinueWith",
    "Control",
    "Event",
    "EventKind",
    "Every",
    "Expr",
    "File",
    "Flow",
    "Inactivity",
    "InRange",
    "Is",
    "Item",
    "LineArgument",
    "Name",
    "Neg",
    "Not",
    "Offer",
    "Product",
    "Program",
    "Quantity",
    "Range",
    "Reentry",
    "Ref",
    "Rfm",
    "RfmAxis",
    "Rule",
    "Schedule",
    "Segment",
    "Send",
    "Stage",
    "Step",
    "Stop",
    "StringLiteral",
    "Success",
    "Trigger",
    "Unit",
    "Use",
    "Variant",
    "Wait",
]


# ---- leaves ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier as written, with its place."""

    text: str
    span: Span = field(compare=False)

    def __str__(self) -> str:
        return self.text


class Unit(str, Enum):
    """The unit a number was written with. `NONE` is a bare number."""

    NONE = ""
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"
    PERCENT = "%"
    MONEY = "money"

    @property
    def is_duration(self) -> bool:
        return self in (Unit.DAYS, Unit.WEEKS, Unit.MONTHS, Unit.YEARS)


# Calendar-average lengths, so `6 months` is 182.6 days and `1 year` is 365.25 days.
DAYS_PER_UNIT = {Unit.DAYS: 1.0, Unit.WEEKS: 7.0, Unit.MONTHS: 30.4375, Unit.YEARS: 365.25}


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with the unit it was written with: `74 days`, `10%`, `4500 RUB`, `3`."""

    value: float
    unit: Unit
    span: Span = field(compare=False)
    text: str = ""  # the number as written, so the formatter keeps `4500` rather than `4500.0`
    currency: str | None = None  # for MONEY: the code written, e.g. "RUB"
    unit_text: str = ""  # the unit as written, e.g. "month" or "months"

    @property
    def days(self) -> float:
        """The value in days (durations only)."""
        return self.value * DAYS_PER_UNIT[self.unit]


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range `low..high`; a unit on `high` alone applies to both ends."""

    low: Quantity
    high: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment, kept so the formatter can put it back."""

    text: str
    span: Span = field(compare=False)


# ---- expressions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringLiteral:
    value: str
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class BoolLiteral:
    value: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Ref:
    """A name in an expression: a state field (`purchases`), `rfm.r`, a segment, an attribute."""

    parts: tuple[Name, ...]
    span: Span = field(compare=False)

    @property
    def dotted(self) -> str:
        return ".".join(p.text for p in self.parts)


@dataclass(frozen=True, slots=True)
class LineArgument:
    """`line cosmetology` as a function argument: `owns(line cosmetology)`."""

    line: Name
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A state function: `owns(facial)`, `messages(sms, 30 days)`, `subscribed(storage)`."""

    function: Name
    args: tuple[Expr | LineArgument, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class BinaryOp:
    """Arithmetic: `+ - * /`."""

    op: str
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    """`left OP right` with OP one of `>= <= == != > <`."""

    op: str
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class InRange:
    """`value in low..high` (inclusive), or `not in`."""

    operand: Expr
    range: Range
    negated: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Is:
    """`stage is loyal`, `last_product is facial`, `audience is premium`, or `is not`."""

    operand: Expr
    name: Name
    negated: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class BoolOp:
    """`a and b and c` or `a or b`: all operands of one operator, flattened."""

    op: str  # "and" | "or"
    operands: tuple[Expr, ...]
    span: Span = field(compare=False)


Expr = (
    Quantity
    | StringLiteral
    | BoolLiteral
    | Ref
    | Call
    | Neg
    | BinaryOp
    | Compare
    | InRange
    | Is
    | Not
    | BoolOp
)


# ---- declarations ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Program:
    """`program "Clinic group" currency RUB`."""

    title: str
    currency: Name | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Use:
    """`use "common/channels.clm"`: definitions shared between specs."""

    path: str
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Channel:
    """`channel call kind call cost 120 capacity 200 per day`."""

    name: Name
    title: str | None
    kind: Name | None
    cost: Quantity | None
    capacity: Quantity | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Cap:
    """A frequency cap: `cap 3 per 7 days`, `cap sms 1 per 7 days then delay`, `cap tag promo ...`.

    With neither `channel` nor `tag` it is global. Transactional messages are exempt.
    """

    channel: Name | None
    tag: Name | None
    limit: Quantity
    window: Quantity
    overflow: str  # "skip" | "delay"
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Control:
    """`control group 10%`: a global control group that receives no marketing at all."""

    share: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Product:
    """A product and its role in the ecosystem (lead, value, profit, repeat, lifetime, ...)."""

    name: Name
    title: str | None
    role: Name | None
    price: Quantity | None
    cost: Quantity | None
    line: Name | None
    every: Quantity | None  # repurchase cycle; for a lifetime product, the billing period
    attach_to: tuple[Name, ...]
    reward: Quantity | None  # reward share of a repeat-purchase programme
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A custom customer attribute: `attribute wedding date`, `attribute mileage number`."""

    name: Name
    type: Name
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Audience:
    """An audience a customer belongs to for life: `audience premium "Chooses by brand"`."""

    name: Name
    title: str | None
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class RfmAxis:
    """`recency 30 days, 60 days, 120 days, 240 days`: the four boundaries between scores."""

    axis: str  # "recency" | "frequency" | "monetary"
    bounds: tuple[Quantity, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Rfm:
    """`rfm { recency ... frequency ... monetary ... }`: fixed score boundaries."""

    axes: tuple[RfmAxis, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Stage:
    """`stage loyal when purchases in 8..21 goal return within 60 days`."""

    name: Name
    title: str | None
    condition: Expr
    goal: Quantity | None  # return within this long
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Segment:
    """`segment champions when rfm.r >= 4 and rfm.f >= 4`."""

    name: Name
    title: str | None
    condition: Expr
    span: Span = field(compare=False)


# ---- rules ----------------------------------------------------------------------------


class EventKind(str, Enum):
    PURCHASE = "purchase"
    FIRST_PURCHASE = "first purchase"
    ENTER = "enter"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class Event:
    """`purchase`, `purchase of facial`, `purchase of line dentistry`, `enter loyal`, ..."""

    kind: EventKind
    product: Name | None = None
    line: Name | None = None
    stage: Name | None = None
    span: Span = field(default=None, compare=False)  # type: ignore[assignment]


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
    exit: Expr | None
    variants: tuple[Variant, ...]
    flow: Flow
    span: Span = field(compare=False)


Item = (
    Program
    | Use
    | Channel
    | Cap
    | Control
    | Product
    | Attribute
    | Audience
    | Rfm
    | Stage
    | Segment
    | Rule
)


@dataclass(frozen=True, slots=True)
class File:
    """One parsed `.clm` file: its declarations in order and its comments."""

    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...]
    span: Span = field(compare=False)
