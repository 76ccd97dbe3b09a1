"""The compiled policy: what the simulator executes, as frozen pydantic models.

Everything is in base units: durations in days, shares as fractions (10% is 0.1), money in
the program currency. Names are the stable ids (they are unique per kind in a checked spec).
Spans survive compilation so a trace or a failed test can point back at a `.clm` line.

`format_version` follows the Terraform promise: a minor version only adds fields; a change
that could break a reader bumps the major version.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.source import Span
from ..language.conditions import Expr

__all__ = [
    "FORMAT_VERSION",
    "Attribute",
    "Audience",
    "Cap",
    "Channel",
    "ContinueStep",
    "CustomerEvent",
    "EventSpec",
    "Flow",
    "Offer",
    "Policy",
    "Product",
    "Reentry",
    "Rfm",
    "Rule",
    "Segment",
    "SendStep",
    "SourceSpan",
    "Stage",
    "StopStep",
    "Success",
    "Trigger",
    "Variant",
    "WaitStep",
]

FORMAT_VERSION = "1.4"  # 1.1: rules' `active_from`, `active_until`; 1.2: stages'
# `goal_return_min_days`, products' `attach_to_lines`, first purchases of a product or line,
# rules' `cell` (a grid rule's cell), events' `segment`, the columns `purchases:P`,
# `days_since_purchase:P` and their `_line:L` forms; 1.3: the buying model's predictions,
# the columns `p_alive`, `expected_purchases:D` and `predicted_value:D`; 1.4: behavioural
# events (`events`, the event kind "event" and its `name`, the columns `events:E` and
# `days_since_event:E`)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSpan(_Model):
    """Where in the `.clm` source a policy item was written."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, span: Span) -> SourceSpan:
        return cls(
            file=span.file,
            line=span.line,
            column=span.column,
            end_line=span.end_line,
            end_column=span.end_column,
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Channel(_Model):
    name: str
    title: str | None = None
    kind: str
    cost: float = 0.0
    capacity_per_day: int | None = None
    span: SourceSpan


class Cap(_Model):
    """At most `limit` messages per `window_days` in the scope; transactional ones exempt."""

    scope: Literal["global", "channel", "tag"]
    channel: str | None = None
    tag: str | None = None
    limit: int
    window_days: float
    overflow: Literal["skip", "delay"] = "skip"
    span: SourceSpan


class Product(_Model):
    name: str
    title: str | None = None
    role: Literal[
        "lead", "value", "profit", "repeat", "lifetime", "upsell", "platform", "efficiency"
    ]
    sold: bool
    price: float = 0.0
    cost: float = 0.0
    line: str | None = None
    cycle_days: float | None = None  # repurchase cycle; billing period for lifetime products
    attach_to: tuple[str, ...] = ()  # products this upsell joins
    attach_to_lines: tuple[str, ...] = ()  # lines whose products it joins: `attach to line X`
    reward_share: float | None = None
    span: SourceSpan


class Attribute(_Model):
    name: str
    type: Literal["date", "number", "money", "text", "flag"]
    span: SourceSpan


class CustomerEvent(_Model):
    """A behavioural event the market generates (`event cart_abandoned`)."""

    name: str
    title: str | None = None
    span: SourceSpan


class Audience(_Model):
    name: str
    title: str | None = None
    span: SourceSpan


class Rfm(_Model):
    """Fixed score boundaries; see `expression.Score` for how scores are computed."""

    recency_days: tuple[float, ...] | None = None
    frequency: tuple[float, ...] | None = None
    monetary: tuple[float, ...] | None = None
    span: SourceSpan


class Stage(_Model):
    name: str
    title: str | None = None
    condition: Expr
    goal_return_days: float | None = None  # `goal return within 60 days`, or the high end
    goal_return_min_days: float | None = None  # the low end of `within 47..60 days`
    span: SourceSpan


class Segment(_Model):
    name: str
    title: str | None = None
    condition: Expr
    span: SourceSpan


class EventSpec(_Model):
    """A customer event: a purchase (of a product or line), a first purchase, entering or
    leaving a stage or a segment (`stage` or `segment` names which), or a behavioural event
    (`kind` "event", `name` the declared event)."""

    kind: Literal["purchase", "first_purchase", "enter", "leave", "event"]
    product: str | None = None
    line: str | None = None
    stage: str | None = None
    segment: str | None = None
    name: str | None = None


class Trigger(_Model):
    """When a rule is considered. `condition`: on the day the rule's filters become true."""

    kind: Literal[
        "condition",
        "event",
        "after",
        "before",
        "anniversary",
        "every",
        "inactivity",
        "schedule",
    ]
    event: EventSpec | None = None  # for "event", and the anchor of "after"
    attribute: str | None = None  # the date attribute of "after", "before", "anniversary"
    anniversary: bool = False  # "before anniversary of"
    days: float | None = None  # delay, lead, period or inactivity
    schedule: Literal["daily", "weekly", "monthly", "yearly", "date"] | None = None
    schedule_value: str | None = None  # weekday, day of month, MM-DD or YYYY-MM-DD


class Offer(_Model):
    product: str | None = None
    line: str | None = None
    discount_share: float | None = None  # 0.1 for 10%
    discount_amount: float | None = None  # money off
    bonus: float | None = None


class SendStep(_Model):
    kind: Literal["send"] = "send"
    channel: str
    content: str
    offer: Offer | None = None
    tags: tuple[str, ...] = ()
    transactional: bool = False
    span: SourceSpan


class WaitStep(_Model):
    kind: Literal["wait"] = "wait"
    days: float
    span: SourceSpan


class ContinueStep(_Model):
    kind: Literal["continue"] = "continue"
    rule: str
    span: SourceSpan


class StopStep(_Model):
    kind: Literal["stop"] = "stop"
    span: SourceSpan


Step = Annotated[SendStep | WaitStep | ContinueStep | StopStep, Field(discriminator="kind")]


class Success(_Model):
    event: EventSpec
    within_days: float
    span: SourceSpan


class Flow(_Model):
    """Steps in order, then an optional success test with a branch per outcome."""

    steps: tuple[Step, ...] = ()
    success: Success | None = None
    on_success: Flow | None = None
    on_failure: Flow | None = None


class Variant(_Model):
    name: str
    share: float
    steps: tuple[Step, ...]
    span: SourceSpan


class Reentry(_Model):
    """`once` (ever), `once` with `period_days` (at most once per period), or `always`."""

    kind: Literal["once", "always", "edge"]
    period_days: float | None = None


class GridCell(_Model):
    """Where a rule expanded from a grid rule came from: the grid rule's name, and the cell's
    stage, segment and `where` values as written (`{"stage": "lapsing", "discount": "10%"}`)."""

    rule: str
    values: dict[str, str]


class Rule(_Model):
    """A compiled communication rule. `eligible` is the stage filter, audience and condition
    combined into one expression (None: everyone). `active_from` and `active_until` are the
    calendar days (both included) on which its trigger may start it (None: no bound); the
    simulator maps them to days through the market's `start_date`."""

    name: str
    title: str | None = None
    stages: tuple[str, ...] = ()
    audience: Expr | None = None
    condition: Expr | None = None
    eligible: Expr | None = None
    trigger: Trigger
    priority: int = 0
    holdout: float = 0.0
    reentry: Reentry
    active_from: dt.date | None = None
    active_until: dt.date | None = None
    exit: Expr | None = None
    variants: tuple[Variant, ...] = ()
    flow: Flow
    span: SourceSpan
    cell: GridCell | None = None  # a rule expanded from a grid rule (`for each stage in ...`)

    def sends(self) -> list[SendStep]:
        """Every send step of the rule: its flow's, its follow-ups' (on success, on failure),
        and its variants'."""
        found: list[SendStep] = []

        def walk(flow: Flow | None) -> None:
            if flow is not None:
                found.extend(step for step in flow.steps if isinstance(step, SendStep))
                walk(flow.on_success)
                walk(flow.on_failure)

        walk(self.flow)
        for variant in self.variants:
            found.extend(step for step in variant.steps if isinstance(step, SendStep))
        return found


class Policy(_Model):
    """A compiled `.clm` spec: the executable policy the simulator runs."""

    format_version: str = FORMAT_VERSION
    program: str
    currency: str
    channels: tuple[Channel, ...] = ()
    caps: tuple[Cap, ...] = ()
    control_share: float = 0.0
    products: tuple[Product, ...] = ()
    lines: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    events: tuple[CustomerEvent, ...] = ()
    audiences: tuple[Audience, ...] = ()
    rfm: Rfm | None = None
    stages: tuple[Stage, ...]
    segments: tuple[Segment, ...] = ()
    rules: tuple[Rule, ...] = ()
    columns: tuple[str, ...] = ()  # every state column the policy's expressions read

    def to_json(self, *, indent: int | None = 2) -> str:
        """The policy as JSON; the same policy always gives the same bytes."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Policy:
        return cls.model_validate_json(text)

    @classmethod
    def json_schema(cls) -> str:
        """The JSON Schema of the compiled policy, as text."""
        return json.dumps(cls.model_json_schema(), indent=2, sort_keys=True)

    def semantics(self) -> dict[str, object]:
        """The policy without source spans: what it does, not where it was written.

        Two specs that differ only in layout or comments have equal semantics.
        """
        return _drop_spans(self.model_dump(mode="json"))  # type: ignore[return-value]

    def rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)

    def stage(self, name: str) -> Stage:
        return next(st for st in self.stages if st.name == name)


def _drop_spans(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, list):
        return [_drop_spans(v) for v in value]
    return value


Flow.model_rebuild()
