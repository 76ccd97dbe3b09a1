"""What a purchase is for: the product chosen by demand (in its season), a lead product
first, the offer's product or line when answering a message, and nothing when the customer
already owns what they would buy (ownership.py); a natural purchase that finds nothing to
buy does not happen and the customer's next one is drawn, unless the market's rate counts
every purchase (`buying.owned = "renormalise"`): then it picks again among what the customer
can still buy (docs/model.md, "Demand")."""

from __future__ import annotations

import numpy as np

from .ownership import has
from .population import NEVER
from .streams import Purpose
from .streams_kernels import LEAD_PICK, LINE_PICK, SECOND_PICK


def _pick(weights: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One product per row by its weights, and whether the row had any weight."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    picked = (u[:, None] * total[:, None] > cum).sum(axis=1)
    return np.minimum(picked, weights.shape[1] - 1).astype(np.int16), total > 0


class Choosing:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _choose_products(
        self,
        ids: np.ndarray,
        k: np.ndarray,
        t: np.ndarray,
        first: np.ndarray,
        responding: np.ndarray,
        site_safe: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """What each buyer buys (-1 without a catalogue), and whether they buy at all: their
        audience's pick, a lead product on a first purchase, the offer's product or line
        when answering a message; an owned durable is not bought again (ownership.py)."""
        st, cat, S = self.state, self.catalogue, self.streams
        buys = np.ones(ids.size, dtype=bool)
        if not cat.count:
            return np.full(ids.size, -1, dtype=np.int16), buys
        # the same choice in one pass; seasons, and a market whose purchases on an owned
        # durable pick again (`Ownership.renormalise`, market.buying.owned), take numpy's
        renormalise = self.ownership.renormalise
        if self.compiled and not self.seasons.active and not renormalise:
            return self.checkout_constants().choose(self, ids, k, t, first, responding, site_safe)
        # a customer's candidates after one that found nothing have draws of their own
        n = k.astype(np.uint64) + (self.skips[ids].astype(np.uint64) << np.uint64(32))
        audience = st.audience[ids]
        u = S.uniform(ids, Purpose.PRODUCT, n)
        if self.seasons.active:
            product = self.seasons.choose(audience, u, t)
        else:
            product = cat.choose(audience, u)
        if cat.leads.size:
            u = S.uniform(ids, Purpose.PRODUCT, n + LEAD_PICK)
            lead = cat.leads[np.minimum((u * cat.leads.size).astype(int), cat.leads.size - 1)]
            product = np.where(first, lead, product)
        blocked = self.ownership.blocked(st.owned[ids], ids, t)
        buys = ~has(blocked, product) | first  # nothing is owned before a first purchase
        if self.ownership.renormalise:  # a rate that counts every purchase (a calibrated one)
            # is not thinned: a purchase that lands on an owned durable picks again among
            # what the customer can still buy (a second pick, as for a line offer below)
            again = ~responding & ~buys
            if again.any():
                w = self._demand(ids[again], t[again])
                w = w * ~has(blocked[again][:, None], np.arange(cat.count)[None, :])
                u = S.uniform(ids[again], Purpose.PRODUCT, n[again] + SECOND_PICK)
                product[again], buys[again] = _pick(w, u)
        if not (self.steps.sites and responding.any()):
            return product, buys
        offer_p = self.steps.offers["offer_product"][site_safe]
        offer_l = self.steps.offers["offer_line"][site_safe]
        by_product = responding & (offer_p >= 0)
        product = np.where(by_product, offer_p, product)
        by_line = responding & (offer_p < 0) & (offer_l >= 0)
        if by_line.any():
            product[by_line] = cat.choose_in_line(
                offer_l[by_line],
                audience[by_line],
                S.uniform(ids[by_line], Purpose.PRODUCT, n[by_line] + LINE_PICK),
            )
        # who answers buys what the offer gave them, unless they own it; a natural buyer's
        # answer above stands (renormalised or not)
        buys = np.where(responding, ~has(blocked, product), buys)
        # a line or no offer: a second pick among what they can still buy (the first pick
        # and this one together choose by the weights of the products not blocked)
        again = responding & ~by_product & ~buys
        if again.any():
            w = self._demand(ids[again], t[again])
            w = w * ~has(blocked[again][:, None], np.arange(cat.count)[None, :])
            line = by_line[again]
            w[line] *= cat.line[None, :] == offer_l[again][line][:, None]
            u = S.uniform(ids[again], Purpose.PRODUCT, n[again] + SECOND_PICK)
            product[again], buys[again] = _pick(w, u)
        return product, buys | (first & ~responding)

    def _demand(self, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The demand weights of each customer's audience at `t` (in its season)."""
        audience = self.state.audience[ids]
        if self.seasons.active:
            return self.seasons.weights_at(audience, t)
        return self.catalogue.weights[audience.astype(np.int64) + 1].copy()

    def _nothing_to_buy(
        self, ids: np.ndarray, t: np.ndarray, k: np.ndarray, responding: np.ndarray
    ) -> None:
        """Customers whose purchase found nothing to buy: a response is used up; a natural
        purchase does not happen and their next one is drawn at their rate from `t` (the
        purchases a customer cannot make thin their rate: docs/model.md)."""
        st = self.state
        # a response, or the purchase an event brought (responding or not, it was the pending
        # response_t), is used up; only a natural purchase draws the next one
        used = responding | (t == st.response_t[ids])
        st.response_t[ids[used]] = NEVER
        st.response_site[ids[used]] = -1
        ids, t, k = ids[~used], t[~used], k[~used]
        if not ids.size:
            return
        self.skips[ids] += 1
        stage = st.stage[ids] + 1
        rate = st.rate[ids] * self.effects.rate[stage] * self.effects.rate_after(k)
        if self.catalogue.repeats:
            rate = np.where(st.members[ids], rate * self.market.roles.repeat_rate, rate)
        with np.errstate(divide="ignore"):
            gap = -np.log(self.streams.uniform(ids, Purpose.SKIP, self.skips[ids])) / rate
        seasons = self.seasons
        nxt = seasons.later(st.audience[ids], t, gap) if seasons.active else t + gap
        st.next_t[ids] = nxt
        ok = np.isfinite(nxt)
        self.calendar.add_spread(np.floor(nxt[ok]), "purchase", None, ids[ok])
