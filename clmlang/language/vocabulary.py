"""The customer state a condition can talk about: built-in fields, state functions, types.

One table, read by the checker (unknown names, unit mistakes), the compiler (which column of
the simulator's state arrays a name becomes) and `clm explain` (which values a customer
description may give).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ATTRIBUTE_TYPES",
    "CHANNEL_KINDS",
    "EVENT_FIELDS",
    "FIELDS",
    "FUNCTIONS",
    "PRODUCT_FIELDS",
    "ROLES",
    "SOLD_ROLES",
    "WEEKDAYS",
    "Field",
    "Function",
    "Type",
    "product_column",
]


class Type(StrEnum):
    """The type of a value in a condition. Durations are days; money is the program currency."""

    BOOL = "flag"
    COUNT = "number"
    DURATION = "duration"
    MONEY = "money"
    PERCENT = "percent"
    TEXT = "text"
    DATE = "date"
    STAGE = "stage"
    PRODUCT = "product"
    AUDIENCE = "audience"


@dataclass(frozen=True)
class Field:
    """A built-in field of customer state: `purchases`, `days_since_purchase`, `rfm.r`, ..."""

    name: str
    type: Type
    doc: str
    column: str  # the key of the simulator's state column


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        Field(
            "purchases",
            Type.COUNT,
            "number of purchases (each simulated one; a history's same-day purchases are one)",
            "purchases",
        ),
        Field(
            "days_since_purchase",
            Type.DURATION,
            "days since the last purchase",
            "days_since_purchase",
        ),
        Field(
            "days_since_first_purchase",
            Type.DURATION,
            "days since the first purchase",
            "days_since_first_purchase",
        ),
        Field("total_spent", Type.MONEY, "all money spent so far", "total_spent"),
        Field("avg_check", Type.MONEY, "average order value", "avg_check"),
        Field(
            "last_product", Type.PRODUCT, "the product bought last (`is facial`)", "last_product"
        ),
        Field("stage", Type.STAGE, "the current stage (`stage is loyal`)", "stage"),
        Field("previous_stage", Type.STAGE, "the stage before the current one", "previous_stage"),
        Field(
            "days_in_stage", Type.DURATION, "days since entering the current stage", "days_in_stage"
        ),
        Field(
            "audience", Type.AUDIENCE, "the customer's audience (`audience is premium`)", "audience"
        ),
        Field("rfm.r", Type.COUNT, "recency score 1..5 (5 = most recent)", "rfm.r"),
        Field("rfm.f", Type.COUNT, "frequency score 1..5", "rfm.f"),
        Field("rfm.m", Type.COUNT, "monetary score 1..5", "rfm.m"),
        Field(
            "subscribed",
            Type.BOOL,
            "has an active subscription to any lifetime product",
            "subscribed",
        ),
        Field(
            "p_alive",
            Type.PERCENT,
            "the buying model's probability that the customer still buys (`p_alive < 30%`)",
            "p_alive",
        ),
    ]
}


# Fields that can be about one product or line: `purchases of tyres`, `days_since_purchase of
# line cars`. The column is `purchases:tyres`, `days_since_purchase_line:cars`, and so on.
PRODUCT_FIELDS: dict[str, Type] = {
    "purchases": Type.COUNT,
    "days_since_purchase": Type.DURATION,
}


# Fields about one declared behavioural event: `events of cart_abandoned` (how many since the
# run began), `days_since_event of cart_abandoned` (since the last one; missing: none yet).
# The column is `events:cart_abandoned`, `days_since_event:cart_abandoned`.
EVENT_FIELDS: dict[str, Type] = {
    "events": Type.COUNT,
    "days_since_event": Type.DURATION,
}


def product_column(field: str, target: str, line: bool) -> str:
    """The state column of `FIELD of X` (`line` for `FIELD of line X`)."""
    return f"{field}_line:{target}" if line else f"{field}:{target}"


@dataclass(frozen=True)
class Function:
    """A state function: `owns(facial)`, `messages(sms, 30 days)`, `days_since(wedding)`.

    `params` lists the kinds of argument accepted, one tuple per accepted signature.
    Argument kinds: "product", "line" (`line X`), "product|line", "channel", "lifetime",
    "duration", "date".
    """

    name: str
    type: Type
    signatures: tuple[tuple[str, ...], ...]
    doc: str


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function(
            "owns", Type.BOOL, (("product|line",),), "has bought the product, or any of the line"
        ),
        Function(
            "subscribed",
            Type.BOOL,
            (("lifetime",),),
            "has an active subscription to this lifetime product",
        ),
        Function(
            "messages",
            Type.COUNT,
            (("duration",), ("channel", "duration")),
            "messages received in the last N days, on any channel or on one",
        ),
        Function("days_since", Type.DURATION, (("date",),), "days since a dated attribute"),
        Function("unsubscribed", Type.BOOL, (("channel",),), "has opted out of this channel"),
        Function(
            "expected_purchases",
            Type.COUNT,
            (("duration",),),
            "purchases the buying model expects in the next N days, from the customer's history",
        ),
        Function(
            "predicted_value",
            Type.MONEY,
            (("duration",),),
            "money the buying model expects in the next N days: expected purchases times the"
            " expected check",
        ),
    ]
}

# Attribute types a spec may declare, and the value type each has in a condition.
ATTRIBUTE_TYPES: dict[str, Type] = {
    "date": Type.DATE,
    "number": Type.COUNT,
    "money": Type.MONEY,
    "text": Type.TEXT,
    "flag": Type.BOOL,
}

# Product roles in the ecosystem: the six a customer meets, then the internal ones.
ROLES: dict[str, str] = {
    "lead": "brings new customers in at near-zero cost to them (free trial, audit, guide)",
    "value": "the flagship that carries the positioning: why customers choose this company",
    "profit": "the core product that makes the money",
    "repeat": "brings customers back: loyalty and bonus programmes, new releases",
    "lifetime": "keeps customers in the ecosystem: subscriptions, retainers, storage",
    "upsell": "raises the check: add-ons attached to another product",
    "platform": "internal: the platform the rest runs on; costed, never sold",
    "efficiency": "internal: processes, funnels and reports; costed, never sold",
}
SOLD_ROLES = frozenset({"lead", "value", "profit", "repeat", "lifetime", "upsell"})

CHANNEL_KINDS: dict[str, str] = {
    "email": "email",
    "sms": "text message",
    "push": "mobile push notification",
    "call": "phone call by a manager or a call centre",
    "messenger": "WhatsApp, Telegram and the like",
    "custom": "anything else: banners, letters, in-store",
}

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
