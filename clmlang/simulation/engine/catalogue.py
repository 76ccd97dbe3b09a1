"""The product ecosystem as arrays: prices, costs, lines, cycles, roles and demand weights."""

from __future__ import annotations

import numpy as np

from ...compile.policy import Policy
from ...market.model import Market

__all__ = ["Catalogue"]

# Default share of purchases by role, before the market's own weights (docs/model.md).
ROLE_WEIGHTS = {
    "profit": 1.0,
    "value": 0.15,
    "upsell": 0.0,
    "lead": 0.0,
    "repeat": 0.0,
    "lifetime": 0.0,
    "platform": 0.0,
    "efficiency": 0.0,
}


class Catalogue:
    def __init__(self, policy: Policy, market: Market):
        products = policy.products
        self.names = [p.name for p in products]
        self.count = len(products)
        self.price = np.array([p.price for p in products], dtype=float)
        self.cost = np.array([p.cost for p in products], dtype=float)
        lines = {name: i for i, name in enumerate(policy.lines)}
        self.line = np.array(
            [lines.get(p.line, -1) if p.line else -1 for p in products], dtype=np.int16
        )
        self.cycle = np.array([p.cycle_days or np.nan for p in products], dtype=float)
        self.role = [p.role for p in products]
        # durable: bought for keeps (no `every` cycle, not an add-on); an owner buys it again
        # only after `keep_days` (market.products.NAME.keep_days; none: not in the run)
        upsell = np.array([p.role == "upsell" for p in products], dtype=bool)
        self.durable = ~np.isfinite(self.cycle) & ~upsell
        self.durable_mask = np.uint64(sum(1 << int(i) for i in np.flatnonzero(self.durable)))
        self.keep = np.array(
            [
                (d.keep_days if (d := market.products.get(p.name)) and d.keep_days else np.inf)
                for p in products
            ],
            dtype=float,
        )
        self.leads = np.array(
            [i for i, p in enumerate(products) if p.role == "lead"], dtype=np.int16
        )
        self.lifetimes = [i for i, p in enumerate(products) if p.role == "lifetime"]
        self.repeats = [i for i, p in enumerate(products) if p.role == "repeat"]
        self.values = [i for i, p in enumerate(products) if p.role == "value"]
        self.value_mask = np.uint64(sum(1 << i for i in self.values))
        self.reward = max(
            (p.reward_share or 0.0 for p in products if p.role == "repeat"), default=0.0
        )
        # upsell attachments: for each main product, the add-ons that may join it
        by_name = {p.name: i for i, p in enumerate(products)}
        self.attach: dict[int, list[int]] = {}
        for i, p in enumerate(products):
            if p.role != "upsell":
                continue
            targets = [by_name[t] for t in p.attach_to if t in by_name]
            targets += [
                j
                for j, q in enumerate(products)
                if q.line is not None and q.line in p.attach_to_lines and q.role != "upsell"
            ]
            for j in dict.fromkeys(targets):  # each main product once, in order
                self.attach.setdefault(j, []).append(i)
        # demand weights per audience (row 0: no audience, row a+1: audience a)
        audiences = [a.name for a in policy.audiences]
        weights = np.zeros((len(audiences) + 1, self.count))
        for i, p in enumerate(products):
            demand = market.products.get(p.name)
            base = demand.weight if demand and demand.weight is not None else ROLE_WEIGHTS[p.role]
            weights[:, i] = base
            for a, name in enumerate(audiences):
                if demand and name in demand.audiences:
                    weights[a + 1, i] = demand.audiences[name]
        if self.count and not np.all(weights.sum(axis=1) > 0):
            # a market that buys nothing at all from an audience falls back on profit products
            empty = weights.sum(axis=1) == 0
            sold = np.array([p.sold and p.role not in ("lead",) for p in products], dtype=float)
            weights[empty] = sold if sold.sum() else 1.0
        self.weights = weights
        totals = weights.sum(axis=1, keepdims=True)
        self.cumulative = np.cumsum(weights / np.where(totals > 0, totals, 1), axis=1)
        self.relevant = weights > 0

    def choose(self, audience: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A product per purchase, by the buyer's audience's demand weights."""
        rows = self.cumulative[audience.astype(np.int64) + 1]
        picked = (u[:, None] > rows).sum(axis=1)
        return np.minimum(picked, self.count - 1).astype(np.int16)

    def choose_in_line(self, line: np.ndarray, audience: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A product of the given line per purchase (by demand weights within the line)."""
        w = self.weights[audience.astype(np.int64) + 1] * (self.line[None, :] == line[:, None])
        w = np.where(w.sum(axis=1, keepdims=True) > 0, w, (self.line[None, :] == line[:, None]))
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1:]
        picked = (u[:, None] * total > cum).sum(axis=1)
        return np.minimum(picked, self.count - 1).astype(np.int16)
