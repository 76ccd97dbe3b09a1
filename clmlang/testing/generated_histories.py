"""Purchase histories: a customer's state from their history, and histories generated from a
spec's own vocabulary (its products, audiences, and the numbers in its conditions) for the
property-based search of `clm test`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import strategies as st

from ..compile.policy import Policy

__all__ = ["History", "Purchase", "histories", "interesting_numbers"]


@dataclass(frozen=True)
class Purchase:
    day: int
    product: str | None  # None: a purchase of nothing in particular (no products declared)


@dataclass(frozen=True)
class History:
    """A customer: purchases by day, the day we look at them, audience and date attributes."""

    purchases: tuple[Purchase, ...]
    day: int
    audience: str | None = None
    dates: tuple[tuple[str, int], ...] = ()  # (attribute, days before `day`)

    def customer(self, policy: Policy) -> dict[str, object]:
        """The state `clm explain` takes: counts, recency, spend, products owned, audience.
        Same-day purchases are one purchase, as in the language."""
        prices = {p.name: p.price for p in policy.products}
        days = sorted({p.day for p in self.purchases if p.day <= self.day})
        bought = [p for p in self.purchases if p.day <= self.day]
        state: dict[str, object] = {"purchases": len(days)}
        if days:
            spent = sum(prices.get(p.product or "", 0.0) for p in bought)
            state["days_since_purchase"] = self.day - days[-1]
            state["days_since_first_purchase"] = self.day - days[0]
            state["total_spent"] = spent
            owned = sorted({p.product for p in bought if p.product})
            if owned:
                state["owns"] = owned
                state.update(_per_product(bought, policy, self.day))
                last = max(bought, key=lambda p: p.day)
                if last.product:
                    state["last_product"] = last.product
        if self.audience:
            state["audience"] = self.audience
        for name, ago in self.dates:
            state[name] = ago
        return state

    def to_toml(self) -> str:
        """The history as a ready-to-paste `[[example]]` body."""
        items = ", ".join(
            f'{{ day = {p.day}, product = "{p.product}" }}' if p.product else f"{{ day = {p.day} }}"
            for p in self.purchases
        )
        lines = [f"history = [{items}]", f"day = {self.day}"]
        if self.audience:
            lines.append(f'audience = "{self.audience}"')
        for name, ago in self.dates:
            lines.append(f"{name} = {ago}")
        return "\n".join(lines)


def _per_product(bought: list[Purchase], policy: Policy, day: int) -> dict[str, object]:
    """`purchases of X` and `days_since_purchase of X` for each product and line bought
    (the days on which it was bought, and the last of them)."""
    lines = {p.name: p.line for p in policy.products}
    days: dict[str, set[int]] = {}
    for p in bought:
        if p.product:
            days.setdefault(p.product, set()).add(p.day)
            if lines.get(p.product):
                days.setdefault(f"line {lines[p.product]}", set()).add(p.day)
    state: dict[str, object] = {}
    for target, when in sorted(days.items()):
        state[f"purchases of {target}"] = len(when)
        state[f"days_since_purchase of {target}"] = day - max(when)
    return state


def interesting_numbers(policy: Policy) -> list[int]:
    """Whole numbers written in the spec's conditions and stage boundaries, and their
    neighbours: where behaviour changes, bugs hide."""
    found: set[int] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if (
                node.get("op") == "const"
                and isinstance(node.get("value"), int | float)
                and not isinstance(node.get("value"), bool)
            ):
                found.add(int(node["value"]))
            if node.get("op") == "between":
                found.update({int(node["low"]), int(node["high"])})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(policy.semantics())
    out = set()
    for n in found:
        out.update({n - 1, n, n + 1})
    return sorted(n for n in out if 0 <= n <= 2000)


def histories(policy: Policy, max_purchases: int = 30) -> st.SearchStrategy[History]:
    """Histories made of the spec's products and audiences, with gaps and counts drawn around
    the numbers its conditions use."""
    sold = [p.name for p in policy.products if p.sold] or [None]
    numbers = interesting_numbers(policy) or [0, 1, 30, 90, 365]
    gaps = _around(numbers, 400)
    counts = _around([n for n in numbers if n <= max_purchases], max_purchases)
    audiences = [a.name for a in policy.audiences]
    dated = [a.name for a in policy.attributes if a.type == "date"]

    @st.composite
    def build(draw) -> History:
        count = draw(counts)
        day = 0
        purchases = []
        for i in range(count):
            if i:
                day += draw(gaps)
            purchases.append(Purchase(day, draw(st.sampled_from(sold))))
        look = day + draw(gaps)
        audience = draw(st.sampled_from([None, *audiences])) if audiences else None
        dates = tuple((name, draw(gaps)) for name in dated)
        return History(tuple(purchases), look, audience, dates)

    return build()


def _around(numbers: list[int], top: int) -> st.SearchStrategy[int]:
    """A number from one of the spans between consecutive interesting numbers, each span as
    likely as another: every region where a condition changes its answer gets its share."""
    edges = sorted({0, top, *(n for n in numbers if 0 <= n <= top)})
    spans = list(itertools.pairwise(edges)) or [(0, top)]
    return st.one_of(
        st.sampled_from(edges),
        st.sampled_from(spans).flatmap(lambda span: st.integers(span[0], span[1])),
    )
