"""Prospects: the top of the funnel. Contacts who have not bought come from sources and from
referrals, sit in the spec's `purchases == 0` stage, and either make a first purchase (on
their own after an exponential wait, or answering a message) or leave the base.

Only when the market has prospects (`market.prospects`); otherwise nothing here runs and the
simulator's draws and outputs are those of a run without them. With prospects, everyone who
comes during the run (acquired customers, prospects from each source, referred prospects)
takes the next free row of the population on the day they come, in that order, so the rows
that have arrived stay a prefix, as the rest of the engine expects; a row's latent traits
(rate, dropout, spend, audience, consent) were drawn with the population.

With referrals, how many come on a day depends on the policy (who buys, who was invited),
so the rows of everyone after them would shift from one policy to another. Each newcomer
therefore has an identity that does not: the planned ones (acquired, from a source; drawn
before the run) their place in the plan, the referred ones their day and their number
within it (`ArrivalPlan.referral_room` places a day). The newcomer's traits are those drawn
for its identity, and its random streams are keyed by it (`Streams.identity`): two policies
see the same newcomers with the same draws, and the same referred prospects as long as the
day's count is the same (the count itself is a quantile of one uniform per day, so it moves
only as far as its rate does). Such a run takes the numpy path (the compiled kernels key
their draws by row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ...market.model import Market
from .attributes import clock
from .seasons import later
from .streams import Purpose, Streams

__all__ = ["FUNNEL_DAILY", "ArrivalPlan", "Funnel", "plan_arrivals", "poisson_quantile"]

NEVER = np.inf
# daily.csv's columns for the funnel, in this order (`prospects` is a level, the rest flows)
FUNNEL_DAILY = ("prospects", "prospect_arrivals", "conversions", "prospects_lost", "referrals")


@dataclass(frozen=True)
class ArrivalPlan:
    """Who comes on each day, drawn before the run: acquired customers and each source's
    prospects (column 0: acquisition, then the sources in the market's order), and the rows
    kept for referred prospects."""

    arrival: np.ndarray  # the starting customers' arrival times, then NEVER for the free rows
    counts: np.ndarray  # int64 (days, 1 + sources)
    referral_rows: int
    referral_room: int = 0  # referred prospects a day at most (referral_rows = days x this)


def plan_arrivals(
    market: Market, customers: int, days: int, rng: np.random.Generator
) -> ArrivalPlan | None:
    """The arrivals of a run with prospects, from `rng`; None without prospects."""
    prospects = market.prospects
    if not prospects.active:
        return None
    sources = list(prospects.sources.values())
    rates = np.array([market.acquisition.per_day] + [s.per_day for s in sources])
    if market.acquisition.seasonal:  # the calendar of arrivals, for each source too
        rates = market.acquisition.by_day(market.start_date, days)[:, None] * rates[None, :]
    counts = rng.poisson(rates, size=(days, rates.shape[-1])).astype(np.int64)
    if days:
        counts[0, 1:] += np.array([s.at_start for s in sources], dtype=np.int64)
    new = market.population.start == "new"
    base = rng.random(customers) if new else np.zeros(customers)
    referral_rows = room = 0
    if prospects.referrals.per_day > 0 and days:
        # room each day for the referrals of everyone who comes, at the lifted rate all
        # along, twice and six standard deviations more
        everyone = customers + int(counts.sum())
        ref = prospects.referrals
        most = everyone * ref.per_day * max(ref.lift, 1.0)
        room = math.ceil(2 * most + 6 * math.sqrt(most) + 3)
        referral_rows = room * days
    free = int(counts.sum()) + referral_rows
    arrival = np.concatenate([base, np.full(free, NEVER)])
    return ArrivalPlan(arrival, counts, referral_rows, room)


def poisson_quantile(u: float, rate: float) -> int:
    """The smallest k with P(N <= k) >= u for N ~ Poisson(rate): one uniform gives the count,
    so two rates close together give counts close together (common random numbers)."""
    if rate <= 0:
        return 0
    top = int(rate + 12 * math.sqrt(rate) + 30)
    cdf = special.pdtr(np.arange(top + 1), rate)
    return min(int(np.searchsorted(cdf, u, side="left")), top)


class Funnel:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _funnel_start(self) -> None:
        """The funnel's own state: each row's source (-1: not a prospect; the sources in the
        market's order, then referrals), when a prospect leaves, the referral lift's end."""
        plan = self.state.plan
        self.plan = plan
        if plan is None:
            return
        market = self.market.prospects
        n = self.n
        self.sources = list(market.sources.values())
        self.at_start = np.array([s.at_start for s in self.sources], dtype=np.int64)
        self.referral_source = len(self.sources)
        self.source = np.full(n, -1, dtype=np.int16)
        self.leaves_t = np.full(n, NEVER)
        self.gone = np.zeros(n, dtype=bool)
        self.referral_until = np.full(n, -np.inf, dtype=np.float32)
        self.next_row = self.customers
        self.funnel_customers = self.customers
        self.identities = None
        if plan.referral_rows:
            self._identities_start(plan)
        self.recorder.funnel = {k: np.zeros(self.days) for k in FUNNEL_DAILY}
        self.needs_daily = True
        self.today_prospects = np.zeros(0, dtype=np.int64)
        self.referral_tag = market.referrals.tag
        calendar = self.market.acquisition  # the arrivals' calendar, when the market has one
        self.calendar_of_arrivals = None
        if calendar.seasonal:  # each day's multiplier, and its integral from day 0
            m = calendar.by_day(self.market.start_date, self.days)
            self.calendar_of_arrivals = (m, np.concatenate([[0.0], np.cumsum(m)]))

    def _arrive(self, d: int) -> None:
        """Day `d`'s newcomers take the next free rows, before the day's calendar is taken:
        acquired customers (their first purchase is due today), then each source's prospects
        and the referred ones (their first purchase or their leaving is put on the calendar)."""
        if self.plan is None:
            return
        counts = self.plan.counts[d]
        referred = self._referred(d)
        kinds = np.repeat(np.arange(-1, len(self.sources) + 1), [*counts.tolist(), referred])
        rows = np.arange(self.next_row, self.next_row + kinds.size)
        self.next_row += kinds.size
        st, rec = self.state, self.recorder
        if self.identities is not None:
            self._identify(rows, d, kinds.size - referred, referred)
        st.arrival[rows] = d + self.streams.uniform(rows, Purpose.ARRIVAL)
        for sw in self.switching:  # their attributes start switching today (attributes.py)
            self.switch_at[sw.name][rows] = clock(st.arrival[rows])
            self._next_switch(sw, rows, d - 1)
        acquired = rows[kinds < 0]
        st.acquired[acquired] = True
        st.next_t[acquired] = st.arrival[acquired]
        self.calendar.add(d, "purchase", None, acquired)
        self.funnel_customers += acquired.size
        prospects, kind = rows[kinds >= 0], kinds[kinds >= 0]
        self.source[prospects] = kind
        convert = np.array(
            [s.convert for s in self.sources] + [self.market.prospects.referrals.convert]
        )
        leave = np.array(
            [s.dropout for s in self.sources] + [self.market.prospects.referrals.dropout]
        )
        with np.errstate(divide="ignore"):
            wait = -np.log(self.streams.uniform(prospects, Purpose.CONVERT)) / convert[kind]
            stay = -np.log(self.streams.uniform(prospects, Purpose.LEAVE)) / leave[kind]
        t0 = st.arrival[prospects]
        buys = self._in_season(t0, wait)  # the wait to convert runs in the arrivals' calendar
        converts = buys < t0 + stay if self.calendar_of_arrivals is not None else wait < stay
        first = np.where(converts, buys, NEVER)
        st.next_t[prospects] = first
        self.leaves_t[prospects] = np.where(converts, NEVER, t0 + stay)
        ok = np.isfinite(first)
        self.calendar.add_spread(np.floor(first[ok]), "purchase", None, prospects[ok])
        out = np.isfinite(self.leaves_t[prospects])
        self.calendar.add_spread(
            np.floor(self.leaves_t[prospects][out]), "leave", None, prospects[out]
        )
        bought = counts[1:] - (self.at_start if d == 0 else 0)  # a list on day 0 is free
        cost = self.market.acquisition.cost * acquired.size
        cost += sum(s.cost * int(n) for s, n in zip(self.sources, bought, strict=True))
        rec.daily["acquisition_cost"][d] += cost
        rec.funnel["prospect_arrivals"][d] += prospects.size
        rec.funnel["referrals"][d] += referred
        self.today_prospects = prospects
        self.arrived = self.next_row
        if self.trace and (prospects == self.trace.customer).any():
            i = int(np.flatnonzero(prospects == self.trace.customer)[0])
            names = [*self.market.prospects.sources, "referral"]
            self.trace.add(st.arrival[prospects[i]], "prospect", f"came from {names[kind[i]]}")

    def _in_season(self, t0: np.ndarray, wait: np.ndarray) -> np.ndarray:
        """When a wait started at `t0` ends, spent in the time of the arrivals' calendar
        (`acquisition.months`/`weeks`, m(d)): the time t at which the integral of m from t0
        equals `wait` (m is constant within a day: piecewise linear, inverted exactly; days
        with m = 0 are passed over; past the horizon time runs flat). Without a calendar,
        t0 + wait."""
        if self.calendar_of_arrivals is None:
            return t0 + wait
        m, integral = self.calendar_of_arrivals
        return later(m[None, :], integral[None, :], np.zeros(t0.size, dtype=np.int64), t0, wait)

    def _referred(self, d: int) -> int:
        """How many prospects the customers bring today: Poisson, at the referral rate of each
        customer alive, lifted for those a referral message reached lately (the quantile of
        the day's uniform); no more than the day's room."""
        ref = self.market.prospects.referrals
        if ref.per_day <= 0 or not self.plan.referral_room:
            return 0
        rows = slice(0, self.next_row)
        st = self.state
        buyers = st.alive[rows] & (st.purchases[rows] > 0)
        lifted = buyers & (self.referral_until[rows] >= d)
        rate = ref.per_day * (
            np.count_nonzero(buyers) + (ref.lift - 1.0) * np.count_nonzero(lifted)
        )
        u = float(self.referral_day.uniform(0, Purpose.REFERRALS, d)[()])
        wanted, room = poisson_quantile(u, max(rate, 0.0)), self.plan.referral_room
        if wanted > room:  # not simulated: the forecast warns (acquisition.referral_warnings)
            self.recorder.referrals_beyond_room += wanted - room
            self.recorder.referral_room_full_days += 1
            self.recorder.referral_room = room
        return min(wanted, room)

    def _identities_start(self, plan: ArrivalPlan) -> None:
        """Newcomers keyed by who they are (see the module docstring): each row's identity,
        and the traits drawn for each identity of the free rows, kept aside."""
        st, c = self.state, self.customers
        self.identities = np.arange(self.n, dtype=np.int64)
        self.streams.identity = self.identities
        planned = np.concatenate([[0], np.cumsum(plan.counts.sum(axis=1))])
        self.planned_before = c + planned  # the first planned identity of each day
        self.referral_first = c + int(planned[-1])  # the first referred identity
        # the day's referral count: its own stream, keyed by the day (not by any row)
        self.referral_day = Streams(np.random.default_rng([int(self.streams.key), 17]))
        traits = [st.audience, st.rate, st.dropout, st.spend, st.reachable, st.control]
        traits += [*st.attributes.values(), *st.growth.values()]
        self.traits = [(a, a[c:].copy()) for a in traits]

    def _identify(self, rows: np.ndarray, d: int, planned: int, referred: int) -> None:
        """Today's newcomers' identities (the planned ones, then the referred ones) and the
        traits drawn for them."""
        ids = np.concatenate(
            [
                self.planned_before[d] + np.arange(planned),
                self.referral_first + d * self.plan.referral_room + np.arange(referred),
            ]
        )
        self.identities[rows] = ids
        for array, drawn in self.traits:
            array[rows] = drawn[ids - self.customers]

    def _prospects_enter(self, d: int) -> None:
        """Today's new prospects enter their stage (`purchases == 0`) and the rules see them."""
        if self.plan is None or not self.today_prospects.size:
            return
        self._assign_stages(self.today_prospects, d)
        self.today.touched.append(self.today_prospects)

    def _leave(self, ids: np.ndarray, d: int) -> None:
        """Prospects who did not buy leave the base: no purchase of their own, no message
        reaches them (every channel is closed), and they leave their stage."""
        st = self.state
        ids = ids[(st.purchases[ids] == 0) & (np.floor(self.leaves_t[ids]) == d) & ~self.gone[ids]]
        if not ids.size:
            return
        self.gone[ids] = True
        st.alive[ids] = False
        st.next_t[ids] = NEVER
        st.response_t[ids] = NEVER
        st.response_site[ids] = -1
        st.unsubscribed[ids] = np.iinfo(np.uint64).max
        self.recorder.funnel["prospects_lost"][d] += ids.size
        self._assign_stages(ids, d)
        if self.trace and (ids == self.trace.customer).any():
            self.trace.add(d, "prospect", "left the base without buying")

    def _converted(self, ids: np.ndarray, d: int) -> None:
        """First purchases: a prospect among `ids` has converted (an acquired customer now);
        a referred one earns its referrer's reward."""
        if self.plan is None:
            return
        ids = ids[self.source[ids] >= 0]
        if not ids.size:
            return
        self.state.acquired[ids] = True
        self.funnel_customers += ids.size
        rec = self.recorder
        rec.funnel["conversions"][d] += ids.size
        referred = np.count_nonzero(self.source[ids] == self.referral_source)
        rec.daily["acquisition_cost"][d] += referred * self.market.prospects.referrals.reward

    def _referral_message(self, site, ids: np.ndarray, d: int) -> None:
        """A message with the referral tag: its recipients refer at the lifted rate for a
        while (a referral offer)."""
        if self.plan is not None and self.referral_tag in site.send.tags:
            window = self.market.prospects.referrals.window_days
            self.referral_until[ids] = d + window

    def _funnel_day_end(self, d: int) -> None:
        """The day's levels: customers (with a purchase, or acquired) and prospects waiting."""
        rec = self.recorder
        rec.daily["customers"][d] = self.funnel_customers
        rows = slice(self.customers, self.next_row)
        waiting = (self.source[rows] >= 0) & (self.state.purchases[rows] == 0) & ~self.gone[rows]
        rec.funnel["prospects"][d] = np.count_nonzero(waiting)
        rec.rows = self.next_row
