"""Attributes that change during the run (docs/model.md, "Attributes").

Three kinds of change, each drawn without a per-customer loop:

- a number that grows (`growth`): a rate per customer, drawn with the population; the value
  on day `d` is the day-0 value plus the rate times the days since the customer's clock
  started (day 0, or the day an acquired customer arrived). It is computed when a condition
  reads it (`columns.py`), so conditions reading it are re-evaluated every day, like those
  reading `days_since_purchase`, and fire on the first day the value crosses their bound;
- a flag or a text that switches at a hazard (`hazard`, `hazard_back`, `targets`): each
  customer's next switch is an exponential wait from the last, due on the day it completes
  (`ceil`), held on the calendar under ("attribute", name); on that day the value changes
  before the day's purchases, the customers count as touched, so stages, segments and
  condition triggers see the new value that day;
- a date ahead of day 0 (`ahead_days`, `from`/`to`) and a `share` who have one: drawn with
  the population (`draw_dates`); date triggers are put on the calendar as before.

The waits and the values switched to are counter-based uniforms (`streams.py`) keyed by the
attribute's name and the customer's switch count, so they do not depend on the policy and do
not shift any other draw.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ...compile.policy import Policy
from ...market.model import AttributeModel, Market
from .streams import Purpose

__all__ = ["AttributeChanges", "Switching", "clock", "draw_dates", "draw_growth"]


def clock(arrival: np.ndarray) -> np.ndarray:
    """The day each customer's attributes start changing: day 0, or the day of arrival."""
    return np.maximum(np.floor(arrival), 0.0)


def draw_dates(
    model: AttributeModel, n: int, draw: np.random.Generator, has: np.random.Generator
) -> np.ndarray:
    """Dates (day numbers, relative to day 0) in the model's window ahead, else within `days`
    before day 0 as before; only a `share` of customers have one (the rest NaN: missing)."""
    if model.window is None:
        dates = -np.floor(draw.random(n) * model.past_days)
    else:
        first, last = model.window
        dates = np.floor(first + draw.random(n) * (last - first))
    if model.share is not None:
        dates[has.random(n) >= model.share] = np.nan
    return dates


def draw_growth(
    policy: Policy, market: Market, n: int, by_name, values: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Each growing number's rate per day and customer: normal(mean, sd), negative draws 0
    (mileage does not run backwards). A growing number without a `mean` starts at 0."""
    growth: dict[str, np.ndarray] = {}
    for attr in policy.attributes:
        model = market.attributes.get(attr.name)
        if model is None or model.growth is None or attr.type not in ("number", "money"):
            continue
        g = model.growth
        rate = by_name("attribute-growth", attr.name).normal(g.mean, g.sd, size=n)
        growth[attr.name] = np.maximum(rate, 0.0)
        if model.mean is None:
            values[attr.name] = np.zeros(n)
    return growth


@dataclass(frozen=True)
class Switching:
    """A flag or text attribute that switches at a hazard."""

    name: str
    flag: bool
    hazard: float  # per day: a flag from false to true; a text, to a value drawn from targets
    back: float  # per day: a flag from true to false
    targets: np.ndarray  # text: the values switched to (object array)
    cumulative: np.ndarray  # text: their cumulative weights, ending at 1
    key: np.uint64  # the counter base of this attribute's uniforms

    @classmethod
    def all_of(cls, policy: Policy, market: Market) -> list[Switching]:
        found = []
        for attr in policy.attributes:
            model = market.attributes.get(attr.name)
            if model is None or not model.switches or attr.type not in ("flag", "text"):
                continue
            weights = model.targets or model.values
            total = sum(weights.values()) or 1.0
            found.append(
                cls(
                    attr.name,
                    attr.type == "flag",
                    model.hazard or 0.0,
                    model.hazard_back,
                    np.array(list(weights), dtype=object),
                    np.cumsum([w / total for w in weights.values()]),
                    np.uint64(zlib.crc32(attr.name.encode())) << np.uint64(24),
                )
            )
        return found


class AttributeChanges:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _start_switches(self) -> None:
        """Every switching attribute's first switch, from each customer's clock."""
        self.switching = Switching.all_of(self.policy, self.market)
        self.switch_at: dict[str, np.ndarray] = {}
        self.switch_count: dict[str, np.ndarray] = {}
        ids = np.arange(self.n)
        for sw in self.switching:
            self.switch_at[sw.name] = clock(self.state.arrival)
            self.switch_count[sw.name] = np.zeros(self.n, dtype=np.int64)
            self._next_switch(sw, ids, -1)

    def _next_switch(self, sw: Switching, ids: np.ndarray, d: int) -> None:
        """Draw the next switch of `ids` (who switched on day `d`) and put it on the calendar;
        at most one switch per customer and day."""
        values = self.state.attributes[sw.name][ids]
        if sw.flag:
            rate = np.where(values > 0.5, sw.back, sw.hazard)
        else:
            rate = np.full(ids.size, sw.hazard)
        counter = sw.key + self.switch_count[sw.name][ids].astype(np.uint64)
        u = self.streams.uniform(ids, Purpose.ATTRIBUTE_CHANGE, counter)
        with np.errstate(divide="ignore"):
            wait = -np.log(u) / rate
        at = self.switch_at[sw.name][ids] + wait
        self.switch_at[sw.name][ids] = at
        due = np.maximum(np.ceil(at), d + 1)
        ok = np.isfinite(due)
        self.calendar.add_spread(due[ok], "attribute", sw.name, ids[ok])

    def _change_attributes(self, bucket: dict, d: int) -> None:
        """Day `d`'s switches: the new values, then the next switches; the customers who
        switched are touched today, and their stages re-evaluated."""
        changed = []
        for sw in self.switching:
            ids = bucket.get(("attribute", sw.name))
            if ids is None or not ids.size:
                continue
            values = self.state.attributes[sw.name]
            if sw.flag:
                values[ids] = 1.0 - values[ids]
            else:
                counter = sw.key + self.switch_count[sw.name][ids].astype(np.uint64)
                u = self.streams.uniform(ids, Purpose.ATTRIBUTE_VALUE, counter)
                pick = np.searchsorted(sw.cumulative, u, side="right")
                values[ids] = sw.targets[np.minimum(pick, sw.targets.size - 1)]
            self.switch_count[sw.name][ids] += 1
            self._next_switch(sw, ids, d)
            changed.append(ids)
            if self.trace is not None and (ids == self.trace.customer).any():
                new = values[self.trace.customer]
                shown = ("true" if new else "false") if sw.flag else repr(new)
                self.trace.add(d, "attribute", f"{sw.name} -> {shown}")
        if changed:
            who = self.idset.union(changed)
            who = who[who < self.arrived]
            self.today.touched.append(who)
            self._assign_stages(who, d)
