"""Ownership: which products a customer cannot buy now because they already own them.

A durable product (no `every` cycle, not an add-on) is bought for keeps: its owner does not
buy it again, naturally or in answer to a message, until `keep_days` after they bought it
(market.products.NAME.keep_days; without it, not again in the run). A line with `keep_days`
(market.lines.NAME.keep_days) makes its durables, lead products aside, one possession (a car
is a new car or a used one): an owner of any of them buys none of them until `keep_days`
after they last bought one. Products with a cycle and add-ons are bought again at any time.
The simulator asks for the *blocked* products of a batch of customers at their purchase
times, as bits (one per product, as `State.owned`).
"""

from __future__ import annotations

import numpy as np

from ...compile.policy import Policy
from ...market.model import Market
from .catalogue import Catalogue

__all__ = ["Ownership", "has"]

_ONE = np.uint64(1)


def _bits(products: list[int]) -> np.uint64:
    return np.uint64(sum(1 << int(p) for p in products))


class Ownership:
    def __init__(self, policy: Policy, market: Market, catalogue: Catalogue, n: int):
        cat = catalogue
        # a purchase that lands on an owned durable picks again (choice.py) instead of being
        # lost, when the market's rate counts every purchase (market.buying.owned)
        self.renormalise = market.buying.owned == "renormalise"
        durable = np.flatnonzero(cat.durable).tolist() if cat.count else []
        # possessions: (products, days kept); a line with keep_days groups its durables
        groups: list[tuple[list[int], float]] = []
        grouped: set[int] = set()
        for i, line in enumerate(policy.lines):
            demand = market.lines.get(line)
            if demand is None or demand.keep_days is None:
                continue
            members = [p for p in durable if cat.line[p] == i and cat.role[p] != "lead"]
            if members:
                groups.append((members, float(demand.keep_days)))
                grouped.update(members)
        groups += [([p], float(cat.keep[p])) for p in durable if p not in grouped]
        self.groups = [(_bits(products), keep) for products, keep in groups]
        self.of_product = {p: g for g, (products, _) in enumerate(groups) for p in products}
        # when each customer last bought a possession that is kept for a while
        self.bought_t = {
            g: np.full(n, -np.inf) for g, (_, keep) in enumerate(self.groups) if np.isfinite(keep)
        }

    @property
    def timed(self) -> bool:
        """Whether any possession is kept for a while (and purchase times matter)."""
        return bool(self.bought_t)

    def blocked(self, owned: np.ndarray, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The products each of `ids` (owning `owned`) cannot buy at time `t`, as bits."""
        out = np.zeros(ids.size, dtype=np.uint64)
        for g, (bits, _) in enumerate(self.groups):
            holds = (owned & bits) != 0
            if g in self.bought_t:
                _, keep = self.groups[g]
                holds &= self.bought_t[g][ids] + keep > t
            out[holds] |= bits
        return out

    def record(self, ids: np.ndarray, t: np.ndarray, product: np.ndarray, line=None) -> None:
        """Purchases of `product` at `t` by `ids`: a kept possession's clock starts again.
        (`line` is accepted so that this is a tally-like callback for replayed purchases.)"""
        for g, times in self.bought_t.items():
            bits = self.groups[g][0]
            hit = has(np.full(product.size, bits), product)
            times[ids[hit]] = t[hit]

    def recorder(self, then=None):
        """A `record(ids, t, product, line)` callback for replayed purchases, that also
        calls `then` (the tally's) when given."""

        def record(ids, t, product, line):
            self.record(ids, t, product)
            if then is not None:
                then(ids, t, product, line)

        return record

    def from_history(self, last_product: np.ndarray, first_t, last_t) -> None:
        """The purchase times of possessions a real history names: bought on the last
        purchase day when it is the last product, else on the first."""
        c = last_product.size
        for g, times in self.bought_t.items():
            bits = self.groups[g][0]
            times[:c] = np.where(has(np.full(c, bits), last_product), last_t, first_t)


def has(bits: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Whether each bit set `bits` holds its `product` (a product below 0 is never held)."""
    safe = np.maximum(product, 0).astype(np.uint64)
    return (product >= 0) & (((bits >> safe) & _ONE) == _ONE)
