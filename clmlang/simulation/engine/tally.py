"""Purchases of one product or line, for the columns `purchases:P`, `days_since_purchase:P`
and their `_line:L` forms (`purchases of tyres`, `days_since_purchase of line cars`).

Only the products and lines a policy's conditions name are tallied: for each, every
customer's number of purchases of it and the day of the last one (NaN: never). A purchase
counts for the product it is of (the one in the purchase log and in `on purchase of`), not for
the add-ons attached to it.
"""

from __future__ import annotations

import numpy as np

from ...compile.policy import Policy

__all__ = ["Tally"]

_FIELDS = ("purchases", "days_since_purchase")


class Tally:
    """Per tallied product or line: `count` (int32) and `last_day` (float32, NaN never)."""

    def __init__(self, policy: Policy, n: int):
        products = {p.name: i for i, p in enumerate(policy.products)}
        lines = {name: i for i, name in enumerate(policy.lines)}
        self.targets: dict[tuple[bool, int], tuple[np.ndarray, np.ndarray]] = {}
        self.keys: dict[str, tuple[str, tuple[bool, int]]] = {}
        for key in policy.columns:
            field, _, name = key.partition(":")
            line = field.endswith("_line")
            field = field.removesuffix("_line")
            table = lines if line else products
            if field not in _FIELDS or name not in table:
                continue
            target = (line, table[name])
            self.keys[key] = (field, target)
            if target not in self.targets:
                self.targets[target] = (
                    np.zeros(n, dtype=np.int32),
                    np.full(n, np.nan, dtype=np.float32),
                )

    def __bool__(self) -> bool:
        return bool(self.targets)

    def record(self, ids: np.ndarray, t: np.ndarray, product: np.ndarray, line: np.ndarray):
        """Purchases of `product` (of `line`, -1 none) by `ids` at times `t`: one purchase a
        customer, later than any recorded before."""
        for (is_line, code), (count, last_day) in self.targets.items():
            hit = (line if is_line else product) == code
            if not hit.any():
                continue
            who = ids[hit]
            count[who] += 1
            last_day[who] = np.floor(t[hit])

    def record_history(self, cat, names: list[str], holdings, last_t: np.ndarray) -> None:
        """A real history's purchases (`holdings.Holdings`): each row naming a product is a
        purchase of it; its day is known when it was the customer's last purchase day (else
        the product's last purchase day stays unknown)."""
        index = {name: i for i, name in enumerate(names)}
        code = np.array([index.get(name, -1) for name in holdings.names] + [-1], dtype=np.int64)
        product = code[holdings.product]
        ok = product >= 0
        who, product, on_last = holdings.customer[ok], product[ok], holdings.last_day[ok]
        line = cat.line[product] if cat.count else np.full(product.size, -1)
        for (is_line, target), (count, last_day) in self.targets.items():
            hit = (line if is_line else product) == target
            np.add.at(count, who[hit], 1)
            latest = who[hit & on_last]
            last_day[latest] = np.floor(last_t[latest])

    def column(self, key: str, ids: np.ndarray | slice, day: int) -> np.ndarray:
        field, target = self.keys[key]
        count, last_day = self.targets[target]
        if field == "purchases":
            return count[ids].astype(float)
        return np.float32(day) - last_day[ids]

    def __contains__(self, key: object) -> bool:
        return key in self.keys
