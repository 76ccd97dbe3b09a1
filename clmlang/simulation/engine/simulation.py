"""The simulator: a SimPy calendar of day buckets driving batch updates of numpy state.

One SimPy process walks the calendar: it wakes on each day that has work (every day when the
policy has condition-triggered or scheduled rules, or stages that change with time) and runs
the day's phases in a fixed order, each over whole batches of customers:

1. purchases due today (natural ones and responses to messages), with their consequences:
   products, checks, upsells, subscriptions, programme membership, stage changes, dropout,
   the next purchase time, success tests of waiting rules;
2. subscription renewals, then behavioural events (an abandoned cart: `events.py`);
3. stage changes that time alone brings;
4. rules: triggers, eligibility, re-entry, holdout and variants, flows and their follow-ups;
5. messages, in priority order, through caps and channel capacities, and their effects:
   cost, fatigue, unsubscribes, burnout and responses (future purchases).

The phases live in mixins of their own: `buying.py` (1, 2), `stages.py` (3, and the stage
changes purchases bring), `rules.py` (4, with the success tests), `messaging.py` (5), and
`timers.py` puts on the calendar what is due from the start and the timers a purchase sets;
this module holds the state, the walk of the calendar and the day. See docs/engine.md for
the design and docs/model.md for the behaviour it implements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from ...compile.policy import Policy
from ...core.compiled import use_compiled
from ...core.heap import TRIM_DAYS, trim
from ...market.model import Market
from .attributes import AttributeChanges
from .buying import Buying
from .calendar import Calendar
from .caps import Caps
from .catalogue import Catalogue
from .choice import Choosing
from .columns import MessageLog
from .components import (
    Arms,
    DayWork,
    Eligibility,
    RuleMemory,
    SendSteps,
    StageEffects,
    growing_columns,
)
from .events import EventMemory, Events
from .holdings import from_history, replay_purchases
from .idset import IdSet
from .messaging import Messaging
from .offers import mean_check
from .ownership import Ownership
from .population import NEVER, ActiveBuyers, Base, State, apply_base, draw_population
from .program import Program
from .prospects import Funnel
from .recorder import Recorder, Trace
from .rules import Rules
from .schedules import window_days
from .seasons import Seasons
from .segments import SegmentMemory, Segments
from .stages import Stages, purchase_stage_table, stage_crossings
from .streams import Streams
from .tally import Tally
from .timers import Timers
from .wakeups import Wakeups, Waking

__all__ = ["Run", "simulate_policy"]


@dataclass
class Run:
    """The raw result of one run: final state, recorded logs and counters."""

    policy: Policy
    market: Market
    days: int
    customers: int
    state: State
    recorder: Recorder
    arms: list[tuple[int, str]]  # (rule index, variant name | "" | "holdout")
    sites: list  # the send steps, indexed as in the message log
    trace: Trace | None
    # seeds what is computed from the run afterwards (rules.csv's bootstrap), drawn from the
    # run's Generator after the engine's own draws, so no simulated draw depends on it
    stats_seed: int = 0


class _Simulation(
    Timers,
    AttributeChanges,
    Buying,
    Choosing,
    Events,
    Stages,
    Segments,
    Rules,
    Waking,
    Messaging,
    Funnel,
):
    def __init__(
        self,
        policy: Policy,
        market: Market,
        customers: int,
        days: int,
        rng: np.random.Generator,
        trace: int | None,
        progress=None,
        base: Base | None = None,
        blocks: int = 1,
        logs: bool = False,
        share=None,
    ):
        self.policy, self.market, self.days = policy, market, days
        # a block of a run split across processes whose channels' capacities it shares
        # (blocks.py): asked how many of each capacity-bound batch to send, told each day's end
        self.share = share
        self.share_key: tuple[int, ...] = ()
        if (
            blocks < 1
            or customers % blocks
            or (blocks > 1 and (market.acquisition.per_day or market.prospects.active))
        ):
            raise ValueError("blocks: equal blocks of the starting customers, no acquisition")
        self.blocks, self.block_size = blocks, max(customers // blocks, 1)
        self.progress = progress
        population_rng, key_rng = rng.spawn(2)
        self.state = st = draw_population(policy, market, customers, days, population_rng)
        self.from_base = base is not None
        if base is not None:
            apply_base(st, base, market, population_rng.spawn(1)[0])
        self.streams = Streams(key_rng)
        self.stats_seed = int(key_rng.integers(0, 2**63, dtype=np.int64))
        self.n = st.n
        self.customers = customers
        # the compiled kernels (core/compiled.py) or their numpy twins: the same bytes either way
        # with referrals, newcomers are keyed by identity (prospects.py); kernels key by row
        self.compiled = use_compiled(self.n * days) and not (st.plan and st.plan.referral_rows)
        self.streams.compiled = self.compiled
        self.catalogue = Catalogue(policy, market)
        self.seasons = Seasons(policy, market, self.catalogue, days)
        self.ownership = Ownership(policy, market, self.catalogue, self.n)
        self.skips = np.zeros(self.n, dtype=np.int32)  # purchases that found nothing to buy
        self.active = ActiveBuyers()  # the daily count of customers alive who have bought
        self.program = Program.of(policy)
        self.idset = IdSet(self.n)
        self.calendar = Calendar(days, self.idset, self.compiled)
        self.message_log = MessageLog(policy, self.n)
        self.tally = Tally(policy, self.n)
        self.event_memory = EventMemory(policy, market, self.n)
        self.product_index = {p.name: i for i, p in enumerate(policy.products)}
        self.line_index = {name: i for i, name in enumerate(policy.lines)}
        self.channel_index = {c.name: i for i, c in enumerate(policy.channels)}
        self.stage_index = {s.name: i for i, s in enumerate(policy.stages)}
        self.segment_index = {s.name: i for i, s in enumerate(policy.segments)}
        self.trace = Trace(trace) if trace is not None else None
        self.start_date = dt.date.fromisoformat(market.start_date)
        self.effects = StageEffects.of(policy, market)
        sp = market.spend
        self.mean_order = sp.p * sp.gamma / (sp.q - 1.0)
        self.mean_check = mean_check(self.catalogue, market)

        self.rules = policy.rules
        self.windows = [window_days(rule, self.start_date) for rule in policy.rules]
        self.arms = Arms.of_policy(policy)
        self.steps = SendSteps.of(self.program, self.arms)
        growing = growing_columns(market)
        self.eligibility = Eligibility.of(policy, self.effects.time_driven, growing)
        self.stage_crossings = stage_crossings(policy, self.effects.time_driven, growing, days)
        self.purchase_stages = purchase_stage_table(policy) if self.compiled else None
        self.wakeups = Wakeups(policy, growing, self.eligibility.time_driven)
        self.memory = RuleMemory.of(policy, self.program, self.n)
        if base is not None and base.fired:  # re-entry carries on from the policy in force
            for r, rule in enumerate(policy.rules):
                if rule.name in base.fired and r in self.memory.last_fired:
                    self.memory.last_fired[r][: base.size] = base.fired[rule.name]
        self.segments = SegmentMemory.of(policy, self.n, self.effects.time_driven, growing, days)
        self.recorder = Recorder(
            days,
            len(policy.stages),
            len(policy.channels),
            len(self.arms.labels),
            logs=logs,
            segments=len(policy.segments),
            events=len(policy.events),
            block_size=customers // blocks,  # customers acquired later: blocks past the last
        )
        self.caps = Caps(policy.caps, self.n)
        self.decay: np.ndarray | None = None  # fatigue decay by whole days (compiled path)
        self.subscription_next = {j: np.full(self.n, NEVER) for j in self.catalogue.lifetimes}
        # an existing base: customers with a history before day 0 (the condition triggers
        # see all of them on day 0, not only those the day touches)
        self.existing = bool(customers) and (
            market.population.start == "existing" or base is not None
        )
        if self.existing:
            self._own_prior(base)
            if self.seasons.active:  # the wait from day 0 is spent in seasonal time
                c, nxt = customers, st.next_t[:customers]
                on = np.isfinite(nxt) & (nxt < NEVER)
                nxt[on] = self.seasons.later(st.audience[:c][on], np.zeros(on.sum()), nxt[on])
        self.needs_daily = (
            share is not None  # every block walks every day with the others
            or self.effects.time_driven
            or self.segments.any_time_driven
            or bool(self.event_memory.active)
            or any(r.trigger.kind in ("condition", "every", "schedule") for r in self.rules)
        )
        self._funnel_start()  # prospects, when the market has them (prospects.py)
        self.today = DayWork.start(policy, blocks)
        # the channels with a queue: each one's waiting messages, in order of arrival, as
        # (day they arrived, send step, arm, customers)
        self.max_wait = [market.channel(c.name).max_wait_days for c in policy.channels]
        # (and the key of the batch that overflowed, for blocks sharing the capacity)
        self.backlog: dict[int, list[tuple[int, int, int, np.ndarray, tuple]]] = {
            ch: [] for ch, c in enumerate(policy.channels) if self.max_wait[ch] > 0
        }
        self.seq = 0
        self.today_edges = np.zeros(0, dtype=np.int64)  # the condition edges of the rule at hand

    def _own_prior(self, base: Base | None) -> None:
        """What the existing customers own on day 0: as the history says, or replayed under
        the market's choice model (holdings.py); their subscriptions' next billings go on
        the calendar."""
        st, cat, c = self.state, self.catalogue, self.customers
        if base is not None and base.holdings is not None:
            names = [p.name for p in self.policy.products]
            own = from_history(cat, names, base.holdings, c, st.alive[:c], self.streams)
            self.ownership.from_history(own.last_product, st.first_t[:c], st.last_t[:c])
            if self.tally:
                self.tally.record_history(cat, names, base.holdings, st.last_t[:c])
        else:
            own = replay_purchases(
                cat,
                self.market.roles,
                self.streams,
                st.audience[:c],
                st.purchases[:c],
                st.first_t[:c],
                st.last_t[:c],
                st.alive[:c],
                self.ownership.recorder(self.tally.record if self.tally else None)
                if self.ownership.timed
                else (self.tally.record if self.tally else None),
            )
        st.owned[:c], st.owned_lines[:c] = own.owned, own.owned_lines
        st.last_product[:c], st.members[:c] = own.last_product, own.members
        st.subscribed[:c] = own.subscribed
        ids = np.arange(c)
        for j, nxt in own.subscription_next.items():
            on = np.isfinite(nxt)
            self.subscription_next[j][:c][on] = nxt[on]
            self.calendar.add_spread(np.floor(nxt[on]), "billing", j, ids[on])

    # ---- the calendar -------------------------------------------------------------------
    def run(self) -> Run:
        st = self.state
        self.arrived = self.customers
        self.acquired_arrival = st.arrival[self.customers :]
        self._schedule_start()
        self._start_switches()
        env = simpy.Environment()
        env.process(self._process(env))
        env.run()
        self.recorder.rule_events.finish()
        return Run(
            self.policy,
            self.market,
            self.days,
            self.customers,
            st,
            self.recorder,
            self.arms.labels,
            self.steps.sites,
            self.trace,
            self.stats_seed,
        )

    def _process(self, env: simpy.Environment):
        day = -1
        last_recorded = -1
        while True:
            waiting = any(self.backlog.values())
            nxt = day + 1 if self.needs_daily or waiting else self.calendar.next_day(day)
            if nxt is None or nxt >= self.days:
                break
            yield env.timeout(nxt - env.now if day >= 0 else nxt)
            day = nxt
            self._day(day)
            if day % TRIM_DAYS == TRIM_DAYS - 1:  # the heap's free pages back (core/heap.py)
                trim()
            if self.share is not None:
                self.share.day_done(day)
            if self.progress is not None:
                self.progress(day)
            self._fill_levels(last_recorded, day)
            last_recorded = day
        self._fill_levels(last_recorded, self.days)

    def _fill_levels(self, last: int, upto: int) -> None:
        """Days the calendar skipped keep the levels of the last day it processed."""
        rec = self.recorder
        if last < 0 or upto - last <= 1:
            return
        for key in ("customers", "alive"):
            rec.daily[key][last + 1 : upto] = rec.daily[key][last]
        rec.stage_counts[last + 1 : upto] = rec.stage_counts[last]
        rec.segment_counts[last + 1 : upto] = rec.segment_counts[last]

    # ---- one day ------------------------------------------------------------------------
    def _day(self, d: int) -> None:
        st, rec = self.state, self.recorder
        self._arrive(d)  # with prospects: today's newcomers take their rows (prospects.py)
        bucket = self.calendar.take(d)
        if self.plan is None:
            self.arrived = self.customers + int(np.searchsorted(self.acquired_arrival, d + 1.0))
        self.today = DayWork.start(self.policy, self.blocks)
        if self.plan is None:
            arriving = (self.acquired_arrival >= d) & (self.acquired_arrival < d + 1)
            rec.daily["acquisition_cost"][d] += int(np.sum(arriving)) * self.market.acquisition.cost
        else:
            self._prospects_enter(d)

        # 0. attributes that switch today (a need appears, a child is born)
        if self.switching:
            self._change_attributes(bucket, d)
        # 1. purchases
        due = [v for (kind, _), v in bucket.items() if kind in ("purchase", "response")]
        if due:  # each of the bucket's entries is sorted and distinct already
            self._purchases(due[0] if len(due) == 1 else self.idset.union(due), d)
        if ("leave", None) in bucket:  # prospects who did not buy leave the base
            self._leave(bucket[("leave", None)], d)
        # 2. renewals
        for (kind, key), ids in bucket.items():
            if kind == "billing":
                self._renew(key, ids, d)
        # 2b. behavioural events
        self._behave(d)
        # 3. stages that change with time
        if self.effects.time_driven:
            self._age_stages(d)
        # 3b. moves in and out of segments
        self._track_segments(d)
        # 4. rules
        self._rules(bucket, d)
        # 5. messages: those waiting in the channels' queues, then the day's
        if self.backlog:
            self._serve_backlog(d)
        self._send_queue(d)
        if self.backlog:
            self._expire_backlog(d)

        rec.daily["customers"][d] = self.arrived
        rec.daily["alive"][d] = self.active.count(st, self.arrived)
        # customers per stage from the transitions so far: entries less exits (no full scan)
        counts = rec.transitions.sum(axis=0) - rec.transitions.sum(axis=1)
        counts[0] = self.arrived - counts[1:].sum()
        rec.stage_counts[d] = counts
        rec.segment_counts[d] = self.segments.count
        if self.plan is not None:
            self._funnel_day_end(d)


def simulate_policy(
    policy: Policy,
    market: Market,
    *,
    customers: int,
    days: int,
    rng: np.random.Generator,
    trace: int | None = None,
    progress: Callable[[int], None] | None = None,
    base: Base | None = None,
    blocks: int = 1,
    logs: bool = False,
    share=None,
) -> Run:
    """Run `policy` on `customers` customers of `market` for `days` days.

    `trace`: a customer id whose journey to record; `progress(day)` is called after each day
    the calendar processes; `base`: real customers to start from (they are the first
    `base.size` of the `customers`). `blocks`: the customers are that many equal blocks of
    consecutive ids, independent populations in one calendar: each block has the channels'
    whole daily capacity (nothing else couples customers, and there must be no acquisition).
    `logs`: keep one row per message and per rule firing (`Recorder.messages`,
    `rule_events`), and the messages that were not delivered (capped, control group, ...),
    for the messages log; without it, firings and messages are aggregated as they happen
    (firings.py). No random draw depends on it. `share`: this run is one block of a
    population split across processes (`blocks.run_blocks`), sharing the channels'
    capacities with the other blocks through it.
    """
    return _Simulation(
        policy, market, customers, days, rng, trace, progress, base, blocks, logs, share
    ).run()
