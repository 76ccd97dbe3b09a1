"""How often customers do what a spec's `event` declarations name: `[market.events.NAME]`.

Each customer has, on each day, a rate of the event (a Poisson count per day): the base
`rate`, times the multiplier of their stage and of their audience, times `after_purchase`
for `after_purchase_days` days after each purchase, times `after_message` for
`after_message_days` days after each message they receive, and times `lapsed` once they have
dropped out. Each event is, with chance `buy`, followed by a purchase within `buy_days` days
(an abandoned cart is a buying signal): a purchase of the customer's own choosing, not a
response to any message. A declared event with no entry here never happens (rate 0).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from .fields import _Model

__all__ = ["EventModel"]


class EventModel(_Model):
    """One behavioural event's rate per customer and day, and what changes it."""

    rate: float = Field(default=0.0, ge=0, le=100)  # events per customer per day
    stages: dict[str, float] = Field(default_factory=dict)  # rate x this in the stage
    audiences: dict[str, float] = Field(default_factory=dict)  # rate x this for the audience
    after_purchase: float = Field(default=1.0, ge=0, le=1000)
    after_purchase_days: float = Field(default=0.0, ge=0, le=36_525)
    after_message: float = Field(default=1.0, ge=0, le=1000)
    after_message_days: float = Field(default=0.0, ge=0, le=36_525)
    lapsed: float = Field(default=0.5, ge=0, le=1000)  # a dropped-out customer's rate x this
    buy: float = Field(default=0.0, ge=0, le=1)  # chance an event brings a purchase
    buy_days: float = Field(default=3.0, gt=0, le=365)  # ... within this many days

    @field_validator("stages", "audiences")
    @classmethod
    def _multipliers(cls, table: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= v <= 1000 for v in table.values()):
            raise ValueError("multipliers are from 0 to 1000")
        return table
