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

import numpy as np
import pandas as pd

from .cohorts import MONTH
from .engine import Run
from .engine.recorder import ITEM_KINDS

__all__ = ["ROLES", "check_kpis", "products_table"]

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


def _events(run: Run) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[slice, np.ndarray]]]]:
    """The items, and the messages' costs (a row per day and send step) and acquisition's, as
    columns: month, product (-1: none), line of a line offer (-1: the product's), customer
    (-1), time, kind (-1: a cost); and the money, per column as (rows, amounts) for the rows
    that carry it (no column of zeros the length of the whole: the items alone can be
    millions)."""
    rec, policy = run.recorder, run.policy
    it = rec.items.arrays()
    sent = rec.messages.counts()  # delivered messages per day and send step
    cost = np.array([c.cost for c in policy.channels] + [0.0])[sent["channel"]] * sent["count"]
    offer_p = np.array([s.offer_product for s in run.sites] + [-1], dtype=np.int32)
    offer_l = np.array([s.offer_line for s in run.sites] + [-1], dtype=np.int32)
    site = sent["site"]
    acquisition = rec.daily["acquisition_cost"]
    n_items, n_sent, n_days = it["customer"].size, site.size, acquisition.size
    items, messages = slice(0, n_items), slice(n_items, n_items + n_sent)
    days = slice(n_items + n_sent, n_items + n_sent + n_days)
    none = np.full(n_sent + n_days, -1, dtype=np.int32)
    columns = {
        "month": np.concatenate(
            [
                np.floor(np.floor(it["time"]) / MONTH),
                np.floor(sent["day"] / MONTH),
                np.floor(np.arange(n_days) / MONTH),
            ]
        ).astype(np.int32),
        "product": np.concatenate(
            [it["product"].astype(np.int32), offer_p[site], np.full(n_days, -1, np.int32)]
        ),
        "offer_line": np.concatenate(
            [np.full(n_items, -1, np.int32), offer_l[site], np.full(n_days, -1, np.int32)]
        ),
        "customer": np.concatenate([it["customer"].astype(np.int32), none]),
        "time": np.concatenate([it["time"], np.zeros(n_sent + n_days)]),
        "kind": np.concatenate([it["kind"].astype(np.int32), none]),
    }
    money = {
        "revenue": [(items, it["revenue"])],
        "gross_profit": [(items, it["revenue"] - it["cost_of_goods"] - it["reward"])],
        "offer_cost": [(items, it["offer_cost"])],
        "message_cost": [(messages, cost)],
        "acquisition_cost": [(days, acquisition)],
    }
    return columns, money


def _check_ids(customer: np.ndarray, time: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Each item's check: the index of the check's main item (a check is its customer and
    time); -1 for renewals and costs."""
    out = np.where(kind == MAIN, np.arange(kind.size), -1)
    rows = np.flatnonzero((kind == MAIN) | (kind == ADD_ON))
    # in (customer, time, kind) order, a check's add-ons come right after its main item
    rows = rows[np.lexsort((kind[rows], time[rows], customer[rows]))]
    at = np.arange(rows.size)
    latest_main = np.maximum.accumulate(np.where(kind[rows] == MAIN, at, 0))
    out[rows] = rows[latest_main]
    return out


def _distinct(key: np.ndarray, value: np.ndarray, size: int) -> np.ndarray:
    """How many distinct `value`s (integers >= 0) each key (0..size-1) has."""
    if not key.size:
        return np.zeros(size, dtype=np.int64)
    span = int(value.max()) + 1
    pairs = np.sort(
        key.astype(np.int64) * span + value
    )  # int64: keys x customers is large  # sorting: numpy's hashing unique is slower here
    first = np.r_[True, pairs[1:] != pairs[:-1]]
    return np.bincount(pairs[first] // span, minlength=size)


def products_table(run: Run) -> pd.DataFrame:
    """products.csv: for the whole run (`period` total) and each month (30.4375 days, `period`
    0, 1, ...) and for each product, line, role and in total: see the module docstring."""
    months = max(math.ceil(run.days / MONTH), 1)
    ev, money = _events(run)
    product = np.where(ev["product"] >= 0, ev["product"], len(run.policy.products))
    month = np.clip(ev["month"], 0, months - 1)
    bought = ev["kind"] >= 0
    item = bought & (ev["kind"] != RENEWAL)
    check = _check_ids(ev["customer"], ev["time"], ev["kind"])
    frames = []
    for level, (names, code_of) in _codes(run).items():
        g = len(names)
        code = code_of[product]
        if level == "line":  # a line offer's messages count for the line
            code = np.where(ev["offer_line"] >= 0, ev["offer_line"], code)
        size = months * g
        key = month * g + code
        columns = {
            m: sum(
                (np.bincount(key[rows], weights=amount, minlength=size) for rows, amount in parts),
                np.zeros(size),
            )
            for m, parts in money.items()
        }
        columns["items"] = np.bincount(key[item], minlength=size)
        columns["renewals"] = np.bincount(key[bought & ~item], minlength=size)
        # the whole run: the months' sums, and its own distinct counts
        whole = {k: v.reshape(months, g).sum(axis=0) for k, v in columns.items()}
        columns["customers"] = _distinct(key[bought], ev["customer"][bought], size)
        whole["customers"] = _distinct(code[bought], ev["customer"][bought], g)
        if level == "product":  # a product is in a check once: its purchases are its items
            columns["purchases"], whole["purchases"] = columns["items"], whole["items"]
        elif level == "total":  # every check has one main item
            main = ev["kind"] == MAIN
            columns["purchases"] = np.bincount(key[main], minlength=size)
            whole["purchases"] = np.bincount(code[main], minlength=g)
        else:
            columns["purchases"] = _distinct(key[item], check[item], size)
            whole["purchases"] = _distinct(code[item], check[item], g)
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
    month = table["month"].to_numpy()
    table["period"] = np.where(month < 0, "total", month.astype(str))
    first = np.ceil(month * MONTH).astype(np.int64)
    last = np.minimum(np.ceil((month + 1) * MONTH).astype(np.int64) - 1, run.days - 1)
    table["first_day"] = np.where(month < 0, 0, first)
    table["last_day"] = np.where(month < 0, run.days - 1, last)
    return table[list(COLUMNS)].reset_index(drop=True)


def check_kpis(run: Run, revenue: np.ndarray) -> dict[str, float | None]:
    """The KPIs of checks and of revenue per customer (`revenue`: each purchase's, any order):

    - `items_per_check`: products per purchase, add-ons included (renewals are not checks);
    - `multi_item_share`: the share of purchases with more than one product in them;
    - `top_decile_check_share`: the share of purchase revenue from the largest 10% of checks
      (the ceiling of a tenth of them); 0.1 when every check is the same;
    - `revenue_gini`: the Gini coefficient of revenue per customer (purchases and renewals)
      among the customers who paid for anything in the run: 0 when every one paid the same,
      near 1 when one customer brought it all."""
    it = run.recorder.items.arrays()
    checks = int((it["kind"] == ITEM_KINDS.index("main")).sum())
    add_on = it["kind"] == ITEM_KINDS.index("add_on")
    out: dict[str, float | None] = {
        "items_per_check": None,
        "multi_item_share": None,
        "top_decile_check_share": None,
        "revenue_gini": None,
    }
    if checks:
        out["items_per_check"] = (checks + int(add_on.sum())) / checks
        joined = np.unique(np.stack([it["customer"][add_on], it["time"][add_on]]), axis=1)
        out["multi_item_share"] = joined.shape[1] / checks
    total = float(revenue.sum())
    if revenue.size and total > 0:
        top = np.sort(revenue)[::-1][: math.ceil(revenue.size / 10)]
        out["top_decile_check_share"] = float(top.sum()) / total
    if it["customer"].size:
        paid = np.unique(it["customer"], return_inverse=True)[1]
        per_customer = np.sort(np.bincount(paid, weights=it["revenue"]))
        n, sum_ = per_customer.size, float(per_customer.sum())
        if sum_ > 0:
            rank = np.arange(1, n + 1)
            out["revenue_gini"] = float(((2 * rank - n - 1) * per_customer).sum() / (n * sum_))
    return out
