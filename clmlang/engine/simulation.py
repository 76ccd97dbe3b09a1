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

See docs/engine.md for the design and docs/model.md for the behaviour it implements.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
from scipy.special import gammaincinv, ndtri

from ..expression import Expr, Logic, evaluate, required_columns
from ..market import Market
from ..policy import ContinueStep, Policy, SendStep, StopStep, WaitStep
from .calendar import Calendar
from .catalogue import Catalogue
from .columns import Columns, MessageLog
from .idset import IdSet
from .population import NEVER, Base, State, apply_base, draw_population
from .program import Program
from .recorder import Recorder, Trace
from .streams import Purpose, Streams

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


class _Cap:
    def __init__(self, cap, n: int):
        self.cap = cap
        self.window = cap.window_days
        self.days = np.full((n, cap.limit), -np.inf, dtype=np.float32)
        self.ptr = np.zeros(n, dtype=np.uint16)

    def oldest(self, ids: np.ndarray) -> np.ndarray:
        return self.days[ids, self.ptr[ids]]

    def record(self, ids: np.ndarray, day: int) -> None:
        slot = self.ptr[ids]
        self.days[ids, slot] = day
        self.ptr[ids] = (slot + 1) % self.cap.limit


class _Simulation:
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
    ):
        self.policy, self.market, self.days = policy, market, days
        self.progress = progress
        population_rng, key_rng = rng.spawn(2)
        self.state = st = draw_population(policy, market, customers, days, population_rng)
        self.from_base = base is not None
        if base is not None:
            apply_base(st, base, population_rng.spawn(1)[0])
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
        self.capacity_left = np.zeros(len(policy.channels))
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

    def _schedule_start(self) -> None:
        st, cal = self.state, self.calendar
        ids = np.arange(self.n)
        due = np.floor(st.next_t)
        finite = np.isfinite(due)
        cal.add_spread(due[finite], "purchase", None, ids[finite])
        # existing base: stages and inactivity timers from their history
        if self.customers and (self.market.population.start == "existing" or self.from_base):
            base = np.arange(self.customers)
            self._assign_stages(base, 0, events=False)
            for r, rule in enumerate(self.rules):
                if rule.trigger.kind == "inactivity":
                    cal.add_spread(
                        np.floor(st.last_t[base]) + round(rule.trigger.days), "timer", r, base
                    )
        # triggers on dated attributes
        for r, rule in enumerate(self.rules):
            trig = rule.trigger
            if trig.attribute is None:
                continue
            dates = st.attributes[trig.attribute]
            if trig.kind == "after":
                cal.add_spread(np.floor(dates + trig.days), "timer", r, ids[np.isfinite(dates)])
            elif trig.kind == "anniversary" or (trig.kind == "before" and trig.anniversary):
                lead = trig.days or 0.0
                for year in range(0, int(self.days / 365.25) + 2):
                    occurrence = self._anniversary(dates, year) - lead
                    ok = np.isfinite(occurrence)
                    cal.add_spread(occurrence[ok], "timer", r, ids[ok])
            elif trig.kind == "before":
                ok = np.isfinite(dates)
                cal.add_spread(np.floor(dates[ok] - trig.days), "timer", r, ids[ok])
        # scheduled rules wake the calendar every day anyway (needs_daily)

    def _anniversary(self, dates: np.ndarray, year: int) -> np.ndarray:
        """The day number of each date's anniversary in year `year` of the run (0: the first);
        29 February falls on 28 February in other years."""
        out = np.full(dates.shape, np.nan)
        ok = np.isfinite(dates)
        start = np.datetime64(self.start_date.isoformat(), "D")
        when = start + dates[ok].astype(np.int64)
        months = when.astype("M8[M]")
        day_of_month = (when - months.astype("M8[D]")).astype(np.int64)
        month_of_year = (months - when.astype("M8[Y]").astype("M8[M]")).astype(np.int64)
        target = (
            np.datetime64(str(self.start_date.year + year), "Y").astype("M8[M]") + month_of_year
        )
        length = ((target + 1).astype("M8[D]") - target.astype("M8[D]")).astype(np.int64)
        day = target.astype("M8[D]") + np.minimum(day_of_month, length - 1)
        out[ok] = (day - start).astype(np.int64)
        return out

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
        ]
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

    # ---- purchases ----------------------------------------------------------------------
    def _purchases(self, ids: np.ndarray, d: int) -> None:
        st = self.state
        for _ in range(64):  # same-day repeat purchases are processed in the same day
            t_nat = np.where(st.alive[ids] & (np.floor(st.next_t[ids]) == d), st.next_t[ids], NEVER)
            t_resp = np.where(np.floor(st.response_t[ids]) == d, st.response_t[ids], NEVER)
            t = np.minimum(t_nat, t_resp)
            keep = t < NEVER
            ids, t = ids[keep], t[keep]
            if not ids.size:
                return
            self._buy(ids, t, d)
            again = st.alive[ids] & (st.next_t[ids] < d + 1)
            ids = ids[again]
            if not ids.size:
                return

    def _buy(self, ids: np.ndarray, t: np.ndarray, d: int) -> None:
        st, cat, mk, rec, S = self.state, self.catalogue, self.market, self.recorder, self.streams
        k = st.purchases[ids]
        first = k == 0
        site = st.response_site[ids]
        responding = (site >= 0) & np.isfinite(st.response_t[ids])
        site_safe = np.where(responding, site, 0)
        reactivated = responding & ~st.alive[ids]
        st.alive[ids[reactivated]] = True

        # what is bought
        if cat.count:
            product = cat.choose(st.audience[ids], S.uniform(ids, Purpose.PRODUCT, k))
            if cat.leads.size:
                u = S.uniform(ids, Purpose.PRODUCT, k + 7919)
                lead = cat.leads[np.minimum((u * cat.leads.size).astype(int), cat.leads.size - 1)]
                product = np.where(first, lead, product)
            if self.sites and responding.any():
                offer_p = self._site_array("offer_product")[site_safe]
                offer_l = self._site_array("offer_line")[site_safe]
                product = np.where(responding & (offer_p >= 0), offer_p, product)
                by_line = responding & (offer_p < 0) & (offer_l >= 0)
                if by_line.any():
                    product[by_line] = cat.choose_in_line(
                        offer_l[by_line],
                        st.audience[ids[by_line]],
                        S.uniform(ids[by_line], Purpose.PRODUCT, k[by_line] + 104729),
                    )
        else:
            product = np.full(ids.size, -1, dtype=np.int16)

        # how much
        z = _gamma_quantile(mk.spend.p, S.uniform(ids, Purpose.CHECK, k)) / st.spend[ids]
        stage_check = self.stage_check[st.stage[ids] + 1]
        if cat.count:
            value = cat.price[product] * (z / self.mean_order) * stage_check
            cogs = cat.cost[product].copy()
        else:
            value = z * stage_check
            cogs = np.zeros(ids.size)
        discount = np.zeros(ids.size)
        bonus = np.zeros(ids.size)
        if self.sites and responding.any():
            share = self._site_array("discount_share")[site_safe]
            amount = self._site_array("discount_amount")[site_safe]
            discount = np.where(responding, np.minimum(value, value * share + amount), 0.0)
            bonus = np.where(responding, self._site_array("bonus")[site_safe], 0.0)
        revenue = value - discount
        # upsell: add-ons attached to what was bought
        for main, addons in cat.attach.items():
            hit = np.flatnonzero(product == main)
            for j, addon in enumerate(addons):
                if not hit.size:
                    break
                u = S.uniform(ids[hit], Purpose.UPSELL, k[hit] * 16 + j)
                took = hit[u < mk.roles.upsell_attach]
                revenue[took] += cat.price[addon]
                cogs[took] += cat.cost[addon]
                st.owned[ids[took]] |= np.uint64(1) << np.uint64(addon)
        reward = np.where(st.members[ids], cat.reward * revenue, 0.0)
        profit = revenue - cogs - reward - bonus

        # state
        st.purchases[ids] = k + 1
        st.first_t[ids] = np.where(first, t, st.first_t[ids])
        st.last_t[ids] = t
        st.first_day[ids] = np.floor(st.first_t[ids])
        st.last_day[ids] = np.floor(t)
        st.spent[ids] += revenue
        if cat.count:
            st.last_product[ids] = product
            st.owned[ids] |= np.uint64(1) << product.astype(np.uint64)
            line = cat.line[product]
            has_line = line >= 0
            st.owned_lines[ids[has_line]] |= np.uint64(1) << line[has_line].astype(np.uint64)
            self._memberships(ids, product, k, t)
        st.response_t[ids] = NEVER
        st.response_site[ids] = -1

        # records
        arm = np.where(responding, self.site_arm[site_safe], -1)
        rec.purchases.add(
            customer=ids, time=t, revenue=revenue, profit=profit, product=product, arm=arm
        )
        daily = rec.daily
        daily["purchases"][d] += ids.size
        daily["new_customers"][d] += int(first.sum())
        daily["revenue"][d] += revenue.sum()
        daily["cost_of_goods"][d] += cogs.sum()
        daily["discounts"][d] += discount.sum()
        daily["rewards"][d] += reward.sum() + bonus.sum()
        if responding.any():
            arms = arm[responding]
            counters = rec.arm_counters
            np.add.at(counters["revenue"], arms, revenue[responding])
            np.add.at(counters["profit"], arms, profit[responding])
            np.add.at(counters["cost"], arms, discount[responding] + bonus[responding])
        if self.trace and (ids == self.trace.customer).any():
            i = int(np.flatnonzero(ids == self.trace.customer)[0])
            name = self.policy.products[product[i]].name if product[i] >= 0 else "a purchase"
            why = f" in response to {self._arm_label(arm[i])}" if arm[i] >= 0 else ""
            self.trace.add(
                t[i],
                "purchase",
                f"bought {name} for {revenue[i]:.2f}{why}"
                + (" (reactivated)" if reactivated[i] else ""),
            )

        # events, stages, then dropout and the next purchase (the new stage's behaviour)
        self.events_purchase.append((ids, product))
        if first.any():
            self.events_first.append(ids[first])
        self.touched.append(ids)
        self._assign_stages(ids, d)
        self._check_success_purchase(ids, product, d)
        self._after_purchase_timers(ids, product, d)
        self._dropout_and_next(ids, product, t, k + 1)

    def _site_array(self, name: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_site_arrays", {})
        if name not in cache:
            cache[name] = np.array([getattr(s, name) for s in self.sites])
        return cache[name]

    def _memberships(
        self, ids: np.ndarray, product: np.ndarray, k: np.ndarray, t: np.ndarray
    ) -> None:
        st, cat, roles, S = self.state, self.catalogue, self.market.roles, self.streams
        if cat.repeats:
            bought_programme = np.isin(product, cat.repeats)
            join = bought_programme | (S.uniform(ids, Purpose.JOIN, k) < roles.repeat_join)
            st.members[ids[join]] = True
        if cat.lifetimes:
            u = S.uniform(ids, Purpose.TAKE_UP, k)
            bought = np.isin(product, cat.lifetimes)
            takes = bought | (u < roles.lifetime_take_up)
            pick = np.array(cat.lifetimes)[
                np.minimum(
                    (u / max(roles.lifetime_take_up, 1e-12) * len(cat.lifetimes)).astype(int),
                    len(cat.lifetimes) - 1,
                )
            ]
            which = np.where(bought, product, pick)
            for j in cat.lifetimes:
                sel = takes & (which == j)
                bit = np.uint64(1) << np.uint64(j)
                fresh = (st.subscribed[ids[sel]] & bit) == 0
                new = ids[sel][fresh]
                if not new.size:
                    continue
                st.subscribed[new] |= bit
                period = cat.cycle[j] if np.isfinite(cat.cycle[j]) else 30.4375
                nxt = t[sel][fresh] + period
                self.subscription_next[j][new] = nxt
                self.calendar.add_spread(np.floor(nxt), "billing", j, new)

    def _dropout_and_next(
        self, ids: np.ndarray, product: np.ndarray, t: np.ndarray, k: np.ndarray
    ) -> None:
        st, cat, roles, S = self.state, self.catalogue, self.market.roles, self.streams
        stage = st.stage[ids] + 1
        prob = st.dropout[ids] * self.stage_dropout[stage]
        if cat.values:
            prob = np.where((st.owned[ids] & cat.value_mask) != 0, prob * roles.value_dropout, prob)
        if cat.lifetimes:
            prob = np.where(st.subscribed[ids] != 0, prob * roles.lifetime_dropout, prob)
        drops = (k >= 2) & (S.uniform(ids, Purpose.DROPOUT, k) < prob)
        st.alive[ids[drops]] = False
        st.next_t[ids[drops]] = NEVER
        go = ~drops
        ids, t, k, product, stage = ids[go], t[go], k[go], product[go], stage[go]
        rate = st.rate[ids] * self.stage_rate[stage]
        if cat.repeats:
            rate = np.where(st.members[ids], rate * roles.repeat_rate, rate)
        with np.errstate(divide="ignore"):
            gap = -np.log(S.uniform(ids, Purpose.GAP, k)) / rate
        if cat.count and np.isfinite(cat.cycle).any():
            cycle = cat.cycle[np.maximum(product, 0)]
            follow = (
                np.isfinite(cycle)
                & (product >= 0)
                & (S.uniform(ids, Purpose.CYCLE, k) < roles.cycle_follow)
            )
            if follow.any():
                shape = roles.cycle_shape
                g = _gamma_quantile(shape, S.uniform(ids[follow], Purpose.CYCLE_GAP, k[follow]))
                gap[follow] = (
                    g * (cycle[follow] / shape) / np.maximum(self.stage_rate[stage[follow]], 1e-9)
                )
        nxt = t + gap
        st.next_t[ids] = nxt
        ok = np.isfinite(nxt)
        self.calendar.add_spread(np.floor(nxt[ok]), "purchase", None, ids[ok])

    def _renew(self, j: int, ids: np.ndarray, d: int) -> None:
        st, cat, rec = self.state, self.catalogue, self.recorder
        bit = np.uint64(1) << np.uint64(j)
        nxt = self.subscription_next[j]
        ids = ids[((st.subscribed[ids] & bit) != 0) & (np.floor(nxt[ids]) == d)]
        if not ids.size:
            return
        cancel = ~st.alive[ids] | (
            self.streams.uniform(ids, Purpose.CANCEL, d) < self.market.roles.lifetime_cancel
        )
        st.subscribed[ids[cancel]] &= ~bit
        keep = ids[~cancel]
        rec.daily["subscription_revenue"][d] += cat.price[j] * keep.size
        rec.daily["revenue"][d] += cat.price[j] * keep.size
        rec.daily["cost_of_goods"][d] += cat.cost[j] * keep.size
        period = cat.cycle[j] if np.isfinite(cat.cycle[j]) else 30.4375
        nxt[keep] += period
        self.calendar.add_spread(np.floor(nxt[keep]), "billing", j, keep)
        if cancel.any():
            self.touched.append(ids[cancel])

    # ---- stages -------------------------------------------------------------------------
    def _assign_stages(self, ids: np.ndarray, d: int, events: bool = True) -> None:
        st = self.state
        if not self.policy.stages or not ids.size:
            return
        cols = Columns(self, ids, d)
        new = np.full(ids.size, -1, dtype=np.int16)
        undecided = np.ones(ids.size, dtype=bool)
        for code, stage in enumerate(self.policy.stages):
            hit = undecided & evaluate(stage.condition, cols, ids.size)
            new[hit] = code
            undecided &= ~hit
            if not undecided.any():
                break
        old = st.stage[ids]
        moved = new != old
        if not moved.any():
            return
        who, frm, to = ids[moved], old[moved], new[moved]
        st.previous_stage[who] = frm
        st.stage[who] = to
        st.stage_since[who] = d
        np.add.at(self.recorder.transitions, (frm + 1, to + 1), 1)
        if not events:
            return
        self.touched.append(who)
        for code in np.flatnonzero(np.bincount(to + 1)) - 1:
            if code >= 0:
                self.events_stage.append(("enter", int(code), who[to == code]))
        for code in np.flatnonzero(np.bincount(frm + 1)) - 1:
            if code >= 0:
                self.events_stage.append(("leave", int(code), who[frm == code]))
        for node_id, until in self.waiting.items():
            node = self.program.nodes[node_id]
            ev = node.success.event
            if ev.kind == "enter" and ev.stage in self.stage_index:
                hit = who[(to == self.stage_index[ev.stage]) & (until[who] >= d)]
                self._succeed(node_id, hit, d)
        if self.trace and (who == self.trace.customer).any():
            i = int(np.flatnonzero(who == self.trace.customer)[0])
            names = [s.name for s in self.policy.stages]
            self.trace.add(
                d,
                "stage",
                f"{names[frm[i]] if frm[i] >= 0 else '(none)'} -> "
                f"{names[to[i]] if to[i] >= 0 else '(none)'}",
            )

    # ---- success tests ------------------------------------------------------------------
    def _check_success_purchase(self, ids: np.ndarray, product: np.ndarray, d: int) -> None:
        cat = self.catalogue
        for node_id, until in self.waiting.items():
            ev = self.program.nodes[node_id].success.event
            if ev.kind not in ("purchase", "first_purchase"):
                continue
            hit = until[ids] >= d
            if ev.product is not None:
                hit &= product == self.product_index[ev.product]
            elif ev.line is not None and cat.count:
                hit &= cat.line[product] == self.line_index[ev.line]
            self._succeed(node_id, ids[hit], d)

    def _succeed(self, node_id: int, ids: np.ndarray, d: int) -> None:
        if not ids.size:
            return
        node = self.program.nodes[node_id]
        self.waiting[node_id][ids] = np.nan
        self.recorder.arm_counters["converted"][self.arm_of[(node.rule, node.variant)]] += ids.size
        self.recorder.node_outcomes.setdefault(node_id, [0, 0])[0] += ids.size
        self._trace_rule(ids, d, node.rule, "success")
        if node.on_success is not None:
            self.pending_flows.append((node.on_success, 0, ids))

    def _after_purchase_timers(self, ids: np.ndarray, product: np.ndarray, d: int) -> None:
        for r, rule in enumerate(self.rules):
            trig = rule.trigger
            if trig.kind == "inactivity":
                self.calendar.add(d + round(trig.days), "timer", r, ids)
            elif r in self.anchor and trig.event.kind in ("purchase", "first_purchase"):
                hit = self._event_match(trig.event, ids, product)
                if trig.event.kind == "first_purchase":
                    hit &= self.state.purchases[ids] == 1
                chosen = ids[hit]
                self.anchor[r][chosen] = d
                self.calendar.add(d + round(trig.days), "timer", r, chosen)

    def _event_match(self, ev, ids: np.ndarray, product: np.ndarray) -> np.ndarray:
        if ev.product is not None:
            return product == self.product_index[ev.product]
        if ev.line is not None and self.catalogue.count:
            return self.catalogue.line[product] == self.line_index[ev.line]
        return np.ones(ids.size, dtype=bool)

    # ---- rules --------------------------------------------------------------------------
    def _rules(self, bucket: dict, d: int) -> None:
        st = self.state
        # stage-event anchors for "N days after enter/leave STAGE"
        for kind, code, who in self.events_stage:
            for r in self.anchor:
                ev = self.rules[r].trigger.event
                if ev.kind == kind and self.stage_index.get(ev.stage) == code:
                    self.anchor[r][who] = d
                    self.calendar.add(d + round(self.rules[r].trigger.days), "timer", r, who)
        touched = self.idset.union(self.touched)
        everyone = slice(0, self.arrived)
        date = self.start_date + dt.timedelta(days=d)
        for r, rule in enumerate(self.rules):
            trig = rule.trigger
            kind = trig.kind
            pre_evaluated = False
            if kind == "event":
                ids = self._event_candidates(trig.event)
            elif kind in ("after", "before", "anniversary", "inactivity"):
                ids = bucket.get(("timer", r), np.zeros(0, np.int64))
                if kind == "inactivity":
                    ids = ids[np.floor(st.last_t[ids]) == d - round(trig.days)]
                elif r in self.anchor:
                    ids = ids[self.anchor[r][ids] == d - round(trig.days)]
            elif kind == "schedule":
                ids = np.arange(self.arrived) if _scheduled(trig, date) else np.zeros(0, np.int64)
            else:  # condition, every: level of the filters, for whom it may have changed
                rows = everyone if self.rule_time_driven[r] else touched
                ids = self._edge(r, rows, d)
                pre_evaluated = True
            if not ids.size:
                continue
            ids = ids[ids < self.arrived]
            if not pre_evaluated and ids.size:
                ok = self._eligible(r, ids, d)
                self._trace_rule(ids[~ok], d, r, "triggered, but its filters are false")
                ids = ids[ok]
            allowed = self._reentry(r, ids, d)
            if self.trace is not None and allowed.size < ids.size:
                self._trace_rule(
                    np.setdiff1d(ids, allowed),
                    d,
                    r,
                    "triggered, but re-entry does not allow it yet",
                )
            if allowed.size:
                self._fire(r, allowed, d)
        # follow-ups due today, success branches, failures at their deadline, delayed messages
        for (kind, key), ids in bucket.items():
            if kind == "continue":
                node_id, step = key
                self.pending_flows.append((node_id, step, ids))
            elif kind == "deadline":
                until = self.waiting[key]
                failed = ids[until[ids] == d]
                if failed.size:
                    until[failed] = np.nan
                    node = self.program.nodes[key]
                    self.recorder.arm_counters["failed"][
                        self.arm_of[(node.rule, node.variant)]
                    ] += failed.size
                    self.recorder.node_outcomes.setdefault(key, [0, 0])[1] += failed.size
                    self._trace_rule(failed, d, node.rule, "failure: the success window closed")
                    if node.on_failure is not None:
                        self.pending_flows.append((node.on_failure, 0, failed))
            elif kind == "send":
                self._enqueue(key, ids)
        while self.pending_flows:
            node_id, step, ids = self.pending_flows.pop(0)
            node = self.program.nodes[node_id]
            ids = self._not_exited(node.rule, ids, d)
            self._run_steps(node_id, step, ids, d)

    def _event_candidates(self, ev) -> np.ndarray:
        parts: list[np.ndarray] = []
        if ev.kind == "purchase":
            for ids, product in self.events_purchase:
                parts.append(ids[self._event_match(ev, ids, product)])
        elif ev.kind == "first_purchase":
            parts = list(self.events_first)
        else:
            code = self.stage_index.get(ev.stage)
            parts = [who for kind, c, who in self.events_stage if kind == ev.kind and c == code]
        return self.idset.union(parts)

    def _edge(self, r: int, rows: np.ndarray | slice, d: int) -> np.ndarray:
        """Condition and `every` triggers: who fires today, from the level of the filters.

        `rows` is whom to re-evaluate: everyone who has arrived (a slice, so columns are views,
        not copies) when the filters change with time, else only today's touched customers.
        """
        rule = self.rules[r]
        now_true = self._eligible(r, rows, d)
        was = self.was_true[r]
        if isinstance(rows, slice):
            changed = np.flatnonzero(now_true & ~was[rows])
            was[rows] = now_true
            became = changed
        else:
            became = rows[now_true & ~was[rows]]
            was[rows] = now_true
        if rule.trigger.kind == "every":
            since = self.eligible_since[r]
            since[became] = d
            holders = np.flatnonzero(was[: self.arrived])
            since_h = since[holders]
            return holders[((d - since_h) % max(1, round(rule.trigger.days)) == 0) & (d > since_h)]
        if rule.reentry.kind == "edge":
            return became
        # always, once, once per period: whoever holds the condition (re-entry filters next)
        return np.flatnonzero(was[: self.arrived])

    def _eligible(self, r: int, ids: np.ndarray | slice, d: int) -> np.ndarray:
        """The rule's filters (`in stage`, `for`, `when`) for each of `ids`."""
        lut, rest = self.stage_lut[r], self.rest[r]
        size = ids.stop - ids.start if isinstance(ids, slice) else ids.size
        if lut is None:
            if rest is None:
                return np.ones(size, dtype=bool)
            return evaluate(rest, Columns(self, ids, d), size)
        stage = self.state.stage[ids]
        codes = self.stage_codes[r]
        if len(codes) <= 4:  # a few comparisons beat a gather
            inside = stage == codes[0]
            for code in codes[1:]:
                inside |= stage == code
        else:
            inside = lut[stage + 1]
        if rest is None or not inside.any():
            return inside
        if isinstance(ids, slice):  # columns of a slice are views: cheaper than gathering rows
            inside &= evaluate(rest, Columns(self, ids, d), size)
            return inside
        sub = ids[inside]
        inside[inside] = evaluate(rest, Columns(self, sub, d), sub.size)
        return inside

    def _reentry(self, r: int, ids: np.ndarray, d: int) -> np.ndarray:
        re = self.rules[r].reentry
        if re.kind not in ("once",) or not ids.size:
            return ids
        last = self.last_fired[r][ids]
        if re.period_days is None:
            return ids[np.isnan(last)]
        return ids[np.isnan(last) | (d - last >= re.period_days)]

    def _fire(self, r: int, ids: np.ndarray, d: int) -> None:
        rule, rec, S = self.rules[r], self.recorder, self.streams
        self.last_fired[r][ids] = d
        held = (
            S.uniform(ids, Purpose.HOLDOUT, self.rule_keys[r]) < rule.holdout
            if rule.holdout
            else np.zeros(ids.size, bool)
        )
        counters = rec.arm_counters
        if held.any():
            hold_arm = self.holdout_arm[r]
            counters["held_out"][hold_arm] += held.sum()
            counters["fired"][hold_arm] += held.sum()
            rec.rule_events.add(arm=hold_arm, customer=ids[held], day=d)
            self._trace_rule(ids[held], d, r, "held out: in the rule's control group")
        treated = ids[~held]
        if not treated.size:
            return
        roots = self.program.roots[r]
        if rule.variants:
            u = S.uniform(treated, Purpose.VARIANT, self.rule_keys[r])
            variant = np.minimum(
                np.searchsorted(self.variant_cumulative[r], u, side="right"), len(roots) - 1
            )
        else:
            variant = np.zeros(treated.size, dtype=np.int64)
        for v, root in enumerate(roots):
            who = treated[variant == v]
            if not who.size:
                continue
            arm = self.arm_of[(r, v if rule.variants else -1)]
            counters["fired"][arm] += who.size
            rec.rule_events.add(arm=arm, customer=who, day=d)
            self._trace_rule(
                who, d, r, "fired" + (f", variant {rule.variants[v].name}" if rule.variants else "")
            )
            self._run_steps(root, 0, who, d)

    def _not_exited(self, r: int, ids: np.ndarray, d: int) -> np.ndarray:
        ex = self.rules[r].exit
        if ex is None or not ids.size:
            return ids
        gone = evaluate(ex, Columns(self, ids, d), ids.size)
        self._trace_rule(ids[gone], d, r, "left the flow: its exit condition holds")
        return ids[~gone]

    def _run_steps(self, node_id: int, start: int, ids: np.ndarray, d: int) -> None:
        node = self.program.nodes[node_id]
        for i in range(start, len(node.steps)):
            if not ids.size:
                return
            step = node.steps[i]
            if isinstance(step, SendStep):
                self._enqueue(self.site_ids[(node_id, i)], ids)
            elif isinstance(step, WaitStep):
                self.calendar.add(d + max(1, round(step.days)), "continue", (node_id, i + 1), ids)
                return
            elif isinstance(step, ContinueStep):
                target = next(j for j, rr in enumerate(self.rules) if rr.name == step.rule)
                self._fire(target, ids, d)
                return
            elif isinstance(step, StopStep):
                return
        if node.success is not None and ids.size:
            deadline = d + max(1, math.ceil(node.success.within_days))
            self.waiting[node_id][ids] = deadline
            self.calendar.add(deadline, "deadline", node_id, ids)

    def _trace_rule(self, ids: np.ndarray, d: float, r: int, what: str) -> None:
        if self.trace and ids.size and (ids == self.trace.customer).any():
            rule = self.rules[r]
            self.trace.add(d, "rule", f"{rule.name} ({rule.span}): {what}")

    def _arm_label(self, arm: int) -> str:
        r, label = self.arms[arm]
        return self.rules[r].name + (f"/{label}" if label else "")

    # ---- messages -----------------------------------------------------------------------
    def _enqueue(self, site_id: int, ids: np.ndarray) -> None:
        site = self.sites[site_id]
        rule = self.rules[site.rule]
        self.seq += 1
        self.queue.append((-rule.priority, site.rule, self.seq, site_id, ids))

    def _send_queue(self, d: int) -> None:
        self.queue.sort(key=lambda item: item[:3])
        for _, _, _, site_id, ids in self.queue:
            self._send(site_id, ids, d)

    def _send(self, site_id: int, ids: np.ndarray, d: int) -> None:
        st, rec, S = self.state, self.recorder, self.streams
        site = self.sites[site_id]
        send, ch = site.send, site.channel
        arm = int(self.site_arm[site_id])
        counters = rec.arm_counters
        bit = np.uint64(1) << np.uint64(ch)
        reach = ((st.reachable[ids] & bit) != 0) & ((st.unsubscribed[ids] & bit) == 0)
        counters["not_reachable"][arm] += np.count_nonzero(~reach)
        self._trace_ids(
            ids[~reach], d, site, "not sent: unsubscribed or no consent for this channel"
        )
        ids = ids[reach]
        if not send.transactional and ids.size:
            ctrl = st.control[ids]
            counters["control"][arm] += np.count_nonzero(ctrl)
            self._trace_ids(ids[ctrl], d, site, "not sent: in the global control group")
            ids = ids[~ctrl]
        if not send.transactional and ids.size:
            ids = self._apply_caps(site_id, site, ids, d)
        if ids.size and np.isfinite(self.capacity_left[ch]):
            left = int(self.capacity_left[ch])
            if ids.size > left:
                order = np.argsort(S.uniform(ids, Purpose.CAPACITY, d), kind="stable")
                dropped = ids[order[left:]]
                ids = np.sort(ids[order[:left]])
                counters["over_capacity"][arm] += dropped.size
                rec.daily["over_capacity"][d] += dropped.size
                self._trace_ids(
                    dropped, d, site, "not sent: the channel's daily capacity is used up"
                )
            self.capacity_left[ch] -= ids.size
        if not ids.size:
            return
        self._deliver(site, arm, ids, d)

    def _apply_caps(self, site_id: int, site, ids: np.ndarray, d: int) -> np.ndarray:
        rec = self.recorder
        send = site.send
        channel = self.policy.channels[site.channel].name
        blocked = np.zeros(ids.size, dtype=bool)
        skip = np.zeros(ids.size, dtype=bool)
        retry = np.full(ids.size, -np.inf)
        for cap in self.caps:
            c = cap.cap
            if c.scope == "channel" and c.channel != channel:
                continue
            if c.scope == "tag" and c.tag not in send.tags:
                continue
            oldest = cap.oldest(ids)
            hit = d - oldest < cap.window
            blocked |= hit
            if c.overflow == "skip":
                skip |= hit
            retry = np.where(hit, np.maximum(retry, np.ceil(oldest + cap.window)), retry)
        if blocked.any():
            arm = int(self.site_arm[site_id])
            delay = blocked & ~skip
            capped = ids[blocked & skip]
            rec.arm_counters["capped"][arm] += capped.size
            rec.daily["capped"][d] += capped.size
            self._trace_ids(capped, d, site, "capped: skipped")
            if delay.any():
                rec.arm_counters["delayed"][arm] += delay.sum()
                rec.daily["delayed"][d] += delay.sum()
                self._trace_ids(ids[delay], d, site, "capped: delayed to the next allowed day")
                self.calendar.add_spread(
                    np.maximum(retry[delay], d + 1), "send", site_id, ids[delay]
                )
        return ids[~blocked]

    def _deliver(self, site, arm: int, ids: np.ndarray, d: int) -> None:
        st, rec, S, mk, cat = self.state, self.recorder, self.streams, self.market, self.catalogue
        send, ch = site.send, site.channel
        channel = self.policy.channels[ch]
        response = mk.channel(channel.name)
        fat = mk.fatigue
        n = ids.size
        counters = rec.arm_counters
        counters["sent"][arm] += n
        cost = channel.cost * n
        counters["cost"][arm] += cost
        rec.daily["messages"][d] += n
        rec.daily["message_cost"][d] += cost
        rec.channel_messages[d, ch] += n
        rec.channel_cost[d, ch] += cost
        rec.messages.add(
            customer=ids,
            day=d,
            channel=ch,
            site=self.site_ids[(site.node, site.step)],
            arm=arm,
            stage=st.stage[ids],
        )
        if not send.transactional:
            for cap in self.caps:
                c = cap.cap
                if (
                    c.scope == "global"
                    or (c.scope == "channel" and c.channel == channel.name)
                    or (c.scope == "tag" and c.tag in send.tags)
                ):
                    cap.record(ids, d)
        self.message_log.record(channel.name, ids, d)
        counter = st.messages_received[ids]
        st.messages_received[ids] = counter + 1
        self.touched.append(ids)
        self._trace_ids(ids, d, site, f'sent {channel.name} "{send.content}"')

        # fatigue before this message, then relevance
        fatigue = st.fatigue[ids] * np.exp2(-(d - st.fatigue_t[ids]) / fat.half_life_days)
        irrelevant = np.zeros(n, dtype=bool)
        if site.offer_product >= 0:
            p = site.offer_product
            owned = (st.owned[ids] >> np.uint64(p)) & np.uint64(1) == 1
            once = not np.isfinite(cat.cycle[p]) and cat.role[p] not in ("upsell",)
            irrelevant = (owned & once) | ~cat.relevant[st.audience[ids].astype(np.int64) + 1, p]
        new_fatigue = fatigue + fat.per_message + fat.irrelevant_extra * irrelevant
        st.fatigue[ids] = new_fatigue
        st.fatigue_t[ids] = d

        # unsubscribes and burnout
        excess = np.maximum(new_fatigue - fat.tolerance, 0.0)
        unsub = S.uniform(ids, Purpose.UNSUBSCRIBE, counter) < response.unsubscribe * (
            1 + fat.unsubscribe_growth * excess
        )
        if unsub.any():
            st.unsubscribed[ids[unsub]] |= np.uint64(1) << np.uint64(ch)
            rec.unsubscribes.add(customer=ids[unsub], day=d, channel=ch)
            rec.daily["unsubscribes"][d] += unsub.sum()
            self._trace_ids(ids[unsub], d, site, f"unsubscribed from {channel.name}")
        burn = st.alive[ids] & (
            S.uniform(ids, Purpose.BURNOUT, counter) < fat.churn_per_fatigue * excess
        )
        if burn.any():
            gone = ids[burn]
            st.alive[gone] = False
            st.next_t[gone] = NEVER
            st.response_t[gone] = NEVER
            st.response_site[gone] = -1
            rec.daily["burned_out"][d] += gone.size
            self._trace_ids(gone, d, site, "burned out: dropped out after one message too many")
        if send.transactional:
            return

        # response: a purchase within the window, of the offer when there is one
        price_ref = cat.price[site.offer_product] if site.offer_product >= 0 else self.mean_check
        price_ref = price_ref if price_ref > 0 else self.mean_check
        offers = mk.offers
        lift = 1.0 + offers.discount_elasticity * (
            site.discount_share + site.discount_amount / max(price_ref, 1e-9)
        )
        lift += offers.bonus_elasticity * site.bonus / max(price_ref, 1e-9)
        if site.offer_product >= 0 or site.offer_line >= 0:
            lift *= offers.product_lift
        prob = response.response * lift * np.exp(-fat.sensitivity * fatigue)
        prob = np.where(irrelevant, prob * offers.irrelevant_response, prob)
        prob = np.where(st.alive[ids], prob, prob * offers.reactivation)
        responds = S.uniform(ids, Purpose.RESPONSE, counter) < np.minimum(prob, 1.0)
        if not responds.any():
            return
        who = ids[responds]
        u = S.uniform(who, Purpose.RESPONSE_TIME, counter[responds])
        when = d + 1 + u * max(response.window_days - 1.0, 0.0)
        sooner = when < st.response_t[who]
        who, when = who[sooner], when[sooner]
        st.response_t[who] = when
        st.response_site[who] = self.site_ids[(site.node, site.step)]
        counters["responses"][arm] += who.size
        self.calendar.add_spread(np.floor(when), "response", None, who)
        self._trace_ids(
            who, d, site, f"will respond around day {int(when[0]) if who.size == 1 else 0}"
        )

    def _trace_ids(self, ids: np.ndarray, d: float, site, what: str) -> None:
        if self.trace and ids.size and (ids == self.trace.customer).any():
            rule = self.rules[site.rule]
            self.trace.add(d, "message", f"{rule.name} ({site.send.span}): {what}")


def _gamma_quantile(shape: float, u: np.ndarray) -> np.ndarray:
    """Quantiles of Gamma(shape, 1): Wilson-Hilferty for shape >= 1 (within about 1% there and
    ten times faster), the exact inverse below it."""
    if shape < 1.0:
        return gammaincinv(shape, u)
    c = 1.0 / (9.0 * shape)
    return shape * np.maximum(1.0 - c + ndtri(u) * np.sqrt(c), 0.0) ** 3


def _uses_stage_time(expr: Expr | None, stages_time_driven: bool) -> bool:
    return (
        stages_time_driven
        and expr is not None
        and any(key in ("stage", "previous_stage") for key in required_columns(expr))
    )


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _scheduled(trig, date: dt.date) -> bool:
    value = trig.schedule_value
    match trig.schedule:
        case "daily":
            return True
        case "weekly":
            return value is None or _WEEKDAYS[date.weekday()] == value
        case "monthly":
            return int(value or 1) == date.day
        case "yearly":
            return value == f"{date.month:02d}-{date.day:02d}"
        case "date":
            return value == date.isoformat()
    return False


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
) -> Run:
    """Run `policy` on `customers` customers of `market` for `days` days.

    `trace`: a customer id whose journey to record; `progress(day)` is called after each day
    the calendar processes; `base`: real customers to start from (they are the first
    `base.size` of the `customers`).
    """
    return _Simulation(policy, market, customers, days, rng, trace, progress, base).run()
