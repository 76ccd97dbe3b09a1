"""What an existing customer owns on day 0: their products, product lines, last product,
programme membership and subscriptions.

From a real history with a product column (`Holdings`), the products it names that the spec
declares are owned as it says, the last one as the customer's last product. Otherwise (a
synthetic existing base, or a history without products) each customer's past purchases are
replayed under the market's choice model, with the very random numbers the simulator would
have used for them (purchase k draws from the streams at counter k, as in `buying.py`): a lead
product first, then their audience's demand weights, add-ons attached with the market's
upsell rate, programme membership and subscription take-up as at a purchase. A subscription
taken up before day 0 is still running when the customer is alive and it survived each
billing since (cancelling with `roles.lifetime_cancel` at each); its next billing is the first
after day 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import Catalogue
from .streams import Purpose, Streams
from .streams_kernels import LEAD_PICK

__all__ = ["Holdings", "replay_purchases"]

_ONE = np.uint64(1)
_PAST = 2**40  # stream counters for draws about the past, beyond any purchase number or day


@dataclass(frozen=True)
class Holdings:
    """Products a real history says its customers bought, by name (mapped onto the spec's
    products when the run starts): one entry per product bought, in the history's order
    within each customer, with whether it was bought on their last purchase day (the last
    of those the spec declares is their last product)."""

    names: tuple[str, ...]
    customer: np.ndarray  # int64: row in the base
    product: np.ndarray  # int64: index into names
    last_day: np.ndarray  # bool: bought on the customer's last purchase day


@dataclass
class Owned:
    """What the first customers own on day 0, per customer (the simulator copies it in)."""

    owned: np.ndarray  # uint64 bits of products
    owned_lines: np.ndarray  # uint64 bits of lines
    last_product: np.ndarray  # int16, -1 none
    members: np.ndarray  # bool: in the repeat programme
    subscribed: np.ndarray  # uint64 bits of lifetime products subscribed to
    subscription_next: dict[int, np.ndarray]  # lifetime product -> next billing time (NaN none)


def _empty(n: int, cat: Catalogue) -> Owned:
    return Owned(
        owned=np.zeros(n, dtype=np.uint64),
        owned_lines=np.zeros(n, dtype=np.uint64),
        last_product=np.full(n, -1, dtype=np.int16),
        members=np.zeros(n, dtype=bool),
        subscribed=np.zeros(n, dtype=np.uint64),
        subscription_next={j: np.full(n, np.nan) for j in cat.lifetimes},
    )


def _lines(cat: Catalogue, owned: np.ndarray) -> np.ndarray:
    lines = np.zeros(owned.size, dtype=np.uint64)
    for p in range(cat.count):
        if cat.line[p] >= 0:
            has = ((owned >> np.uint64(p)) & _ONE) == _ONE
            lines[has] |= _ONE << np.uint64(cat.line[p])
    return lines


def replay_purchases(
    cat: Catalogue,
    roles,
    streams: Streams,
    audience: np.ndarray,
    count: np.ndarray,
    first_t: np.ndarray,
    last_t: np.ndarray,
    alive: np.ndarray,
    record=None,
) -> Owned:
    """The first `count.size` customers' `count` purchases before day 0, replayed under the
    choice model (see the module docstring). Purchase i of a customer is placed at
    first_t + i (last_t - first_t) / (count - 1), for the subscriptions' billing; `record`,
    when given, is called with each round's (customers, times, products, lines)."""
    n = count.size
    out = _empty(n, cat)
    if not cat.count or not n:
        return out
    count = count.astype(np.int64)
    span = np.where(count > 1, (last_t - first_t) / np.maximum(count - 1, 1), 0.0)
    started = {j: np.full(n, np.nan) for j in cat.lifetimes}
    ids = np.arange(n)
    for i in range(int(count.max(initial=0))):
        ids = ids[count[ids] > i]
        if not ids.size:
            break
        product = cat.choose(audience[ids], streams.uniform(ids, Purpose.PRODUCT, i))
        if i == 0 and cat.leads.size:
            u = streams.uniform(ids, Purpose.PRODUCT, i + LEAD_PICK)
            product = cat.leads[np.minimum((u * cat.leads.size).astype(int), cat.leads.size - 1)]
        out.owned[ids] |= _ONE << product.astype(np.uint64)
        out.last_product[ids] = product
        if record is not None:
            record(ids, first_t[ids] + i * span[ids], product, cat.line[product])
        for main, addons in cat.attach.items():
            hit = ids[product == main]
            for j, addon in enumerate(addons):
                u = streams.uniform(hit, Purpose.UPSELL, i * 16 + j)
                out.owned[hit[u < roles.upsell_attach]] |= _ONE << np.uint64(addon)
        if cat.repeats:
            join = np.isin(product, cat.repeats) | (
                streams.uniform(ids, Purpose.JOIN, i) < roles.repeat_join
            )
            out.members[ids[join]] = True
        if cat.lifetimes:
            _take_up(cat, roles, streams, ids, product, i, first_t[ids] + i * span[ids], started)
    out.owned_lines[:] = _lines(cat, out.owned)
    _running(cat, roles, streams, alive, started, out)
    return out


def take_up(cat, roles, u: np.ndarray, product: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Who takes up a subscription at a purchase of `product`, given their uniform `u`, and
    which one: buying a lifetime product is taking it up; otherwise a share
    `roles.lifetime_take_up` takes one of the lifetime products, chosen by `u`."""
    bought = np.isin(product, cat.lifetimes)
    takes = bought | (u < roles.lifetime_take_up)
    pick = np.array(cat.lifetimes)[
        np.minimum(
            (u / max(roles.lifetime_take_up, 1e-12) * len(cat.lifetimes)).astype(int),
            len(cat.lifetimes) - 1,
        )
    ]
    return takes, np.where(bought, product, pick)


def _take_up(cat, roles, streams, ids, product, i, t, started) -> None:
    """Subscriptions taken up at purchase i (as `Buying._memberships` decides them)."""
    takes, which = take_up(cat, roles, streams.uniform(ids, Purpose.TAKE_UP, i), product)
    for j in cat.lifetimes:
        sel = ids[takes & (which == j)]
        fresh = np.isnan(started[j][sel])
        started[j][sel[fresh]] = t[takes & (which == j)][fresh]


def _running(cat, roles, streams, alive, started, out: Owned) -> None:
    """The subscriptions still running on day 0, and when each next bills."""
    for j in cat.lifetimes:
        who = np.flatnonzero(np.isfinite(started[j]) & alive)
        period = cat.cycle[j] if np.isfinite(cat.cycle[j]) else 30.4375
        since = -started[j][who]
        bills = np.floor(np.maximum(since, 0.0) / period)  # billings before day 0
        u = streams.uniform(who, Purpose.CANCEL, _PAST + j)
        keep = np.log(u) >= bills * np.log1p(-min(roles.lifetime_cancel, 1 - 1e-12))
        who = who[keep]
        out.subscribed[who] |= _ONE << np.uint64(j)
        out.subscription_next[j][who] = started[j][who] + (bills[keep] + 1) * period


def from_history(
    cat: Catalogue, names: list[str], holdings: Holdings, n: int, alive: np.ndarray, streams
) -> Owned:
    """What a real history says the first `n` customers own (products the spec does not
    declare are left out); membership of the programme by a repeat product bought, and a
    subscription to each lifetime product bought when alive, its next billing uniform
    within one period from day 0."""
    out = _empty(n, cat)
    if not cat.count:
        return out
    index = {name: i for i, name in enumerate(names)}
    code = np.array([index.get(name, -1) for name in holdings.names] + [-1], dtype=np.int64)
    product = code[holdings.product]
    ok = product >= 0
    np.bitwise_or.at(out.owned, holdings.customer[ok], _ONE << product[ok].astype(np.uint64))
    last = np.flatnonzero(ok & holdings.last_day)[::-1]  # the last of each customer's first
    who, first = np.unique(holdings.customer[last], return_index=True)
    out.last_product[who] = product[last[first]].astype(np.int16)
    out.owned_lines[:] = _lines(cat, out.owned)
    for j in cat.repeats:
        out.members |= ((out.owned >> np.uint64(j)) & _ONE) == _ONE
    for j in cat.lifetimes:
        who = np.flatnonzero((((out.owned >> np.uint64(j)) & _ONE) == _ONE) & alive)
        period = cat.cycle[j] if np.isfinite(cat.cycle[j]) else 30.4375
        out.subscribed[who] |= _ONE << np.uint64(j)
        out.subscription_next[j][who] = streams.uniform(who, Purpose.CANCEL, _PAST + j) * period
    return out
