"""What each product, line and role brings: the rows of products.csv, and the KPIs of checks.

A check is one purchase: its main product, and the add-ons (upsell products) attached to it.
The engine records what each check was made of and each subscription renewal
(`Recorder.items`); from those rows, the delivered messages and the acquisition cost:

- `purchases`: checks with the group's products in them (a product bought as the main one or
  attached as an add-on); `items`: the group's products in those checks (a check with a main
  product and an add-on of the same line is one purchase of the line and two items);
  `renewals`: subscription billings; `customers`: distinct customers who paid for the
  group's products (a purchase, an add-on or a renewal);
- `revenue`: the main product's price after the offer's discount, an add-on's price, a
  renewal's price; the totals are daily.csv's revenue;
- `gross_profit`: revenue - cost of goods - the members' reward (split over a check's
  products in proportion to revenue) - the offer's bonus (on the main product);
- `offer_cost`: the offer's discount and bonus on purchases of the product (already out of
  revenue and gross profit: shown, not subtracted again);
- `message_cost`: delivered messages whose offer names the product (a line: the line's row,
  no product's); messages without an offer are `(none)`'s; `acquisition_cost`: `(none)`'s;
  `marketing_cost` = message_cost + acquisition_cost, the totals daily.csv's;
- `contribution` = gross_profit - marketing_cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.compiled import use_compiled
from .cohorts import MONTH
from .engine import Run
from .engine.recorder import ITEM_KINDS
from .ordering import by_customer, distinct_per_key

__all__ = [
    "ROLES",
    "Items",
    "add_sums",
    "check_counts",
    "check_kpis",
    "check_kpis_of",
    "product_sums",
    "products_table",
]

NONE = "(none)"
LEVELS = ("product", "line", "role", "total")
ROLES = ("lead", "value", "profit", "repeat", "lifetime", "upsell")
MONEY = ("revenue", "gross_profit", "offer_cost", "message_cost", "acquisition_cost")
COLUMNS = (
    "period",
    "first_day",
    "last_day",
    "level",
    "name",
    "purchases",
    "items",
    "renewals",
    "customers",
    *MONEY,
    "marketing_cost",
    "contribution",
)
MAIN, ADD_ON, RENEWAL = (ITEM_KINDS.index(k) for k in ("main", "add_on", "renewal"))


def _codes(run: Run) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each level's group names (`(none)` last) and each product's group (the last entry:
    no product)."""
    policy = run.policy
    products = list(policy.products)
    sold = [p.name for p in products if p.role in ROLES]
    roles = [r for r in ROLES if any(p.role == r for p in products)]
    lines = list(policy.lines)
    groups = {"product": sold, "line": lines, "role": roles}
    out = {}
    for level, names in groups.items():
        where = {name: i for i, name in enumerate(names)}
        of = [
            p.name if level == "product" else p.line if level == "line" else p.role
            for p in products
        ]
        code = np.array([where.get(x, len(names)) for x in of] + [len(names)], dtype=np.int64)
        out[level] = ([*names, NONE], code)
    out["total"] = (["total"], np.zeros(len(products) + 1, dtype=np.int64))
    return out


@dataclass(frozen=True)
class Items:
    """The run's items (`Recorder.items` as arrays), their order by customer (log order
    within one) and each item's check (see `_check_ids`): computed once for the products
    table and the check KPIs."""

    rows: dict[str, np.ndarray]
    order: np.ndarray
    check: np.ndarray
    together: bool  # a check's items are next to each other in `order`
    compiled: bool = False  # the kernels of ordering_kernels.py, not their numpy twins

    @classmethod
    def of(cls, run: Run) -> Items:
        rows = run.recorder.items.arrays()
        compiled = use_compiled(run.customers * run.days)
        order = by_customer(rows["customer"], compiled=compiled)
        check, together = None, False
        if compiled:  # one walk (ordering_kernels.py); when the order does not hold, numpy's
            from .ordering_kernels import check_ids

            check, together = check_ids(
                rows["customer"], rows["time"], rows["kind"], order, MAIN, ADD_ON
            )
        if not together:
            check, together = _check_ids(rows["customer"], rows["time"], rows["kind"], order)
        return cls(rows, order, check, together, compiled)


def _check_ids(
    customer: np.ndarray, time: np.ndarray, kind: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Each item's check: the index of the check's main item (a check is its customer and
    time); -1 for renewals and costs. `order`: the items by customer, in log order within
    one, where a check's add-ons follow its main item (they are logged right after it); a
    log where that does not give each add-on a main item of its customer and time is
    ordered by (customer, time, kind) instead. Returns the checks, and whether the first
    order held."""
    out = np.where(kind == MAIN, np.arange(kind.size), -1)
    rows = order[(kind[order] == MAIN) | (kind[order] == ADD_ON)]
    for attempt in range(2):
        at = np.arange(rows.size)
        latest_main = np.maximum.accumulate(np.where(kind[rows] == MAIN, at, 0))
        main = rows[latest_main]
        if attempt or (
            (customer[main] == customer[rows]).all()
            and (time[main] == time[rows]).all()
            and _mains_distinct(customer, time, rows[kind[rows] == MAIN])
        ):
            break
        rows = np.flatnonzero((kind == MAIN) | (kind == ADD_ON))
        rows = rows[np.lexsort((kind[rows], time[rows], customer[rows]))]
    out[rows] = main
    return out, attempt == 0


def _mains_distinct(customer: np.ndarray, time: np.ndarray, mains: np.ndarray) -> bool:
    """Whether the main items (`mains`, by customer) have increasing times per customer."""
    c, t = customer[mains], time[mains]
    return bool(((c[1:] != c[:-1]) | (t[1:] > t[:-1])).all())


def _distinct(key: np.ndarray, value: np.ndarray, size: int) -> np.ndarray:
    """How many distinct `value`s (integers >= 0) each key (0..size-1) has, any order."""
    if not key.size:
        return np.zeros(size, dtype=np.int64)
    span = int(value.max()) + 1
    pairs = np.sort(key.astype(np.int64) * span + value)  # int64: keys x values is large
    first = np.r_[True, pairs[1:] != pairs[:-1]]
    return np.bincount(pairs[first] // span, minlength=size)


def product_sums(run: Run, items: Items | None = None) -> dict[str, dict[str, np.ndarray]]:
    """What products.csv sums from the run's items, per level (product, line, role, total)
    and per month and group (`month * groups + group`): the money (revenue, gross_profit,
    offer_cost), the items, renewals, distinct customers and purchases, and over the whole
    run the distinct customers and purchases (`whole_customers`, `whole_purchases`). The
    customers of blocks of one population are distinct, so the sums of blocks add up."""
    items = items or Items.of(run)
    it, by_cust, check = items.rows, items.order, items.check
    compiled = items.compiled
    months = max(math.ceil(run.days / MONTH), 1)
    nothing = len(run.policy.products)
    # int32 keys (months x groups is small): half the memory of the item-sized arrays
    month = np.clip(np.floor(np.floor(it["time"]) / MONTH), 0, months - 1).astype(np.int32)
    product = np.where(it["product"] >= 0, it["product"], nothing).astype(np.int32)
    kind = it["kind"]
    item = kind != RENEWAL
    main = kind == MAIN
    # the items by customer (log order within one) and, among them, those in checks
    c_sorted, in_check = it["customer"][by_cust], item[by_cust]
    # a check's number in that order (its items are together there, its main item first)
    check_rank = np.cumsum(kind[by_cust][in_check] == MAIN)
    out = {}
    for level, (names, code_of) in _codes(run).items():
        g = len(names)
        size = months * g
        c_items = code_of.astype(np.int32)[product]
        k_items = month * np.int32(g) + c_items
        if compiled:  # one pass over the rows (ordering_kernels.py), the same sums
            from .ordering_kernels import group_sums

            amounts, counted = group_sums(
                k_items, kind, it["revenue"], it["cost_of_goods"], it["reward"],
                it["offer_cost"], size, RENEWAL, MAIN,
            )  # fmt: skip
            sums = dict(zip(_MONEY, amounts, strict=True))
            sums["items"], sums["renewals"] = counted[0], counted[1]
        else:  # (an item-sized array per amount: only here, not with the kernel)
            sums = {
                m: np.zeros(size) + np.bincount(k_items, weights=amount, minlength=size)
                for m, amount in _money(it).items()
            }
            sums["items"] = np.bincount(k_items[item], minlength=size)
            sums["renewals"] = np.bincount(k_items[~item], minlength=size)
        k_sorted, code_sorted = k_items[by_cust], c_items[by_cust]
        sums["customers"] = distinct_per_key(k_sorted, c_sorted, size, compiled)
        sums["whole_customers"] = distinct_per_key(code_sorted, c_sorted, g, compiled)
        if level == "product":  # a product is in a check once: its purchases are its items
            pass
        elif level == "total":  # every check has one main item
            sums["purchases"] = (
                counted[2] if compiled else np.bincount(k_items[main], minlength=size)
            )
            sums["whole_purchases"] = np.bincount(c_items[main], minlength=g)
        elif items.together:  # a check's items are next to each other in customer order
            sums["purchases"] = distinct_per_key(k_sorted[in_check], check_rank, size, compiled)
            sums["whole_purchases"] = distinct_per_key(
                code_sorted[in_check], check_rank, g, compiled
            )
        else:
            sums["purchases"] = _distinct(k_items[item], check[item], size)
            sums["whole_purchases"] = _distinct(c_items[item], check[item], g)
        out[level] = sums
    return out


_MONEY = ("revenue", "gross_profit", "offer_cost")  # what `product_sums` adds up


def _money(it: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each item's amounts, in `_MONEY`'s order."""
    return {
        "revenue": it["revenue"],
        "gross_profit": it["revenue"] - it["cost_of_goods"] - it["reward"],
        "offer_cost": it["offer_cost"],
    }


def add_sums(parts: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """The product sums of several blocks as one, added in block order."""
    return {
        level: {k: sum((p[level][k] for p in parts[1:]), parts[0][level][k]) for k in sums}
        for level, sums in parts[0].items()
    }


def products_table(run: Run, sums: dict | None = None) -> pd.DataFrame:
    """products.csv: for the whole run (`period` total) and each month (30.4375 days, `period`
    0, 1, ...) and for each product, line, role and in total: see the module docstring.

    The rows it sums: the items (month, product, customer, check: `product_sums`, the run's
    own when `sums` is None), the delivered messages (month, the offer's product or line) and
    the days' acquisition cost (month, no product)."""
    sums = sums if sums is not None else product_sums(run)
    months = max(math.ceil(run.days / MONTH), 1)
    sent = run.recorder.messages.counts()  # delivered messages per day and send step
    site = sent["site"]
    nothing = len(run.policy.products)
    offer_p = np.array([s.offer_product for s in run.sites] + [-1], dtype=np.int64)
    offer_l = np.array([s.offer_line for s in run.sites] + [-1], dtype=np.int64)
    month = {
        "messages": np.clip(np.floor(sent["day"] / MONTH), 0, months - 1).astype(np.int64),
        "days": np.clip(np.floor(np.arange(run.days) / MONTH), 0, months - 1).astype(np.int64),
    }
    product = {
        "messages": np.where(offer_p >= 0, offer_p, nothing)[site],
        "days": np.full(run.days, nothing, dtype=np.int64),
    }
    channel_cost = np.array([c.cost for c in run.policy.channels] + [0.0])
    money = {
        "message_cost": ("messages", channel_cost[sent["channel"]] * sent["count"]),
        "acquisition_cost": ("days", run.recorder.daily["acquisition_cost"]),
    }
    frames = []
    for level, (names, code_of) in _codes(run).items():
        g = len(names)
        size = months * g
        mine = sums[level]
        code = {part: code_of[p] for part, p in product.items()}
        if level == "line":  # a line offer's messages count for the line
            line = np.where(offer_l >= 0, offer_l, -1)[site]
            code["messages"] = np.where(line >= 0, line, code["messages"])
        columns = {m: mine[m] for m in ("revenue", "gross_profit", "offer_cost")}
        for m, (part, amount) in money.items():
            key = month[part] * g + code[part]
            columns[m] = np.zeros(size) + np.bincount(key, weights=amount, minlength=size)
        columns["items"], columns["renewals"] = mine["items"], mine["renewals"]
        # the whole run: the months' sums, and its own distinct counts
        whole = {k: v.reshape(months, g).sum(axis=0) for k, v in columns.items()}
        columns["customers"], whole["customers"] = mine["customers"], mine["whole_customers"]
        if level == "product":  # a product is in a check once: its purchases are its items
            columns["purchases"], whole["purchases"] = columns["items"], whole["items"]
        else:
            columns["purchases"], whole["purchases"] = mine["purchases"], mine["whole_purchases"]
        frame = pd.DataFrame({k: np.concatenate([whole[k], columns[k]]) for k in columns})
        frame["month"] = np.repeat(np.arange(-1, months), g)
        frame["level"] = level
        frame["name"] = np.tile(np.array(names, dtype=object), months + 1)
        # `(none)` only where it has something
        empty = (frame[list(MONEY)] == 0).all(axis=1) & (frame["customers"] == 0)
        frames.append(frame[~((frame["name"] == NONE) & empty)])
    table = pd.concat(frames, ignore_index=True)
    order = {level: i for i, level in enumerate(LEVELS)}
    table = table.sort_values(
        ["month", "level"], key=lambda c: c.map(order) if c.name == "level" else c, kind="stable"
    )
    table["marketing_cost"] = table["message_cost"] + table["acquisition_cost"]
    table["contribution"] = table["gross_profit"] - table["marketing_cost"]
    month_of = table["month"].to_numpy()
    table["period"] = np.where(month_of < 0, "total", month_of.astype(str))
    first = np.ceil(month_of * MONTH).astype(np.int64)
    last = np.minimum(np.ceil((month_of + 1) * MONTH).astype(np.int64) - 1, run.days - 1)
    table["first_day"] = np.where(month_of < 0, 0, first)
    table["last_day"] = np.where(month_of < 0, run.days - 1, last)
    return table[list(COLUMNS)].reset_index(drop=True)


def check_counts(items: Items) -> dict:
    """What the check KPIs count in the run's items: checks, add-ons, checks with an add-on,
    and each paying customer's revenue (purchases and renewals, in order of id: `paid`). The
    counts of blocks add up; their `paid` are concatenated."""
    it = items.rows
    add_on = it["kind"] == ADD_ON
    with_add_on = np.zeros(it["kind"].size, dtype=bool)
    with_add_on[items.check[add_on]] = True
    paid = np.zeros(0)
    if it["customer"].size:
        customer = it["customer"]
        payers = np.bincount(customer) > 0  # the customers who paid, in order of id
        paid = np.bincount(customer, weights=it["revenue"])[payers]
    return {
        "checks": int((it["kind"] == MAIN).sum()),
        "add_ons": int(add_on.sum()),
        "with_add_on": int(with_add_on.sum()),
        "paid": paid,
    }


def check_kpis(
    run: Run, revenue: np.ndarray, items: Items | None = None
) -> dict[str, float | None]:
    """The KPIs of checks and of revenue per customer (`revenue`: each purchase's, any
    order); see `check_kpis_of`."""
    return check_kpis_of(check_counts(items or Items.of(run)), revenue)


def check_kpis_of(counts: dict, revenue: np.ndarray) -> dict[str, float | None]:
    """The KPIs of checks and of revenue per customer, from `check_counts` (one block's, or
    the blocks' added) and `revenue` (each purchase's, any order):

    - `items_per_check`: products per purchase, add-ons included (renewals are not checks);
    - `multi_item_share`: the share of purchases with more than one product in them;
    - `top_decile_check_share`: the share of purchase revenue from the largest 10% of checks
      (the ceiling of a tenth of them); 0.1 when every check is the same;
    - `revenue_gini`: the Gini coefficient of revenue per customer (purchases and renewals)
      among the customers who paid for anything in the run: 0 when every one paid the same,
      near 1 when one customer brought it all."""
    checks = counts["checks"]
    out: dict[str, float | None] = {
        "items_per_check": None,
        "multi_item_share": None,
        "top_decile_check_share": None,
        "revenue_gini": None,
    }
    if checks:
        out["items_per_check"] = (checks + counts["add_ons"]) / checks
        out["multi_item_share"] = counts["with_add_on"] / checks
    total = float(revenue.sum())
    if revenue.size and total > 0:
        # the largest tenth, summed largest first (the same order as a full sort)
        top_n = math.ceil(revenue.size / 10)
        top = np.sort(np.partition(revenue, revenue.size - top_n)[revenue.size - top_n :])[::-1]
        out["top_decile_check_share"] = float(top.sum()) / total
    if counts["paid"].size:
        per_customer = np.sort(counts["paid"])
        n, sum_ = per_customer.size, float(per_customer.sum())
        if sum_ > 0:
            rank = np.arange(1, n + 1)
            out["revenue_gini"] = float(((2 * rank - n - 1) * per_customer).sum() / (n * sum_))
    return out
