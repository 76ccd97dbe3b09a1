"""A batch of purchases settled in one compiled pass (checkout.py calls it; buying.py's
`_price`, `_upsell`, `_update_buyers` and `_memberships` are the numpy twins).

For each purchase, in the numpy path's order and with its arithmetic: the check (the
Gamma-distributed order value scaled by the product's price and the stage, the offer's
discount and bonus, each add-on attached by its uniform, the members' reward and the
profit), then the buyer's state (counts, times, spend, what they own, the response used up)
and their memberships (the repeat programme, a subscription taken up). The uniforms are
drawn as it goes (`streams_kernels.salted`); the order value's Gamma quantile comes in as an
argument, computed with numpy's `power` (gamma_kernels.py says why).
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel
from .prefetch import AHEAD, prefetch
from .streams_kernels import salted

# columns of `settle`'s `check` output, in Check's field order
REVENUE, COST, DISCOUNT, BONUS, REWARD, PROFIT, MAIN_REVENUE, MAIN_COST, SHARE = range(9)


@kernel
def settle(
    ids, t, k, first, product, responding, site, z, spend, stage, members, alive, owned,
    owned_lines, purchases, first_t, last_t, first_day, last_day, spent, last_product,
    response_t, response_site, subscribed, catalogue, line_of, stage_check,
    offers, pairs, rates, salts, lifetimes, flags, check, taken, held, subscribing, billing,
):  # fmt: skip
    """Settle purchase i of customer ids[i] at t[i] (their k[i]-th, of `product[i]`,
    answering send step site[i] when `responding[i]`), z[i] the Gamma(p) quantile of their
    check's uniform. Writes `check` (nine arrays, in the order above), `taken` (pairs x n: which
    add-on pairs joined), `held` (2 x n: owned and owned lines before), `subscribing` (the
    lifetime product a buyer newly subscribes to, -1 none) and `billing` (its first billing
    time); updates the state in place.

    catalogue: rows price, cost, cycle, is_repeat (1.0/0.0) by product; offers: rows
    discount share, discount amount, bonus by send step; pairs: rows main product, add-on,
    index among the main's add-ons; rates: mean order, upsell attach, members' reward,
    repeat join, lifetime take-up, never; salts: the UPSELL, JOIN and TAKE_UP purposes' and
    the run's key; flags: with products, offers on, repeats, lifetimes."""
    with_products, offers_on, repeats_on, lifetimes_on = flags[0], flags[1], flags[2], flags[3]
    mean_order, attach, reward_share = rates[0], rates[1], rates[2]
    join_rate, take_rate, never = rates[3], rates[4], rates[5]
    upsell_salt, join_salt, take_salt, key = salts[0], salts[1], salts[2], salts[3]
    one = np.uint64(1)
    n_life = lifetimes.size
    for i in range(ids.size):
        if i + AHEAD < ids.size:  # the rows of a buyer further on, into the cache
            a = ids[i + AHEAD]
            prefetch(owned, a)
            prefetch(owned_lines, a)
            prefetch(alive, a)
            prefetch(spend, a)
            prefetch(stage, a)
            prefetch(members, a)
            prefetch(purchases, a)
            prefetch(first_t, a)
            prefetch(last_t, a)
            prefetch(first_day, a)
            prefetch(last_day, a)
            prefetch(spent, a)
            prefetch(last_product, a)
            prefetch(response_t, a)
            prefetch(response_site, a)
            prefetch(subscribed, a)
        c = ids[i]
        p = product[i]
        held[0, i] = owned[c]
        held[1, i] = owned_lines[c]
        alive[c] = True  # a dormant customer who buys is active
        # the check (`Buying._price`)
        zi = z[i] / spend[c]
        sc = stage_check[stage[c] + 1]
        if with_products:
            value = catalogue[0, p] * (zi / mean_order) * sc
            cogs = catalogue[1, p]
        else:
            value = zi * sc
            cogs = 0.0
        discount = 0.0
        bonus = 0.0
        if offers_on and responding[i]:
            s = site[i]
            cut = value * offers[0, s] + offers[1, s]
            discount = value if value < cut else cut
            bonus = offers[2, s]
        revenue = value - discount
        main_revenue, main_cost = revenue, cogs
        # add-ons attached to what was bought (`Buying._upsell`)
        for j in range(pairs.shape[1]):
            taken[j, i] = False
            if p != pairs[0, j]:
                continue
            u = salted(key, upsell_salt, c, np.uint64(k[i] * 16 + pairs[2, j]))
            if u < attach:
                addon = pairs[1, j]
                revenue += catalogue[0, addon]
                cogs += catalogue[1, addon]
                owned[c] |= one << np.uint64(addon)
                taken[j, i] = True
        share = reward_share if members[c] else 0.0
        reward = share * revenue
        check[REVENUE][i] = revenue
        check[COST][i] = cogs
        check[DISCOUNT][i] = discount
        check[BONUS][i] = bonus
        check[REWARD][i] = reward
        check[PROFIT][i] = revenue - cogs - reward - bonus
        check[MAIN_REVENUE][i] = main_revenue
        check[MAIN_COST][i] = main_cost
        check[SHARE][i] = share
        # the buyer's state (`Buying._update_buyers`)
        purchases[c] = k[i] + 1
        if first[i]:
            first_t[c] = t[i]
        last_t[c] = t[i]
        first_day[c] = np.floor(first_t[c])
        last_day[c] = np.floor(t[i])
        spent[c] += revenue
        subscribing[i] = -1
        if with_products:
            last_product[c] = p
            owned[c] |= one << np.uint64(p)
            line = line_of[p]
            if line >= 0:
                owned_lines[c] |= one << np.uint64(line)
            # memberships (`Buying._memberships`)
            if repeats_on:
                u = salted(key, join_salt, c, np.uint64(k[i]))
                if catalogue[3, p] != 0.0 or u < join_rate:
                    members[c] = True
            if lifetimes_on:
                u = salted(key, take_salt, c, np.uint64(k[i]))
                bought = False
                for j in range(n_life):
                    if lifetimes[j] == p:
                        bought = True
                if bought or u < take_rate:
                    which = p
                    if not bought:
                        pick = int(u / max(take_rate, 1e-12) * n_life)
                        which = lifetimes[min(pick, n_life - 1)]
                    bit = one << np.uint64(which)
                    if subscribed[c] & bit == 0:
                        subscribed[c] |= bit
                        period = catalogue[2, which]
                        if not np.isfinite(period):
                            period = 30.4375
                        subscribing[i] = which
                        billing[i] = t[i] + period
        response_t[c] = never
        response_site[c] = -1
