"""Behavioural events: what customers do besides buying (an abandoned cart, a page visit, a
service visit), as the spec's `event` declarations name them and `[market.events.NAME]` sets
their rates (market/events.py).

Each day, each customer who has arrived has a Poisson count of each event, at their rate of
the day: the base rate times the multipliers of their stage and audience, of a recent purchase
and of a recent message, and of having dropped out. The count comes from the counter-based
streams (one uniform per customer, event and day, inverted through the Poisson distribution),
so a customer's events do not depend on the policy except through what it changes in the
rate. A customer with events that day:

- counts them for `events of E` and `days_since_event of E` (from day 0 on: no history);
- is a candidate of `on event E` rules once that day, whatever the count, starts the timers
  of `N days after event E`, meets the success tests waiting for `event E`;
- with chance 1 - (1 - buy)^count, makes a purchase within `buy_days` days (a purchase of
  their own, not a response to any message; a sooner pending purchase is kept).

A spec with no `event` declaration draws nothing, so its outputs are as they were.
"""

from __future__ import annotations

import zlib

import numpy as np

from ...compile.policy import Policy
from ...language.conditions import required_columns
from ...market.events import EventModel
from ...market.model import Market
from .streams import Purpose

__all__ = ["EventMemory", "Events"]

_MAX_PER_DAY = 64  # the Poisson inversion stops here: far above any plausible daily count


class EventMemory:
    """Per declared event: its market model, each customer's count and last day (NaN: none
    yet), and the rate multipliers by stage and audience as lookup tables (code + 1)."""

    def __init__(self, policy: Policy, market: Market, n: int):
        self.names = [e.name for e in policy.events]
        self.index = {name: e for e, name in enumerate(self.names)}
        self.models = [market.events.get(name, EventModel()) for name in self.names]
        self.active = [e for e, m in enumerate(self.models) if m.rate > 0]
        # an event that never happens (no rate in the market) keeps no memory per customer:
        # read-only views of its count (0) and last day (none)
        self.count = [
            np.zeros(n, dtype=np.int32) if e in self.active else np.broadcast_to(np.int32(0), (n,))
            for e in range(len(self.names))
        ]
        self.last_day = [
            np.full(n, np.nan, dtype=np.float32)
            if e in self.active
            else np.broadcast_to(np.float32(np.nan), (n,))
            for e in range(len(self.names))
        ]
        stages = [s.name for s in policy.stages]
        audiences = [a.name for a in policy.audiences]
        self.by_stage = [_lookup(m.stages, stages) for m in self.models]
        self.by_audience = [_lookup(m.audiences, audiences) for m in self.models]
        # each event's own stream counters, the same whatever else the spec declares
        self.salt = [np.uint64(zlib.crc32(name.encode())) << np.uint64(17) for name in self.names]
        watch = any(m.after_message != 1 and m.after_message_days > 0 for m in self.models)
        self.last_message = np.full(n if watch else 0, -np.inf, dtype=np.float32)
        # stages that read the events: a customer's events move them at once
        self.stage_reads = any(
            key.partition(":")[0] in ("events", "days_since_event")
            for s in policy.stages
            for key in required_columns(s.condition)
        )

    def __bool__(self) -> bool:
        return bool(self.names)

    def __contains__(self, key: object) -> bool:
        field, _, name = str(key).partition(":")
        return field in ("events", "days_since_event") and name in self.index

    def column(self, key: str, ids: np.ndarray | slice, day: int) -> np.ndarray:
        """`events:E` (a count) or `days_since_event:E` (NaN: none yet) for `ids`."""
        field, _, name = key.partition(":")
        e = self.index[name]
        if field == "events":
            return self.count[e][ids].astype(float)
        return np.float32(day) - self.last_day[e][ids]

    def messaged(self, ids: np.ndarray, day: int) -> None:
        """`ids` received a message on `day` (for `after_message`)."""
        if self.last_message.size:
            self.last_message[ids] = day


def _lookup(table: dict[str, float], names: list[str]) -> np.ndarray:
    """Multipliers by code + 1 (index 0: no stage or audience, x1)."""
    return np.array([1.0] + [table.get(name, 1.0) for name in names])


def poisson_counts(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The Poisson(lam) counts whose CDF `u` falls in (inversion, vectorised)."""
    k = np.zeros(u.size, dtype=np.int32)
    p = np.exp(-lam)
    cdf = p.copy()
    for j in range(1, _MAX_PER_DAY):
        more = u > cdf
        if not more.any():
            break
        k += more
        p = p * lam / j
        cdf += p
    return k


class Events:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _behave(self, d: int) -> None:
        """Day `d`'s behavioural events, for every customer who has arrived."""
        mem = self.event_memory
        if not mem.active or not self.arrived:
            return
        ids = np.arange(self.arrived)
        if self.plan is not None:  # prospects who left the base do nothing more (prospects.py)
            ids = ids[~self.gone[ids]]
        for e in mem.active:
            lam = self._event_rate(e, ids, d)
            u = self.streams.uniform(ids, Purpose.EVENT, mem.salt[e] | np.uint64(d))
            hit = u > np.exp(-lam)
            if not hit.any():
                continue
            who = ids[hit]
            count = poisson_counts(u[hit], lam[hit])
            self._events_happened(e, who, count, d)

    def _event_rate(self, e: int, ids: np.ndarray, d: int) -> np.ndarray:
        """Each customer's rate of event `e` on day `d`."""
        st, mem = self.state, self.event_memory
        m = mem.models[e]
        lam = np.full(ids.size, m.rate)
        if m.stages:
            lam *= mem.by_stage[e][st.stage[ids].astype(np.int64) + 1]
        if m.audiences:
            lam *= mem.by_audience[e][st.audience[ids].astype(np.int64) + 1]
        if m.after_purchase != 1 and m.after_purchase_days > 0:
            recent = (d - st.last_day[ids]) < m.after_purchase_days  # NaN: never bought
            lam[recent] *= m.after_purchase
        if m.after_message != 1 and m.after_message_days > 0:
            recent = (d - mem.last_message[ids]) < m.after_message_days
            lam[recent] *= m.after_message
        if m.lapsed != 1:
            lam[~st.alive[ids]] *= m.lapsed
        return lam

    def _events_happened(self, e: int, who: np.ndarray, count: np.ndarray, d: int) -> None:
        """`who` had `count` events `e` on day `d`: counts, triggers, success tests, the
        purchases they bring, the trace."""
        mem, rec = self.event_memory, self.recorder
        mem.count[e][who] += count
        mem.last_day[e][who] = d
        total = int(count.sum())
        rec.event_counts[d, e] += total
        if rec.logs:
            rec.events.add(customer=who, day=d, event=e, count=count)
        self.today.events_behaviour.append((e, who))
        self.today.touched.append(who)
        if mem.stage_reads:
            self._assign_stages(who, d)
        for node_id, until in self.memory.waiting.items():
            ev = self.program.nodes[node_id].success.event
            if ev.kind == "event" and ev.name == mem.names[e]:
                self._succeed(node_id, who[until[who] >= d], d)
        self._event_purchases(e, who, count, d)
        if self.trace and (who == self.trace.customer).any():
            n = int(count[who == self.trace.customer][0])
            self.trace.add(d, "event", f"{mem.names[e]}" + (f" x{n}" if n > 1 else ""))

    def _event_purchases(self, e: int, who: np.ndarray, count: np.ndarray, d: int) -> None:
        """Purchases the events bring (`buy`), each within `buy_days` days after the day."""
        st, mem = self.state, self.event_memory
        m = mem.models[e]
        if m.buy <= 0:
            return
        counter = mem.salt[e] | np.uint64(d)
        buys = self.streams.uniform(who, Purpose.EVENT_BUY, counter) < 1 - (1 - m.buy) ** count
        buyer = who[buys]
        u = self.streams.uniform(buyer, Purpose.EVENT_BUY_TIME, counter)
        when = d + 1 + u * max(m.buy_days - 1.0, 0.0)
        pending = st.response_t[buyer]
        sooner = (when < pending) | (pending < d)  # one before today is no longer pending
        buyer, when = buyer[sooner], when[sooner]
        if not buyer.size:
            return
        st.response_t[buyer] = when
        st.response_site[buyer] = -1  # no message's response
        self.calendar.add_spread(np.floor(when), "response", None, buyer)
