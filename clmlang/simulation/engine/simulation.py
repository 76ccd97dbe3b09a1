"""The simulator: a SimPy calendar of day buckets driving batch updates of numpy state.

One SimPy process walks the calendar: it wakes on each day that has work (every day when the
policy has condition-triggered or scheduled rules, or stages that change with time) and runs
the day's phases in a fixed order, each over whole batches of customers:

1. purchases due today (natural ones and responses to messages), with their consequences:
   products, checks, upsells, subscriptions, programme membership, stage changes, dropout,
   the next purchase time, success tests of waiting rules;
2. subscription renewals;
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
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from ...compile.policy import Policy
from ...language.conditions import Expr, Logic, required_columns
from ...market.model import Market
from .buying import Buying
from .calendar import Calendar
from .catalogue import Catalogue
from .columns import MessageLog
from .idset import IdSet
from .messaging import Messaging, _Cap
from .population import NEVER, Base, State, apply_base, draw_population
from .program import Program
from .recorder import Recorder, Trace
from .rules import Rules
from .stages import Stages
from .streams import Streams
from .timers import Timers

__all__ = ["Run", "simulate_policy"]

# Columns whose value changes with the passing of time alone, not only at events.
_TIME_PREFIXES = ("days_since", "days_in_stage", "messages:", "days_since:")


def _time_driven(expr: Expr | None) -> bool:
    if expr is None:
        return False
    return any(key.startswith(_TIME_PREFIXES) for key in required_columns(expr))


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


class _Simulation(Timers, Buying, Stages, Rules, Messaging):
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
    ):
        self.policy, self.market, self.days = policy, market, days
        if blocks < 1 or customers % blocks or (blocks > 1 and market.acquisition.per_day):
            raise ValueError("blocks: equal blocks of the starting customers, no acquisition")
        self.blocks, self.block_size = blocks, max(customers // blocks, 1)
        self.progress = progress
        population_rng, key_rng = rng.spawn(2)
        self.state = st = draw_population(policy, market, customers, days, population_rng)
        self.from_base = base is not None
        if base is not None:
            apply_base(st, base, market, population_rng.spawn(1)[0])
        self.streams = Streams(key_rng)
        self.n = st.n
        self.customers = customers
        self.catalogue = Catalogue(policy, market)
        self.program = Program.of(policy)
        self.idset = IdSet(self.n)
        self.calendar = Calendar(days, self.idset)
        self.message_log = MessageLog(policy, self.n)
        self.product_index = {p.name: i for i, p in enumerate(policy.products)}
        self.line_index = {name: i for i, name in enumerate(policy.lines)}
        self.channel_index = {c.name: i for i, c in enumerate(policy.channels)}
        self.stage_index = {s.name: i for i, s in enumerate(policy.stages)}
        self.trace = Trace(trace) if trace is not None else None
        self.start_date = dt.date.fromisoformat(market.start_date)

        # stage effects, indexed by stage code + 1 (row 0: no stage)
        effects = [market.stage(s.name) for s in policy.stages]
        self.stage_rate = np.array([1.0] + [e.rate for e in effects])
        self.stage_dropout = np.array([1.0] + [e.dropout for e in effects])
        self.stage_check = np.array([1.0] + [e.check for e in effects])
        self.rate_after = market.buying.rate_multiplier  # by purchases made
        self.stages_time_driven = any(_time_driven(s.condition) for s in policy.stages)

        sp = market.spend
        self.mean_order = sp.p * sp.gamma / (sp.q - 1.0)
        cat = self.catalogue
        if cat.count:
            w = cat.weights[0] / max(cat.weights[0].sum(), 1e-12)
            self.mean_check = float((w * cat.price).sum()) or self.mean_order
        else:
            self.mean_check = self.mean_order

        # arms: (rule, variant) plus one holdout arm per rule
        self.arms: list[tuple[int, str]] = []
        self.arm_of: dict[tuple[int, int], int] = {}
        self.holdout_arm: list[int] = []
        for r, rule in enumerate(policy.rules):
            for v, variant in enumerate(rule.variants or [None]):
                self.arm_of[(r, v if variant else -1)] = len(self.arms)
                self.arms.append((r, variant.name if variant else ""))
            self.holdout_arm.append(len(self.arms))
            self.arms.append((r, "holdout"))
        self.site_ids = {key: i for i, key in enumerate(self.program.sites)}
        self.sites = list(self.program.sites.values())
        self.site_arm = np.array([self.arm_of[(s.rule, s.variant)] for s in self.sites] or [0])
        # each send step's offer as arrays, so a batch of responses looks its offers up at once
        self.site_offers = {
            name: np.array([getattr(s, name) for s in self.sites])
            for name in (
                "offer_product",
                "offer_line",
                "discount_share",
                "discount_amount",
                "bonus",
            )
        }

        self.recorder = Recorder(days, len(policy.stages), len(policy.channels), len(self.arms))
        self.caps = [_Cap(c, self.n) for c in policy.caps]

        # per-rule state; a rule's holdout and variant draws are keyed by its name, so
        # switching another rule off does not reshuffle them
        self.rules = policy.rules
        self.rule_keys = [zlib.crc32(r.name.encode()) for r in policy.rules]
        n = self.n
        self.last_fired = [np.full(n, np.nan, dtype=np.float32) for _ in self.rules]
        self.was_true: dict[int, np.ndarray] = {}
        self.eligible_since: dict[int, np.ndarray] = {}
        self.anchor: dict[int, np.ndarray] = {}
        self.rule_time_driven = [
            _time_driven(r.eligible)
            or (self.stages_time_driven and bool(r.stages))
            or _uses_stage_time(r.eligible, self.stages_time_driven)
            for r in self.rules
        ]
        for r, rule in enumerate(self.rules):
            kind = rule.trigger.kind
            if kind in ("condition", "every"):
                self.was_true[r] = np.zeros(n, dtype=bool)
            if kind == "every":
                self.eligible_since[r] = np.full(n, np.nan, dtype=np.float32)
            if kind == "after" and rule.trigger.event is not None:
                self.anchor[r] = np.full(n, np.nan, dtype=np.float32)
        # eligibility split into a stage look-up table and the rest of the filters
        self.stage_lut: list[np.ndarray | None] = []
        self.stage_codes: list[list[np.int16]] = []
        self.rest: list[Expr | None] = []
        for rule in self.rules:
            if rule.stages:
                lut = np.zeros(len(policy.stages) + 1, dtype=bool)
                for name in rule.stages:
                    lut[self.stage_index[name] + 1] = True
                self.stage_lut.append(lut)
                self.stage_codes.append([np.int16(self.stage_index[s]) for s in rule.stages])
                parts = tuple(e for e in (rule.audience, rule.condition) if e is not None)
                self.rest.append(
                    None
                    if not parts
                    else parts[0]
                    if len(parts) == 1
                    else Logic(op="and", args=parts)
                )
            else:
                self.stage_lut.append(None)
                self.stage_codes.append([])
                self.rest.append(rule.eligible)
        self.variant_cumulative = [
            np.cumsum([v.share for v in r.variants]) / sum(v.share for v in r.variants)
            if r.variants
            else None
            for r in self.rules
        ]
        self.waiting = {
            node.id: np.full(n, np.nan, dtype=np.float32) for node in self.program.waiting_nodes
        }
        self.subscription_next = {j: np.full(n, NEVER) for j in self.catalogue.lifetimes}
        self.needs_daily = self.stages_time_driven or any(
            r.trigger.kind in ("condition", "every", "schedule") for r in self.rules
        )
        # the day's working lists
        self.queue: list[tuple[int, int, int, int, np.ndarray]] = []
        self.events_purchase: list[tuple[np.ndarray, np.ndarray]] = []
        self.events_first: list[np.ndarray] = []
        self.events_stage: list[tuple[str, int, np.ndarray]] = []
        self.touched: list[np.ndarray] = []
        self.pending_flows: list[tuple[int, int, np.ndarray]] = []
        self.capacity_left = np.zeros((blocks, len(policy.channels)))  # per block and channel
        self.seq = 0

    # ---- the calendar -------------------------------------------------------------------
    def run(self) -> Run:
        st = self.state
        self.arrived = self.customers
        self.acquired_arrival = st.arrival[self.customers :]
        self._schedule_start()
        env = simpy.Environment()
        env.process(self._process(env))
        env.run()
        return Run(
            self.policy,
            self.market,
            self.days,
            self.customers,
            st,
            self.recorder,
            self.arms,
            self.sites,
            self.trace,
        )

    def _process(self, env: simpy.Environment):
        day = -1
        last_recorded = -1
        while True:
            nxt = day + 1 if self.needs_daily else self.calendar.next_day(day)
            if nxt is None or nxt >= self.days:
                break
            yield env.timeout(nxt - env.now if day >= 0 else nxt)
            day = nxt
            self._day(day)
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

    # ---- one day ------------------------------------------------------------------------
    def _day(self, d: int) -> None:
        st, rec = self.state, self.recorder
        bucket = self.calendar.take(d)
        self.arrived = self.customers + int(np.searchsorted(self.acquired_arrival, d + 1.0))
        self.events_purchase, self.events_first, self.events_stage = [], [], []
        self.touched, self.pending_flows, self.queue = [], [], []
        self.capacity_left[:] = [
            c.capacity_per_day if c.capacity_per_day is not None else np.inf
            for c in self.policy.channels
        ]  # every block has the whole capacity
        new_acquired = int(np.sum((self.acquired_arrival >= d) & (self.acquired_arrival < d + 1)))
        rec.daily["acquisition_cost"][d] += new_acquired * self.market.acquisition.cost

        # 1. purchases
        due = [v for (kind, _), v in bucket.items() if kind in ("purchase", "response")]
        if due:
            self._purchases(self.idset.union(due), d)
        # 2. renewals
        for (kind, key), ids in bucket.items():
            if kind == "billing":
                self._renew(key, ids, d)
        # 3. stages that change with time
        if self.stages_time_driven:
            self._assign_stages(np.arange(self.arrived), d)
        # 4. rules
        self._rules(bucket, d)
        # 5. messages
        self._send_queue(d)

        arrived = slice(0, self.arrived)
        rec.daily["customers"][d] = self.arrived
        rec.daily["alive"][d] = np.count_nonzero(st.alive[arrived] & (st.purchases[arrived] > 0))
        # customers per stage from the transitions so far: entries less exits (no full scan)
        counts = rec.transitions.sum(axis=0) - rec.transitions.sum(axis=1)
        counts[0] = self.arrived - counts[1:].sum()
        rec.stage_counts[d] = counts


def _uses_stage_time(expr: Expr | None, stages_time_driven: bool) -> bool:
    return (
        stages_time_driven
        and expr is not None
        and any(key in ("stage", "previous_stage") for key in required_columns(expr))
    )


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
) -> Run:
    """Run `policy` on `customers` customers of `market` for `days` days.

    `trace`: a customer id whose journey to record; `progress(day)` is called after each day
    the calendar processes; `base`: real customers to start from (they are the first
    `base.size` of the `customers`). `blocks`: the customers are that many equal blocks of
    consecutive ids, independent populations in one calendar: each block has the channels'
    whole daily capacity (nothing else couples customers, and there must be no acquisition).
    """
    return _Simulation(policy, market, customers, days, rng, trace, progress, base, blocks).run()
