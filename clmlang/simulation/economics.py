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

from .engine import Run
from .engine.recorder import ITEM_KINDS

__all__ = ["ROLES", "check_kpis", "products_table"]

MONTH = 30.4375
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
RENEWAL = ITEM_KINDS.index("renewal")


def _ledger(run: Run) -> pd.DataFrame:
    """One row per item, per (month, send step) of messages and per month of acquisition."""
    policy, rec = run.policy, run.recorder
    products = list(policy.products)
    names = np.array([p.name for p in products] + [NONE], dtype=object)
    lines = np.array([p.line or NONE for p in products] + [NONE], dtype=object)
    roles = np.array([p.role for p in products] + [NONE], dtype=object)
    it = rec.items.arrays()
    p = np.where(it["product"] >= 0, it["product"], len(products)).astype(np.int64)
    items = pd.DataFrame(
        {
            "month": np.floor(np.floor(it["time"]) / MONTH).astype(np.int64),
            "customer": it["customer"].astype(np.int64),
            "time": it["time"],
            "kind": it["kind"].astype(np.int64),
            "product": names[p],
            "line": lines[p],
            "role": roles[p],
            "revenue": it["revenue"],
            "gross_profit": it["revenue"] - it["cost_of_goods"] - it["reward"],
            "offer_cost": it["offer_cost"],
        }
    )
    sent = rec.messages.arrays()
    cost = np.array([c.cost for c in policy.channels] + [0.0])[sent["channel"]]
    month = np.floor(sent["day"] / MONTH).astype(np.int64)
    by = pd.DataFrame({"month": month, "site": sent["site"], "cost": cost})
    by = by.groupby(["month", "site"], as_index=False)["cost"].sum()
    offer_p = np.array([s.offer_product for s in run.sites] + [-1], dtype=np.int64)
    offer_l = np.array([s.offer_line for s in run.sites] + [-1], dtype=np.int64)
    site = by["site"].to_numpy(dtype=np.int64)
    op = np.where(offer_p[site] >= 0, offer_p[site], len(products))
    line_names = np.array([*policy.lines, NONE], dtype=object)
    ol = offer_l[site]
    messages = pd.DataFrame(
        {
            "month": by["month"].to_numpy(),
            "product": names[op],
            "line": np.where(ol >= 0, line_names[ol], lines[op]),
            "role": roles[op],
            "message_cost": by["cost"].to_numpy(),
        }
    )
    acquisition = run.recorder.daily["acquisition_cost"]
    day = np.arange(acquisition.size)
    spent = pd.DataFrame(
        {"month": np.floor(day / MONTH).astype(np.int64), "acquisition_cost": acquisition}
    )
    spent = spent.groupby("month", as_index=False)["acquisition_cost"].sum()
    spent = spent.assign(product=NONE, line=NONE, role=NONE)
    return pd.concat([items, messages, spent], ignore_index=True)


def products_table(run: Run) -> pd.DataFrame:
    """products.csv: for the whole run (`period` total) and each month (30.4375 days, `period`
    0, 1, ...) and for each product, line, role and in total: see the module docstring."""
    ledger = _ledger(run)
    months = max(math.ceil(run.days / MONTH), 1)
    whole = ledger.assign(month=-1)
    frames = []
    for level in LEVELS:
        key = "level" if level == "total" else level
        for part in (whole, ledger):
            frames.append(_grouped(part.assign(level="total") if level == "total" else part, key))
    return _complete(run, pd.concat(frames, ignore_index=True), months)


def _grouped(part: pd.DataFrame, key: str) -> pd.DataFrame:
    """The sums and counts of `part` by (month, `key`)."""
    level = "total" if key == "level" else key
    money = part.groupby(["month", key])[list(MONEY)].sum(min_count=1).fillna(0.0)
    bought = part[part["kind"].notna()]
    checks = bought[bought["kind"] != RENEWAL]
    counts = pd.DataFrame(
        {
            "purchases": checks.drop_duplicates(["month", key, "customer", "time"])
            .groupby(["month", key])
            .size(),
            "items": checks.groupby(["month", key]).size(),
            "renewals": bought[bought["kind"] == RENEWAL].groupby(["month", key]).size(),
            "customers": bought.groupby(["month", key])["customer"].nunique(),
        }
    )
    out = money.join(counts, how="outer").fillna(0.0).reset_index()
    out = out.rename(columns={key: "name"})
    out["level"] = level
    return out


def _complete(run: Run, table: pd.DataFrame, months: int) -> pd.DataFrame:
    """Every declared product, line and role in every period (zeros where nothing happened),
    `(none)` where it has anything, in the spec's order; the derived columns."""
    policy = run.policy
    sold = [p for p in policy.products if p.role in ROLES]
    names = {
        "product": [p.name for p in sold],
        "line": list(policy.lines),
        "role": [r for r in ROLES if any(p.role == r for p in sold)],
        "total": ["total"],
    }
    rows = []
    for month in range(-1, months):
        for level in LEVELS:
            present = set(table.loc[(table["month"] == month) & (table["level"] == level), "name"])
            for name in names[level] + ([NONE] if NONE in present else []):
                rows.append((month, level, name))
    frame = pd.DataFrame(rows, columns=["month", "level", "name"])
    frame = frame.merge(table, on=["month", "level", "name"], how="left").fillna(0.0)
    for column in ("purchases", "items", "renewals", "customers"):
        frame[column] = frame[column].astype(np.int64)
    frame["marketing_cost"] = frame["message_cost"] + frame["acquisition_cost"]
    frame["contribution"] = frame["gross_profit"] - frame["marketing_cost"]
    month = frame["month"].to_numpy()
    frame["period"] = np.where(month < 0, "total", month.astype(str))
    first = np.ceil(month * MONTH).astype(np.int64)
    last = np.minimum(np.ceil((month + 1) * MONTH).astype(np.int64) - 1, run.days - 1)
    frame["first_day"] = np.where(month < 0, 0, first)
    frame["last_day"] = np.where(month < 0, run.days - 1, last)
    return frame[list(COLUMNS)]


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
