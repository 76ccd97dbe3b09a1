"""Example customer states, to find stage overlaps and gaps and rules that can never fire.

Conditions are compared with constants, so their truth only changes at those constants. A
grid of candidate values per column (each constant, its neighbours, midpoints for money and
durations, zero, a large value, "no purchase yet") therefore meets every combination of
single-column comparisons. States that cannot exist (purchases 0 but a last purchase 30
days ago) are dropped. Conditions with arithmetic are only searched, never proven empty.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..language.conditions import Const, Expr, column_label, evaluate, required_columns

__all__ = ["Facts", "StateGrid", "is_exact"]

# Above this many combinations the grid is sampled (seeded) instead of enumerated.
_MAX_GRID = 200_000
# Counts, codes and days are whole numbers: `days_since_purchase` counts whole days, so
# `90..179 days` and `>= 180 days` leave no gap.
_INTEGER_COLUMNS = (
    "purchases",
    "events:",
    "messages:",
    "stage",
    "previous_stage",
    "last_product",
    "audience",
    "days",
)
# Examples list the columns a strategist thinks in first.
_ORDER = ("purchases", "days_since_purchase", "days_since_first_purchase", "total_spent")
_CODE_COLUMNS = ("stage", "previous_stage", "last_product", "audience")
_PREDICTIONS = ("p_alive", "expected_purchases:", "predicted_value:")


def is_exact(expr: Expr) -> bool:
    """True when the grid decides the expression: no arithmetic between columns."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if node.op in ("+", "-", "*", "/", "neg"):
            return False
        if node.op == "not" or node.op == "between":
            stack.append(node.arg)  # type: ignore[union-attr]
        elif node.op in ("and", "or"):
            stack.extend(node.args)  # type: ignore[union-attr]
        elif node.op in (">=", "<=", "==", "!=", ">", "<"):
            stack.extend((node.left, node.right))  # type: ignore[union-attr]
    return True


def _constants(exprs: Iterable[Expr]) -> dict[str, set[object]]:
    """Constants each column is compared with, by column key."""
    found: dict[str, set[object]] = {}
    stack: list[Expr] = list(exprs)
    while stack:
        node = stack.pop()
        op = node.op
        if op == "score":
            found.setdefault(node.key, set()).update(node.bounds)  # type: ignore[union-attr]
        elif op == "column":
            found.setdefault(node.key, set())  # type: ignore[union-attr]
        elif op == "between":
            key = _column_key(node.arg)  # type: ignore[union-attr]
            if key:
                found.setdefault(key, set()).update((node.low, node.high))  # type: ignore[union-attr]
            stack.append(node.arg)  # type: ignore[union-attr]
        elif op in ("and", "or"):
            stack.extend(node.args)  # type: ignore[union-attr]
        elif op in ("not", "neg"):
            stack.append(node.arg)  # type: ignore[union-attr]
        elif op != "const":
            left, right = node.left, node.right  # type: ignore[union-attr]
            for a, b in ((left, right), (right, left)):
                key = _column_key(a)
                if key and isinstance(b, Const):
                    found.setdefault(key, set()).add(b.value)
            stack.extend((left, right))
    return found


def _column_key(expr: Expr) -> str | None:
    return expr.key if expr.op in ("column", "score") else None  # type: ignore[union-attr]


def _candidates(
    key: str, constants: set[object], codes: dict[str, int], flags: Collection[str]
) -> list[object]:
    if any(key == c for c in _CODE_COLUMNS):
        return [-1, *range(codes.get(key, 0))]
    if key.startswith(("owns", "subscribed", "unsubscribed")) or key == "subscribed":
        return [False, True]
    if key in flags:  # a flag attribute: 0/1, or not known
        return [math.nan, 0.0, 1.0]
    if any(isinstance(c, str) for c in constants):
        return sorted({"", *(c for c in constants if isinstance(c, str))})
    numbers = sorted(
        {float(c) for c in constants if isinstance(c, int | float) and not isinstance(c, bool)}
    )
    integer = key.startswith(_INTEGER_COLUMNS)
    values = {0.0, 1e6}
    for a in numbers:
        values.update((a - 1, a, a + 1))
    if not integer:
        values.update((a + b) / 2 for a, b in itertools.pairwise(numbers))
        values.update(a + 0.5 for a in numbers)
    values = {math.floor(v) if integer else v for v in values if v >= 0}
    if key == "p_alive":  # a probability; 1 with no repeat purchase
        values = {v for v in values if v <= 1} | {1.0}
    result: list[object] = sorted(values)
    if key.startswith(("days_since", "attr:", *_PREDICTIONS)):
        result.insert(0, math.nan)  # no purchase yet, or not known
    return result


def _per_product_feasible(c: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """States possible for the columns about one product or line (`purchases:P`,
    `days_since_purchase_line:L`): bought it exactly when its last purchase day is known, no
    more often than in all, not later than the last purchase nor before the first, and
    owning it when bought it."""
    keep = np.ones(rows, dtype=bool)
    purchases = c.get("purchases")
    recency = c.get("days_since_purchase")
    first = c.get("days_since_first_purchase")
    for key in c:
        field, _, target = key.partition(":")
        suffix = "_line" if field.endswith("_line") else ""
        if field.removesuffix(suffix) not in ("purchases", "days_since_purchase") or not target:
            continue
        count = c.get(f"purchases{suffix}:{target}")
        days = c.get(f"days_since_purchase{suffix}:{target}")
        owns = c.get(f"owns{suffix}:{target}")
        bought = None if count is None else count.astype(float) > 0
        if days is not None:
            since = days.astype(float)
            known = ~np.isnan(since)
            bought = known if bought is None else bought
            if count is not None:
                keep &= (count.astype(float) > 0) == known
            if recency is not None:
                keep &= ~known | (since >= recency.astype(float))
            if first is not None:
                keep &= ~known | (since <= first.astype(float))
        if count is not None and purchases is not None:
            keep &= count.astype(float) <= purchases.astype(float)
        if bought is not None:
            if purchases is not None:
                keep &= ~bought | (purchases.astype(float) > 0)
            if owns is not None:
                keep &= ~bought | owns.astype(bool)
    return keep


def _lines_feasible(c: dict[str, np.ndarray], rows: int, lines: dict[str, list[str]]):
    """A line's purchases include those of its products: at least as many as of each, the
    last no earlier than the last of each; a line of one product is that product."""
    keep = np.ones(rows, dtype=bool)
    for line, products in lines.items():
        for field_name in ("purchases", "days_since_purchase"):
            total = c.get(f"{field_name}_line:{line}")
            if total is None:
                continue
            total = total.astype(float)
            for product in products:
                part = c.get(f"{field_name}:{product}")
                if part is None:
                    continue
                part = part.astype(float)
                if len(products) == 1:
                    keep &= (total == part) | (np.isnan(total) & np.isnan(part))
                elif field_name == "purchases":
                    keep &= total >= part
                else:  # bought the product: the line's last purchase is as recent or more
                    keep &= np.isnan(part) | (total <= part)
    return keep


def _events_feasible(c: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """A customer has had an event exactly when the days since the last one are known."""
    keep = np.ones(rows, dtype=bool)
    for key, count in c.items():
        field, _, name = key.partition(":")
        days = c.get(f"days_since_event:{name}")
        if field == "events" and days is not None:
            keep &= (count.astype(float) > 0) == ~np.isnan(days.astype(float))
    return keep


def _share_candidates(constants: dict[str, set[object]]) -> None:
    """Columns about one product or line get the candidates of their whole family (all
    purchase counts; all days since a purchase), so that a state of a real customer always
    has a stand-in in the grid that keeps the order between them (`feasible` relies on it)."""
    for family in (("purchases",), ("days_since_purchase", "days_since_first_purchase")):
        keys = [k for k in constants if k.partition(":")[0].removesuffix("_line") in family]
        if any(":" in k for k in keys):
            shared = set().union(*(constants[k] for k in keys))
            for key in keys:
                constants[key] = set(shared)


@dataclass(frozen=True)
class Facts:
    """What the spec says that ties columns together: which attributes are flags, and each
    product's line, in declaration order (a product's code is its index)."""

    flags: frozenset[str] = frozenset()
    products: tuple[tuple[str, str | None], ...] = ()


@dataclass
class StateGrid:
    """Candidate customer states as columns, one row per state.

    `exhaustive` is True when every combination of candidate values is present; only then
    may a caller conclude that no customer meets a condition.
    """

    columns: dict[str, np.ndarray]
    rows: int
    exhaustive: bool = True
    facts: Facts = Facts()

    @classmethod
    def build(
        cls,
        exprs: Sequence[Expr],
        codes: dict[str, int],
        limit: int = _MAX_GRID,
        facts: Facts = Facts(),
    ) -> StateGrid:
        """States for deciding `exprs`; `codes` gives how many stages, products, audiences,
        `facts` the flags and the products' lines.

        Up to `limit` combinations the grid is complete; past it, `limit` seeded samples.
        """
        constants = _constants(exprs)
        for expr in exprs:
            for key in required_columns(expr):
                constants.setdefault(key, set())
        _share_candidates(constants)
        keys = sorted(constants)
        values = [np.array(_candidates(k, constants[k], codes, facts.flags)) for k in keys]
        sizes = [len(v) for v in values]
        size = math.prod(sizes) if sizes else 1
        if size <= limit:
            index = np.unravel_index(np.arange(size), sizes) if keys else ()
            exhaustive = True
        else:
            rng = np.random.default_rng(0)
            index = tuple(rng.integers(0, n, limit) for n in sizes)
            exhaustive = False
        columns = {k: v[i] for k, v, i in zip(keys, values, index, strict=True)}
        rows = len(index[0]) if keys else 1
        return cls(columns, rows, exhaustive, facts).feasible()

    def feasible(self) -> StateGrid:
        """Drop states no real customer can be in."""
        c = self.columns
        keep = np.ones(self.rows, dtype=bool)
        purchases = c.get("purchases")
        recency = c.get("days_since_purchase")
        first = c.get("days_since_first_purchase")
        # Purchase dates, and the buying model's predictions, are unknown exactly when there
        # is no purchase yet.
        predictions = [v for k, v in c.items() if k.startswith(_PREDICTIONS)]
        for dated in (recency, first, *predictions):
            if purchases is not None and dated is not None:
                keep &= (purchases == 0) == np.isnan(dated.astype(float))
        if recency is not None and first is not None:
            keep &= ~(first.astype(float) < recency.astype(float))
            keep &= np.isnan(first.astype(float)) == np.isnan(recency.astype(float))
        spent = c.get("total_spent")
        if purchases is not None and spent is not None:
            keep &= ~((purchases == 0) & (spent > 0))
        last = c.get("last_product")
        if purchases is not None and last is not None:
            keep &= (purchases == 0) == (last < 0)
        keep &= self._ownership(last)
        keep &= _per_product_feasible(c, self.rows) & _lines_feasible(c, self.rows, self.lines)
        keep &= _events_feasible(c, self.rows)
        columns = {k: v[keep] for k, v in c.items()}
        return StateGrid(columns, int(keep.sum()), self.exhaustive, self.facts)

    @property
    def lines(self) -> dict[str, list[str]]:
        """The products of each line (from the facts)."""
        out: dict[str, list[str]] = {}
        for product, line in self.facts.products:
            if line:
                out.setdefault(line, []).append(product)
        return out

    def _ownership(self, last: np.ndarray | None) -> np.ndarray:
        """Owning a product takes a purchase of it: a purchase date, the product's line, and
        a last product that is owned."""
        c, keep = self.columns, np.ones(self.rows, dtype=bool)
        owning = [v.astype(bool) for k, v in c.items() if k.startswith(("owns:", "owns_line:"))]
        if owning:
            owns_any = np.logical_or.reduce(owning)
            if "purchases" in c:
                keep &= ~(owns_any & (c["purchases"] == 0))
            for dated in ("days_since_purchase", "days_since_first_purchase"):
                if dated in c:
                    keep &= ~(owns_any & np.isnan(c[dated].astype(float)))
            if last is not None:
                keep &= ~(owns_any & (last < 0))
        members: dict[str, list[np.ndarray | None]] = {}
        for code, (product, line) in enumerate(self.facts.products):
            has = c.get(f"owns:{product}")
            has_line = c.get(f"owns_line:{line}") if line else None
            if line:
                members.setdefault(line, []).append(has)
            if has is not None and has_line is not None:
                keep &= has_line | ~has
            for held in (has, has_line):
                if last is not None and held is not None:
                    keep &= held | (last != code)
        for line, owns in members.items():
            has_line = c.get(f"owns_line:{line}")
            if has_line is not None and all(o is not None for o in owns):
                keep &= ~has_line | np.logical_or.reduce(owns)
        return keep

    def holds(self, expr: Expr) -> np.ndarray:
        """Where `expr` is true, one boolean per state."""
        if self.rows == 0:
            return np.zeros(0, dtype=bool)
        return evaluate(expr, self.columns, self.rows).astype(bool)

    def row(self, index: int) -> StateGrid:
        """One state of the grid, as a grid of one row."""
        columns = {k: v[index : index + 1] for k, v in self.columns.items()}
        return StateGrid(columns, 1, self.exhaustive, self.facts)

    def with_column(self, key: str, values: np.ndarray) -> StateGrid:
        return StateGrid({**self.columns, key: values}, self.rows, self.exhaustive, self.facts)

    def describe(self, row: int, keys: Iterable[str], names: dict[str, list[str]]) -> str:
        """One state as `purchases=3, days_since_purchase=74`, codes shown as names."""
        parts = []
        ordered = sorted(keys, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k))
        for key in ordered:
            if key not in self.columns:
                continue
            value = self.columns[key][row]
            if key in names:
                code = int(value)
                shown = names[key][code] if code >= 0 else "none"
            elif isinstance(value, float | np.floating) and math.isnan(value):
                shown = "none"
            elif isinstance(value, bool | np.bool_) or key in self.facts.flags:
                shown = "yes" if value else "no"
            elif isinstance(value, float | np.floating | int | np.integer):
                shown = f"{float(value):g}"
            else:
                shown = repr(str(value))
            parts.append(f"{column_label(key)}={shown}")
        return ", ".join(parts) or "any customer"
