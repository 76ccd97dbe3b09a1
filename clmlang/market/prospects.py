"""Prospects: contacts who have not bought yet (subscribers, leads, visitors, sign-ups).

They come from sources (`[market.prospects.sources.NAME]`), each with a rate per day, a cost
per contact and its own conversion and drop-out rates, and from referrals: customers bring
prospects at a rate per day while they are alive, raised for a while by a message with the
referral tag. With no source and no referral rate (the default) there are no prospects and
the simulator runs exactly as without this table. See docs/model.md.
"""

from __future__ import annotations

from pydantic import Field

from .fields import _Model

__all__ = ["ProspectSource", "Prospects", "Referrals"]

# a contact list on day 0 is a list of customers in all but the purchase: the same bound
MAX_AT_START = 100_000_000


class ProspectSource(_Model):
    """Contacts arriving per day (Poisson) and present on day 0; `cost` is paid per contact
    that arrives in the run (lead cost); each converts to a first purchase after an
    exponential wait at rate `convert` per day unless they leave the base first, after an
    exponential wait at rate `dropout` per day."""

    per_day: float = Field(default=0.0, ge=0)
    at_start: int = Field(default=0, ge=0, le=MAX_AT_START)
    cost: float = Field(default=0.0, ge=0)
    convert: float = Field(default=0.01, ge=0)
    dropout: float = Field(default=0.02, ge=0)


class Referrals(_Model):
    """Prospects that customers bring: each customer alive (with a purchase) brings one at
    rate `per_day`; a message tagged `tag` multiplies its recipient's rate by `lift` for
    `window_days` days. A referred prospect converts at `convert` and leaves at `dropout`
    per day; `reward` is paid for each one who makes a first purchase (an acquisition cost)."""

    per_day: float = Field(default=0.0, ge=0, le=1)
    reward: float = Field(default=0.0, ge=0)
    convert: float = Field(default=0.02, ge=0)
    dropout: float = Field(default=0.02, ge=0)
    tag: str = "referral"
    lift: float = Field(default=2.0, ge=0)
    window_days: float = Field(default=30.0, gt=0)


class Prospects(_Model):
    """The top of the funnel: the sources of prospects and the referrals."""

    sources: dict[str, ProspectSource] = Field(default_factory=dict)
    referrals: Referrals = Referrals()

    @property
    def active(self) -> bool:
        """Whether the market has prospects at all (else the simulator ignores this table)."""
        return self.referrals.per_day > 0 or any(
            s.per_day > 0 or s.at_start > 0 for s in self.sources.values()
        )

    def expected(self, customers: float, days: int, arrival_days: float | None = None) -> float:
        """The prospects expected over `days` days, for sizing the run: the sources' and an
        upper bound of the referrals (every customer and prospect alive all along, at the
        lifted rate). `arrival_days`: the days' sum of the calendar of arrivals' multipliers
        (`Acquisition.days_of`; `days` without a calendar)."""
        span = days if arrival_days is None else arrival_days
        from_sources = sum(s.at_start + s.per_day * span for s in self.sources.values())
        r = self.referrals
        rate = r.per_day * max(r.lift, 1.0)
        return from_sources + (customers + from_sources) * rate * days
