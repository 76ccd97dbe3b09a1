"""Purchases and what follows them: products, checks, upsells, memberships, subscriptions,
dropout and the next purchase; subscription renewals."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincinv, ndtri

from .checkout import Checkout
from .checks import Check, record_items
from .gamma_kernels import cube_roots
from .holdings import take_up
from .population import NEVER
from .streams import Purpose


class Buying:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    checkout: Checkout | None = None  # the compiled path's constants, made on first use

    def checkout_constants(self) -> Checkout:
        if self.checkout is None:
            self.checkout = Checkout.of(self)
        return self.checkout

    def _purchases(self, ids: np.ndarray, d: int) -> None:
        st = self.state
        for _ in range(64):  # same-day repeat purchases are processed in the same day
            # the customers who dropped for good have no next purchase (NEVER); a dormant
            # one (reactivation) has the purchase that follows their waking up
            if self.compiled:  # the same, one pass (buying_kernels.py), and `_buy`'s reads
                ids, t, answers = self.checkout_constants().due(self, ids, d)
            else:
                nxt, resp = st.next_t[ids], st.response_t[ids]  # one gather each
                t_nat = np.where(np.floor(nxt) == d, nxt, NEVER)
                t_resp = np.where(np.floor(resp) == d, resp, NEVER)
                t = np.minimum(t_nat, t_resp)
                keep = t < NEVER
                ids, t, answers = ids[keep], t[keep], None
            if not ids.size:
                return
            self._buy(ids, t, d, answers)
            again = st.next_t[ids] < d + 1
            ids = ids[again]
            if not ids.size:
                return

    def _buy(self, ids: np.ndarray, t: np.ndarray, d: int, answers: tuple | None = None) -> None:
        """One purchase by each of `ids` at times `t` on day `d`, and everything that follows
        (`answers`: `Checkout.due`'s reads, when compiled)."""
        st = self.state
        if answers is None:
            k = st.purchases[ids]
            site = st.response_site[ids]
            responding = (site >= 0) & np.isfinite(st.response_t[ids])
            site_safe = np.where(responding, site, 0)
        else:
            k, responding, site_safe = answers
        first = k == 0
        product, buys = self._choose_products(ids, k, t, first, responding, site_safe)
        if not buys.all():  # owners of what they would buy: no purchase (choice.py)
            self._nothing_to_buy(ids[~buys], t[~buys], k[~buys], responding[~buys])
            ids, t, k, first, product = ids[buys], t[buys], k[buys], first[buys], product[buys]
            responding, site_safe = responding[buys], site_safe[buys]
            if not ids.size:
                return
        reactivated = woke = None  # for the trace only, when compiled
        if not self.compiled or self.trace:
            reactivated = responding & ~st.alive[ids]
            woke = ~responding & ~st.alive[ids]  # dormant, came back by themselves
        if self.compiled:  # the same in one pass, from the check to the memberships
            u = self.streams.uniform(ids, Purpose.CHECK, k)
            z = _gamma_quantile(self.market.spend.p, u, compiled=True)
            check, held = self.checkout_constants().settle(
                self, ids, t, k, first, product, responding, site_safe, z
            )
        else:
            st.alive[ids] = True  # a dormant customer who buys, woken or answering, is active
            # what they held before this purchase (an add-on joins it in `_price`): a first
            # purchase of a product or line is one of something not held yet
            held = (st.owned[ids].copy(), st.owned_lines[ids].copy())
            check = self._price(ids, k, product, responding, site_safe)
            self._update_buyers(ids, t, k, first, product, check.revenue)
        arm = np.where(responding, self.steps.arm[site_safe], -1)
        self._record_purchases(ids, t, d, first, product, check, arm, responding)
        self._trace_purchase(ids, t, product, check.revenue, arm, reactivated, woke)
        if first.any():
            self._converted(ids[first], d)  # prospects become customers (prospects.py)

        # events, stages, then dropout and the next purchase (the new stage's behaviour)
        self.today.events_purchase.append((ids, product, *held))
        if first.any():
            self.today.events_first.append(ids[first])
        self.today.touched.append(ids)
        stage = self._restage_buyers(ids, k, d)
        self.recorder.purchases.add(
            customer=ids,
            time=t,
            revenue=check.revenue,
            profit=check.profit,
            product=product,
            arm=arm,
            stage=stage,
        )
        self._check_success_purchase(ids, product, d)
        self._after_purchase_timers(ids, product, d, held)
        self._dropout_and_next(ids, product, t, k + 1)

    def _price(
        self,
        ids: np.ndarray,
        k: np.ndarray,
        product: np.ndarray,
        responding: np.ndarray,
        site_safe: np.ndarray,
    ) -> Check:
        """What each purchase comes to: the check, the offer's discount and bonus, upsells,
        members' rewards and the profit."""
        st, cat, S = self.state, self.catalogue, self.streams
        z = _gamma_quantile(self.market.spend.p, S.uniform(ids, Purpose.CHECK, k)) / st.spend[ids]
        stage_check = self.effects.check[st.stage[ids] + 1]
        if cat.count:
            value = cat.price[product] * (z / self.mean_order) * stage_check
            cogs = cat.cost[product].copy()
        else:
            value = z * stage_check
            cogs = np.zeros(ids.size)
        discount = np.zeros(ids.size)
        bonus = np.zeros(ids.size)
        if self.steps.sites and responding.any():
            share = self.steps.offers["discount_share"][site_safe]
            amount = self.steps.offers["discount_amount"][site_safe]
            discount = np.where(responding, np.minimum(value, value * share + amount), 0.0)
            bonus = np.where(responding, self.steps.offers["bonus"][site_safe], 0.0)
        revenue = value - discount
        main_revenue, main_cost = revenue.copy(), cogs.copy()
        add_ons = self._upsell(ids, k, product, revenue, cogs)
        share = np.where(st.members[ids], cat.reward, 0.0)
        reward = share * revenue
        profit = revenue - cogs - reward - bonus
        return Check(
            revenue, cogs, discount, bonus, reward, profit, main_revenue, main_cost, add_ons, share
        )

    def _upsell(
        self,
        ids: np.ndarray,
        k: np.ndarray,
        product: np.ndarray,
        revenue: np.ndarray,
        cogs: np.ndarray,
    ) -> tuple[tuple[np.ndarray, int], ...]:
        """Add-ons attached to what was bought: added in place to `revenue` and `cogs`, and
        owned from now on; returns, for each add-on taken, the purchases it joined."""
        st, cat, S = self.state, self.catalogue, self.streams
        taken = []
        for main, addons in cat.attach.items():
            hit = np.flatnonzero(product == main)
            for j, addon in enumerate(addons):
                if not hit.size:
                    break
                u = S.uniform(ids[hit], Purpose.UPSELL, k[hit] * 16 + j)
                took = hit[u < self.market.roles.upsell_attach]
                revenue[took] += cat.price[addon]
                cogs[took] += cat.cost[addon]
                st.owned[ids[took]] |= np.uint64(1) << np.uint64(addon)
                if took.size:
                    taken.append((took, addon))
        return tuple(taken)

    def _update_buyers(
        self,
        ids: np.ndarray,
        t: np.ndarray,
        k: np.ndarray,
        first: np.ndarray,
        product: np.ndarray,
        revenue: np.ndarray,
    ) -> None:
        """The buyers' state after the purchase: counts, days, spend, what they own, their
        memberships; the response they were answering is used up."""
        st, cat = self.state, self.catalogue
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
            self.ownership.record(ids, t, product)
            if self.tally:
                self.tally.record(ids, t, product, line)
            self._memberships(ids, product, k, t)
        st.response_t[ids] = NEVER
        st.response_site[ids] = -1

    def _record_purchases(
        self,
        ids: np.ndarray,
        t: np.ndarray,
        d: int,
        first: np.ndarray,
        product: np.ndarray,
        check: Check,
        arm: np.ndarray,
        responding: np.ndarray,
    ) -> None:
        """The day's totals and, for purchases answering a message, its arm's counters (the
        purchase log waits for the stage the purchase leads to)."""
        rec = self.recorder
        record_items(self.recorder, self.catalogue, ids, t, product, check)
        daily = rec.daily
        daily["purchases"][d] += ids.size
        daily["new_customers"][d] += int(first.sum())
        daily["revenue"][d] += check.revenue.sum()
        daily["cost_of_goods"][d] += check.cost_of_goods.sum()
        daily["discounts"][d] += check.discount.sum()
        daily["rewards"][d] += check.reward.sum() + check.bonus.sum()
        if responding.any():
            arms = arm[responding]
            counters = rec.arm_counters
            # the offer counted once, as the rule's cost: revenue and profit before it
            offer = check.discount[responding] + check.bonus[responding]
            gross = check.revenue[responding] + check.discount[responding]
            np.add.at(counters["revenue"], arms, gross)
            np.add.at(counters["profit"], arms, check.profit[responding] + offer)
            np.add.at(counters["cost"], arms, offer)

    def _trace_purchase(
        self,
        ids: np.ndarray,
        t: np.ndarray,
        product: np.ndarray,
        revenue: np.ndarray,
        arm: np.ndarray,
        reactivated: np.ndarray,
        woke: np.ndarray,
    ) -> None:
        """The traced customer's purchase, if they are among `ids`."""
        if not (self.trace and (ids == self.trace.customer).any()):
            return
        i = int(np.flatnonzero(ids == self.trace.customer)[0])
        name = self.policy.products[product[i]].name if product[i] >= 0 else "a purchase"
        why = f" in response to {self._arm_label(arm[i])}" if arm[i] >= 0 else ""
        self.trace.add(
            t[i],
            "purchase",
            f"bought {name} for {revenue[i]:.2f}{why}"
            + (" (reactivated)" if reactivated[i] else "")
            + (" (came back by themselves)" if woke[i] else ""),
        )

    def _memberships(
        self, ids: np.ndarray, product: np.ndarray, k: np.ndarray, t: np.ndarray
    ) -> None:
        st, cat, roles, S = self.state, self.catalogue, self.market.roles, self.streams
        if cat.repeats:
            bought_programme = np.isin(product, cat.repeats)
            join = bought_programme | (S.uniform(ids, Purpose.JOIN, k) < roles.repeat_join)
            st.members[ids[join]] = True
        if cat.lifetimes:
            takes, which = take_up(cat, roles, S.uniform(ids, Purpose.TAKE_UP, k), product)
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
        if self.compiled:  # the same decisions in one pass (buying_kernels.py)
            drops, stage, keep, days = self.checkout_constants().next_purchases(
                self, ids, product, t, k, _gamma_quantile
            )
        else:
            stage = st.stage[ids] + 1
            prob = st.dropout[ids] * self.effects.dropout[stage]
            if cat.values:
                prob = np.where(
                    (st.owned[ids] & cat.value_mask) != 0, prob * roles.value_dropout, prob
                )
            if cat.lifetimes:
                prob = np.where(st.subscribed[ids] != 0, prob * roles.lifetime_dropout, prob)
            drops = (k >= 2) & (S.uniform(ids, Purpose.DROPOUT, k) < prob)
            st.alive[ids[drops]] = False
            st.next_t[ids[drops]] = NEVER
        wake = self.market.buying.reactivation
        if wake > 0 and drops.any():  # dormant: wakes after Exp(wake), then buys after a gap
            gone = ids[drops]
            rate = (
                st.rate[gone] * self.effects.rate[stage[drops]] * self.effects.rate_after(k[drops])
            )
            with np.errstate(divide="ignore"):
                asleep = -np.log(S.uniform(gone, Purpose.WAKE, k[drops])) / wake
                gap = -np.log(S.uniform(gone, Purpose.GAP, k[drops])) / rate
            if self.seasons.active:  # the gap after waking is spent in seasonal time
                nxt = self.seasons.later(st.audience[gone], t[drops] + asleep, gap)
            else:
                nxt = t[drops] + asleep + gap
            st.next_t[gone] = nxt
            ok = np.isfinite(nxt)
            self.calendar.add_spread(np.floor(nxt[ok]), "purchase", None, gone[ok])
        if self.compiled and not self.seasons.active:  # next purchases: in the same pass
            self.calendar.add_spread(days, "purchase", None, keep)
            return
        go = ~drops
        ids, t, k, product, stage = ids[go], t[go], k[go], product[go], stage[go]
        rate = st.rate[ids] * self.effects.rate[stage] * self.effects.rate_after(k)
        if cat.repeats:
            rate = np.where(st.members[ids], rate * roles.repeat_rate, rate)
        with np.errstate(divide="ignore"):
            gap = -np.log(S.uniform(ids, Purpose.GAP, k)) / rate
        seasons = self.seasons
        nxt = seasons.later(st.audience[ids], t, gap) if seasons.active else t + gap
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
                pace = np.maximum(self.effects.rate[stage[follow]], 1e-9)
                nxt[follow] = t[follow] + g * (cycle[follow] / shape) / pace  # calendar time
        st.next_t[ids] = nxt
        ok = np.isfinite(nxt)
        self.calendar.add_spread(np.floor(nxt[ok]), "purchase", None, ids[ok])

    def _renew(self, j: int, ids: np.ndarray, d: int) -> None:
        st, cat, rec = self.state, self.catalogue, self.recorder
        bit = np.uint64(1) << np.uint64(j)
        nxt = self.subscription_next[j]
        period = cat.cycle[j] if np.isfinite(cat.cycle[j]) else 30.4375
        if self.compiled:  # the same in one pass (buying_kernels.renewals)
            keep, gone, days = self.checkout_constants().renew(self, ids, bit, d, nxt, period)
        else:
            ids = ids[((st.subscribed[ids] & bit) != 0) & (np.floor(nxt[ids]) == d)]
            cancel = ~st.alive[ids] | (
                self.streams.uniform(ids, Purpose.CANCEL, d) < self.market.roles.lifetime_cancel
            )
            st.subscribed[ids[cancel]] &= ~bit
            keep, gone = ids[~cancel], ids[cancel]
            nxt[keep] += period
            days = np.floor(nxt[keep])
        if keep.size:
            rec.items.add(
                customer=keep,
                time=float(d),
                product=j,
                kind=2,
                revenue=cat.price[j],
                cost_of_goods=cat.cost[j],
                reward=0.0,
                offer_cost=0.0,
            )
        rec.daily["subscription_revenue"][d] += cat.price[j] * keep.size
        rec.daily["revenue"][d] += cat.price[j] * keep.size
        rec.daily["cost_of_goods"][d] += cat.cost[j] * keep.size
        self.calendar.add_spread(days, "billing", j, keep)
        if gone.size:
            self.today.touched.append(gone)


def _gamma_quantile(shape: float, u: np.ndarray, compiled: bool = False) -> np.ndarray:
    """Quantiles of Gamma(shape, 1): Wilson-Hilferty for shape >= 1 (within about 1% there and
    ten times faster), the exact inverse below it; `compiled`: the normal quantile and the
    arithmetic before the power in one pass (gamma_kernels.py), the same bits."""
    if shape < 1.0:
        return gammaincinv(shape, u)
    if compiled:
        return shape * cube_roots(shape, u) ** 3
    c = 1.0 / (9.0 * shape)
    return shape * np.maximum(1.0 - c + ndtri(u) * np.sqrt(c), 0.0) ** 3
