"""The compiled path of a batch of purchases, three passes (docs/engine.md, "Purchases in
three passes"): the choice (`buying_kernels.choose`, as `Choosing._choose_products`), the
check and the buyers' state (checkout_kernels.py: `Buying._price`, `_upsell`,
`_update_buyers` and `_memberships`), and dropout and the next purchase
(`buying_kernels.next_purchases`: `Buying._dropout_and_next`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .buying_kernels import choose, due_today, next_purchases, renewals
from .checkout_kernels import settle
from .checks import Check
from .population import NEVER
from .streams import Purpose

__all__ = ["Checkout"]


@dataclass(frozen=True)
class Checkout:
    """The run's constants the purchases' kernels read, as arrays (built once per run)."""

    catalogue: np.ndarray  # rows price, cost, cycle, is_repeat by product
    offers: np.ndarray  # rows discount share, discount amount, bonus by send step
    pairs: np.ndarray  # rows main product, add-on, index among the main's add-ons
    addons: tuple[int, ...]  # each pair's add-on
    rates: np.ndarray
    salts: np.ndarray
    lifetimes: np.ndarray
    flags: np.ndarray
    after: tuple[np.ndarray, np.ndarray]  # purchases made -> rate multiplier, ascending
    next_rates: np.ndarray
    next_salts: np.ndarray
    next_flags: np.ndarray
    groups: np.ndarray  # the possessions' products, as bits
    offer_product: np.ndarray  # by send step: the offer's product, -1 none
    offer_line: np.ndarray  # by send step: the offer's line, -1 none

    @classmethod
    def of(cls, sim) -> Checkout:
        cat, roles, S, steps = sim.catalogue, sim.market.roles, sim.streams, sim.steps
        is_repeat = np.isin(np.arange(cat.count), cat.repeats).astype(float)
        attach = cat.attach.items()
        pairs = [(main, addon, j) for main, addons in attach for j, addon in enumerate(addons)]
        offers = np.zeros((3, max(len(steps.sites), 1)))
        if steps.sites:
            for row, name in enumerate(("discount_share", "discount_amount", "bonus")):
                offers[row] = steps.offers[name]
        after = sorted(sim.market.buying.rate_after.items())
        offer = {
            name: np.array(steps.offers[name] if steps.sites else [-1], dtype=np.int64)
            for name in ("offer_product", "offer_line")
        }
        return cls(
            catalogue=np.array([cat.price, cat.cost, cat.cycle, is_repeat]).reshape(4, cat.count),
            offers=offers,
            pairs=np.array(pairs, dtype=np.int64).reshape(-1, 3).T.copy(),
            addons=tuple(addon for _, addon, _ in pairs),
            rates=np.array(
                [
                    sim.mean_order,
                    roles.upsell_attach,
                    cat.reward,
                    roles.repeat_join,
                    roles.lifetime_take_up,
                    NEVER,
                ],
                dtype=float,
            ),
            salts=np.array(
                [S.salt(Purpose.UPSELL), S.salt(Purpose.JOIN), S.salt(Purpose.TAKE_UP), S.key],
                dtype=np.uint64,
            ),
            lifetimes=np.array(cat.lifetimes, dtype=np.int64),
            flags=np.array(
                [bool(cat.count), bool(steps.sites), bool(cat.repeats), bool(cat.lifetimes)]
            ),
            after=(
                np.array([k for k, _ in after], dtype=np.int64),
                np.array([m for _, m in after], dtype=float),
            ),
            next_rates=np.array(
                [
                    roles.value_dropout,
                    roles.lifetime_dropout,
                    roles.repeat_rate,
                    roles.cycle_follow,
                    roles.cycle_shape,
                    NEVER,
                ],
                dtype=float,
            ),
            next_salts=np.array([S.salt(Purpose.DROPOUT), S.salt(Purpose.CYCLE)], dtype=np.uint64),
            next_flags=np.array(
                [
                    bool(cat.lifetimes),
                    bool(cat.repeats),
                    bool(cat.count and np.isfinite(cat.cycle).any()),
                    bool(sim.seasons.active),
                ]
            ),
            groups=np.array([bits for bits, _ in sim.ownership.groups], dtype=np.uint64),
            **offer,
        )

    def due(self, sim, ids: np.ndarray, d: int) -> tuple:
        """Who buys on day `d` and when (`buying_kernels.due_today`), with each one's
        purchases so far, whether they answer a send step and which: (ids, t, (k,
        responding, site))."""
        st, n = sim.state, ids.size
        keep, t = np.empty(n, dtype=np.int64), np.empty(n)
        k, site = np.empty(n, dtype=st.purchases.dtype), np.empty(n, dtype=st.response_site.dtype)
        responding = np.empty(n, dtype=np.bool_)
        m = due_today(
            ids, st.next_t, st.response_t, st.purchases, st.response_site, d, NEVER, keep, t,
            k, site, responding,
        )  # fmt: skip
        return keep[:m], t[:m], (k[:m], responding[:m], site[:m])

    def choose(self, sim, ids, k, t, first, responding, site):
        """`Choosing._choose_products` without seasons, in one pass (buying_kernels.choose):
        (product, buys)."""
        st, cat, S = sim.state, sim.catalogue, sim.streams
        blocked = np.zeros(0, dtype=np.uint64)
        if sim.ownership.timed:  # kept for a while: blocked by when they bought it
            blocked = sim.ownership.blocked(st.owned[ids], ids, t)
        product, buys = np.empty(ids.size, dtype=np.int16), np.empty(ids.size, dtype=np.bool_)
        choose(
            ids, k, first, responding, site, sim.skips, st.audience, st.owned, blocked,
            self.groups, cat.cumulative, cat.weights, cat.line, cat.leads, self.offer_product,
            self.offer_line, S.key, S.salt(Purpose.PRODUCT), bool(sim.steps.sites), product,
            buys,
        )  # fmt: skip
        return product, buys

    def settle(
        self,
        sim,
        ids: np.ndarray,
        t: np.ndarray,
        k: np.ndarray,
        first: np.ndarray,
        product: np.ndarray,
        responding: np.ndarray,
        site: np.ndarray,
        z: np.ndarray,
    ) -> tuple[Check, tuple[np.ndarray, np.ndarray]]:
        """The checks of the batch, and what the buyers held before it; the buyers' state,
        memberships and subscriptions (their first billing on the calendar) are updated."""
        st, n = sim.state, ids.size
        # nine arrays, not one block: the logs keep some of them for the whole run
        check = tuple(np.empty(n) for _ in range(9))
        taken = np.empty((self.pairs.shape[1], n), dtype=np.bool_)
        held = np.empty((2, n), dtype=np.uint64)
        subscribing = np.empty(n, dtype=np.int64)
        billing = np.empty(n)
        settle(
            ids, t, k, first, product, responding, site, z, st.spend, st.stage, st.members,
            st.alive, st.owned, st.owned_lines, st.purchases, st.first_t, st.last_t,
            st.first_day, st.last_day, st.spent, st.last_product, st.response_t,
            st.response_site, st.subscribed, self.catalogue, sim.catalogue.line,
            sim.effects.check, self.offers, self.pairs, self.rates, self.salts, self.lifetimes,
            self.flags, check, taken, held, subscribing, billing,
        )  # fmt: skip
        add_ons = []
        for j, addon in enumerate(self.addons):
            took = np.flatnonzero(taken[j])
            if took.size:
                add_ons.append((took, addon))
        cat = sim.catalogue
        if cat.count:  # as `Buying._update_buyers` and `_memberships` go on
            sim.ownership.record(ids, t, product)
            if sim.tally:
                sim.tally.record(ids, t, product, cat.line[product])
            _bill(sim, ids, subscribing, billing)
        return Check(*check[:8], tuple(add_ons), check[8]), (held[0], held[1])

    def next_purchases(self, sim, ids, product, t, k, gamma_quantile):
        """Dropouts after the batch's purchases (k: purchases made) and, without seasons, the
        others' next purchase (`Buying._dropout_and_next`): (drops, each buyer's stage row,
        the buyers with a next purchase and its day)."""
        st, cat, S = sim.state, sim.catalogue, sim.streams
        seasons, cycles = self.next_flags[3], self.next_flags[2]
        n = ids.size
        wait = follow_gap = np.zeros(0)
        if not seasons:
            with np.errstate(divide="ignore"):
                wait = -np.log(S.uniform(ids, Purpose.GAP, k))
            if cycles:
                u = S.uniform(ids, Purpose.CYCLE_GAP, k)
                follow_gap = gamma_quantile(sim.market.roles.cycle_shape, u, compiled=True)
        drops, rows = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.int64)
        keep, days = next_purchases(
            ids, t, k, product, wait, follow_gap, S.key, self.next_salts, st.dropout,
            st.stage, sim.effects.dropout, sim.effects.rate, st.owned, cat.value_mask,
            st.subscribed, st.rate, st.members, *self.after, cat.cycle, self.next_rates,
            self.next_flags, st.alive, st.next_t, drops, rows,
        )  # fmt: skip
        return drops, rows, keep, days

    def renew(self, sim, ids, bit, d, billing, period):
        """Day `d`'s billings of the lifetime product whose bit is `bit` (`Buying._renew`):
        (the billed, those who cancelled, the billed's next billing day)."""
        st, S, n = sim.state, sim.streams, ids.size
        kept, cancelled, days = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n)
        n_kept, n_cancelled = renewals(
            ids.astype(np.int64, copy=False), st.subscribed, billing, st.alive, bit, d, S.key,
            S.salt(Purpose.CANCEL), sim.market.roles.lifetime_cancel, period, kept, cancelled,
            days,
        )  # fmt: skip
        return kept[:n_kept], cancelled[:n_cancelled], days[:n_kept]


def _bill(sim, ids: np.ndarray, subscribing: np.ndarray, billing: np.ndarray) -> None:
    """The new subscriptions' first billing, on the calendar (lifetime product by product)."""
    took = np.flatnonzero(subscribing >= 0)  # most batches have none
    if not took.size:
        return
    ids, subscribing, billing = ids[took], subscribing[took], billing[took]
    for j in sim.catalogue.lifetimes:
        sel = subscribing == j
        if sel.any():
            new, nxt = ids[sel], billing[sel]
            sim.subscription_next[j][new] = nxt
            sim.calendar.add_spread(np.floor(nxt), "billing", j, new)
