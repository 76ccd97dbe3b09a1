"""Top-level declarations as written: program, channels, caps, products, stages, ...

Also `Item` (any declaration) and `File` (one parsed file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.source import Span
from .expressions import Expr, LineArgument
from .rules import Rule
from .values import Comment, Name, Quantity, Range

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
    attach_to: tuple[Name | LineArgument, ...]  # products, or lines: `attach to line fitting`
    reward: Quantity | None  # reward share of a repeat-purchase programme
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A custom customer attribute: `attribute wedding date`, `attribute mileage number`."""

    name: Name
    type: Name
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """A behavioural event the market generates: `event cart_abandoned "Left a full cart"`."""

    name: Name
    title: str | None
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
    goal: Quantity | Range | None  # return within this long, or within low..high
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Segment:
    """`segment champions when rfm.r >= 4 and rfm.f >= 4`."""

    name: Name
    title: str | None
    condition: Expr
    span: Span = field(compare=False)


Item = (
    Program
    | Use
    | Channel
    | Cap
    | Control
    | Product
    | Attribute
    | CustomerEvent
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
