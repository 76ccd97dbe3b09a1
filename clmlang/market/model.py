"""The market: what customers do, as the analyst assumes it. Kept apart from the policy.

A spec says what the company does; a `Market` says how customers behave and respond. Both
meet in the simulator. Every figure here has a documented default (see `docs/model.md`), so
`clm simulate spec.clm` works with no scenario file; a scenario file's `[market]` tables
override them. Durations are days, shares are fractions, money is the program currency.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args, get_origin

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from ..compile.policy import Policy
from ..core.names import did_you_mean
from ..core.predictions import BuyingModel
from .attributes import AttributeModel, Growth, attribute_problems
from .demand import LineDemand, ProductDemand, Seasonal
from .errors import MarketError, read_toml
from .events import EventModel
from .fields import MAX_DAYS, _Model
from .kpis import Kpis
from .prospects import Prospects

__all__ = [
    "MAX_DAYS",
    "Acquisition",
    "AttributeModel",
    "Buying",
    "ChannelResponse",
    "EventModel",
    "Fatigue",
    "Growth",
    "Kpis",
    "LineDemand",
    "Market",
    "MarketError",
    "Offers",
    "Population",
    "ProductDemand",
    "Roles",
    "RuleResponse",
    "Spend",
    "StageEffect",
    "market_from_mapping",
    "read_toml",
]


# Hard bounds on run sizes, whatever the memory (engine/memory.py checks the memory): customer
# ids are int32 in the logs, and a century is more than any lifecycle strategy plans for.
MAX_CUSTOMERS = 100_000_000
MAX_REPLICATIONS = 10_000
# purchase counts (population.purchases, buying.rate_after): far above any customer's history,
# far below the engine's int32 purchase counters
MAX_PURCHASES = 10_000
# day 0's date: a run of up to MAX_DAYS from it stays within the calendar dates can hold
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)


class Population(_Model):
    """Who is there on day 0.

    `start = "new"`: a cohort making its first purchase on day 0. `start = "existing"`: a base
    with `purchases` (a distribution: {count: share}) and last purchases spread uniformly over
    the past `recency_days`.
    """

    start: Literal["new", "existing"] = "new"
    audiences: dict[str, float] = Field(default_factory=dict)
    purchases: dict[int, float] = Field(default_factory=lambda: {1: 1.0})
    recency_days: float = Field(default=365.0, gt=0)

    @model_validator(mode="after")
    def _shares(self) -> Population:
        for label, shares in (("audiences", self.audiences), ("purchases", self.purchases)):
            if any(v < 0 for v in shares.values()):
                raise ValueError(f"{label}: shares must not be negative")
            if shares and abs(sum(shares.values()) - 1.0) > 1e-6 and label == "purchases":
                raise ValueError(
                    f"{label}: shares must add up to 1 (they add up to {sum(shares.values()):g})"
                )
            if shares and sum(shares.values()) > 1.0 + 1e-6:
                raise ValueError(f"{label}: shares add up to more than 1")
        return self

    @field_validator("purchases")
    @classmethod
    def _counts(cls, purchases: dict[int, float]) -> dict[int, float]:
        if any(k < 1 for k in purchases):
            raise ValueError("counts start at 1 (a customer has bought at least once)")
        if any(k > MAX_PURCHASES for k in purchases):
            raise ValueError(f"counts are at most {MAX_PURCHASES:,}, not {max(purchases):,}")
        return purchases


class Acquisition(Seasonal):
    """New customers per day (Poisson), each arriving through a lead product when there is one;
    `months`, `weeks`: the calendar of arrivals, multipliers on `per_day` and on each prospect
    source's `per_day` (docs/model.md, "Population and acquisition")."""

    per_day: float = Field(default=0.0, ge=0)
    cost: float = Field(default=0.0, ge=0)  # cost per acquired customer (CAC)


class Buying(_Model):
    """BG/NBD: purchase rate ~ Gamma(r, alpha) per day; dropout after each repeat purchase with
    probability ~ Beta(a, b). Two extensions, both off by default: `reactivation`, the rate per
    day at which a customer who dropped out starts buying again (BG/NBD with reactivation),
    and `rate_after`, multipliers on the purchase rate from the k-th purchase on
    ({3: 0.8, 8: 0.7}: x0.8 from the 3rd purchase, x0.7 from the 8th)."""

    r: float = Field(default=0.9, gt=0)
    alpha: float = Field(default=75.0, gt=0)
    a: float = Field(default=0.8, gt=0)
    b: float = Field(default=3.2, gt=0)
    reactivation: float = Field(default=0.0, ge=0)
    rate_after: dict[int, float] = Field(default_factory=dict)
    # a purchase that lands on a durable the customer owns: "lost" (it does not happen, so
    # owning thins the rate) or "renormalise" (they buy what they can still buy instead: a
    # rate calibrated from a history counts every purchase); docs/model.md, "Ownership"
    owned: Literal["lost", "renormalise"] = "lost"

    @field_validator("rate_after")
    @classmethod
    def _multipliers(cls, rate_after: dict[int, float]) -> dict[int, float]:
        if any(k < 2 for k in rate_after):
            raise ValueError("purchase numbers start at 2")
        if any(k > MAX_PURCHASES for k in rate_after):
            raise ValueError(
                f"purchase numbers are at most {MAX_PURCHASES:,}, not {max(rate_after):,}"
            )
        if any(v <= 0 for v in rate_after.values()):
            raise ValueError("multipliers must be positive")
        return rate_after

    def rate_multiplier(self, purchases: np.ndarray) -> np.ndarray:
        """The rate multiplier once `purchases` purchases have been made."""
        out = np.ones(np.shape(purchases))
        for k in sorted(self.rate_after):
            out = np.where(np.asarray(purchases) >= k, self.rate_after[k], out)
        return out


class Spend(_Model):
    """Gamma-Gamma: order value ~ Gamma(p, nu), nu ~ Gamma(q, gamma). Without product prices
    the order value is in currency; with them it scales the price of what is bought."""

    p: float = Field(default=6.0, gt=0)
    q: float = Field(default=4.0, gt=1)
    gamma: float = Field(default=150.0, gt=0)


class StageEffect(_Model):
    """Multipliers on purchase rate, dropout probability and check while in a stage."""

    rate: float = Field(default=1.0, ge=0)
    dropout: float = Field(default=1.0, ge=0)
    check: float = Field(default=1.0, ge=0)


class ChannelResponse(_Model):
    """How customers answer a channel: the share reachable (consent, contact data), the chance
    a message leads to a purchase within the window, and the unsubscribe chance per message;
    `max_wait_days`: how long a message over the channel's daily capacity waits in its queue
    for a later day (0: it is dropped at once)."""

    reach: float = Field(default=0.9, ge=0, le=1)
    response: float = Field(default=0.03, ge=0, le=1)
    window_days: float = Field(default=14.0, gt=0)
    unsubscribe: float = Field(default=0.002, ge=0, le=1)
    max_wait_days: int = Field(default=0, ge=0, le=365)


class RuleResponse(_Model):
    """A rule's own response, measured from its logged sends against its holdout (`clm
    calibrate --messages`): it replaces the channel's `response` for that rule's messages.
    Like the channel's, it is the chance for an active customer with no fatigue, before the
    offer's lift; the offer, fatigue and a lapsed customer's factor still apply."""

    response: float = Field(ge=0, le=1)


class Offers(_Model):
    """Response lift of an offer: x(1 + discount_elasticity * discount share), a bonus counts as
    a discount of bonus / expected check; an offer of a product adds `product_lift`."""

    discount_elasticity: float = Field(default=3.0, ge=0)
    bonus_elasticity: float = Field(default=1.5, ge=0)
    product_lift: float = Field(default=1.2, ge=0)
    reactivation: float = Field(default=0.3, ge=0, le=1)  # a lapsed customer's response, relative
    irrelevant_response: float = Field(default=0.2, ge=0, le=1)  # response to an irrelevant offer


class Fatigue(_Model):
    """Burnout: each message adds `per_message` to fatigue (more if irrelevant); fatigue halves
    every `half_life_days`; response x exp(-sensitivity * fatigue). Past `tolerance`, the
    excess fatigue raises the unsubscribe chance x (1 + unsubscribe_growth * excess) and makes
    an alive customer drop out with probability churn_per_fatigue * excess per message."""

    per_message: float = Field(default=1.0, ge=0)
    irrelevant_extra: float = Field(default=1.0, ge=0)
    half_life_days: float = Field(default=10.0, gt=0)
    sensitivity: float = Field(default=0.35, ge=0)
    unsubscribe_growth: float = Field(default=0.5, ge=0)
    tolerance: float = Field(default=2.0, ge=0)
    churn_per_fatigue: float = Field(default=0.004, ge=0, le=1)


class Roles(_Model):
    """What each product role does to the customers who hold it (see docs/model.md)."""

    value_dropout: float = Field(default=0.7, ge=0)  # dropout x this after buying a value product
    repeat_rate: float = Field(default=1.25, ge=0)  # purchase rate x this for programme members
    repeat_join: float = Field(default=0.3, ge=0, le=1)  # chance a purchase enrols in the programme
    lifetime_take_up: float = Field(default=0.1, ge=0, le=1)  # chance a purchase subscribes
    lifetime_dropout: float = Field(default=0.5, ge=0)  # dropout x this while subscribed
    lifetime_cancel: float = Field(default=0.08, ge=0, le=1)  # cancellation chance per period
    upsell_attach: float = Field(default=0.15, ge=0, le=1)  # chance an add-on joins a purchase
    cycle_follow: float = Field(default=0.6, ge=0, le=1)  # chance the next purchase keeps a cycle
    cycle_shape: float = Field(default=4.0, gt=0)  # Gamma shape of cycle-driven gaps


class Market(_Model):
    """Every assumption about customers, with documented defaults."""

    start_date: str = "2026-01-01"
    population: Population = Population()
    acquisition: Acquisition = Acquisition()
    prospects: Prospects = Prospects()
    buying: Buying = Buying()
    spend: Spend = Spend()
    stages: dict[str, StageEffect] = Field(default_factory=dict)
    channels: dict[str, ChannelResponse] = Field(default_factory=dict)
    # measured per rule (calibration); a rule the spec does not have is not used
    rules: dict[str, RuleResponse] = Field(default_factory=dict)
    default_channel: ChannelResponse = ChannelResponse()
    offers: Offers = Offers()
    fatigue: Fatigue = Fatigue()
    roles: Roles = Roles()
    products: dict[str, ProductDemand] = Field(default_factory=dict)
    lines: dict[str, LineDemand] = Field(default_factory=dict)
    attributes: dict[str, AttributeModel] = Field(default_factory=dict)
    events: dict[str, EventModel] = Field(default_factory=dict)  # market/events.py
    kpis: Kpis = Kpis()

    @field_validator("start_date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        """A calendar date: `"2026-01-01"` or the TOML date literal `2026-01-01`."""
        if isinstance(value, dt.datetime):
            raise ValueError("a date without a time of day, e.g. 2026-01-01")
        if isinstance(value, dt.date):
            value = value.isoformat()
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"not a calendar date: {value!r} (write YYYY-MM-DD)") from None
            if not MIN_DATE <= day <= MAX_DATE:
                raise ValueError(f"a date from {MIN_DATE} to {MAX_DATE}")
            return day.isoformat()
        return value

    def channel(self, name: str) -> ChannelResponse:
        return self.channels.get(name, self.default_channel)

    def response(self, rule: str, channel: str) -> float:
        """The base response of `rule`'s messages on `channel`: the rule's own, measured
        one when the market has it, else the channel's."""
        own = self.rules.get(rule)
        return own.response if own is not None else self.channel(channel).response

    def stage(self, name: str) -> StageEffect:
        return self.stages.get(name, StageEffect())

    def buying_model(self) -> BuyingModel:
        """The BG/NBD and Gamma-Gamma parameters that `p_alive` and the predictions use."""
        b, s = self.buying, self.spend
        return BuyingModel(b.r, b.alpha, b.a, b.b, s.p, s.q, s.gamma)

    def problems(self, policy: Policy) -> list[tuple[str, str]]:
        """Names in the market that the policy does not declare, each with a did-you-mean."""
        tables = {
            "stages": (self.stages, [s.name for s in policy.stages]),
            "channels": (self.channels, [c.name for c in policy.channels]),
            "products": (self.products, [p.name for p in policy.products]),
            "lines": (self.lines, list(policy.lines)),
            "attributes": (self.attributes, [a.name for a in policy.attributes]),
            "events": (self.events, [e.name for e in policy.events]),
            "population.audiences": (self.population.audiences, [a.name for a in policy.audiences]),
        }
        found = []
        for table, (given, known) in tables.items():
            for name in given:
                if name not in known:
                    found.append(
                        (
                            f"market.{table}.{name}",
                            "the spec declares no such name" + did_you_mean(name, known),
                        )
                    )
        audiences = [a.name for a in policy.audiences]
        stages = [s.name for s in policy.stages]
        nested = [
            (f"products.{k}", "audience", v.audiences, audiences) for k, v in self.products.items()
        ]
        for k, v in self.events.items():
            nested += [(f"events.{k}", "audience", v.audiences, audiences)]
            nested += [(f"events.{k}", "stage", v.stages, stages)]
        for where, kind, given, known in nested:
            for name in given:
                if name not in known:
                    key = f"market.{where}.{kind}s.{name}"
                    found.append(
                        (key, f"the spec declares no such {kind}" + did_you_mean(name, known))
                    )
        return (
            found
            + attribute_problems({k: v for k, v in self.attributes.items()}, policy)
            + self._keeps(policy)
        )

    def _keeps(self, policy: Policy) -> list[tuple[str, str]]:
        """`keep_days` on a product that is not durable, or whose line sets it already."""
        found = []
        for p in policy.products:
            demand = self.products.get(p.name)
            if demand is None or demand.keep_days is None:
                continue
            key = f"market.products.{p.name}.keep_days"
            line = self.lines.get(p.line) if p.line else None
            if p.cycle_days or p.role == "upsell":
                what = "has a cycle (`every`)" if p.cycle_days else "is an add-on (upsell)"
                found.append(
                    (
                        key,
                        f"{p.name} {what}: it is bought again at any time; keep_days is"
                        " for a durable product (no `every`)",
                    )
                )
            elif line is not None and line.keep_days is not None and p.role != "lead":
                found.append(
                    (key, f"its line {p.line} has keep_days, which applies to it: keep one")
                )
        return found


def market_from_mapping(data: dict, source: str = "<market>") -> Market:
    """Validate a mapping (a TOML table) as a `Market`; errors name each bad key."""
    try:
        return Market.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(top level)"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "finite_number":
                message = "must be a finite number (not inf or nan)"
            if item["type"] == "extra_forbidden":
                parent = item["loc"][:-1]
                known = _known_keys(parent)
                message = "unknown key" + did_you_mean(str(item["loc"][-1]), known)
            problems.append(("market." + key, message))
        raise MarketError(source, problems) from None


def _known_keys(path: tuple) -> list[str]:
    """The keys the table at `path` allows, for a did-you-mean."""
    model: type | None = Market
    parts = list(path)
    while parts:
        if model is None or not issubclass(model, BaseModel):
            return []
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        model = field.annotation
        if get_origin(model) is dict:  # a table of named models: skip the name
            if not parts:
                return []
            parts.pop(0)
            model = get_args(model)[1]
        if not isinstance(model, type):  # `Growth | None`: the model in it
            model = next((a for a in get_args(model) if isinstance(a, type)), None)
        if not isinstance(model, type):
            return []
    return _fields(model) if model else []


def _fields(model: type) -> list[str]:
    """A model's keys as written in a file (an alias when it has one)."""
    if not issubclass(model, BaseModel):
        return []
    return [f.alias or name for name, f in model.model_fields.items()]
