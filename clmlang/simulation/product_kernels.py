"""products.csv's sums and the check KPIs' counts in two passes over the items, every level
at once (economics.py holds the numpy path, which gives the same numbers): the money in the
items' log order (the float sums numpy's weighted `bincount` makes, to the byte), the
distinct customers and checks in customer order (a key counts a customer, or a check, the
first time it meets it)."""

from __future__ import annotations

import math

import numpy as np

from ..core.compiled import kernel
from .cohorts import MONTH
from .economics import ADD_ON, MAIN, RENEWAL, Items, _codes, check_counts, product_sums
from .engine import Run
from .ordering_kernels import add_row, count_first


@kernel
def _month(time, month_days, months):
    """A time's month (`month_days` long), clipped to 0..months-1."""
    m = math.floor(math.floor(time) / month_days)
    return min(max(m, 0), months - 1)


@kernel
def item_sums(
    customer, time, product, kind, revenue, cost_of_goods, reward, offer_cost,
    order, codes, groups, months, month_days, main, add_on, renewal,
):  # fmt: skip
    """Per level (`codes[level, product]`: each product's group, the last column no product;
    `groups[level]`: the level's groups) and per key `month * groups + group` (the levels'
    keys one after the other, `offsets`): the money (revenue, gross profit, offer cost), the
    items (not renewals), renewals and main items, in the rows' order; the distinct
    customers per key and per group over the whole run, and the distinct checks (a check:
    a main item and the add-ons after it, `order` keeping a check's items together, by
    customer); the checks, add-ons, checks with an add-on, and each paying customer's
    revenue (in order of id)."""
    levels = groups.size
    offsets = np.zeros(levels + 1, dtype=np.int64)
    whole_offsets = np.zeros(levels + 1, dtype=np.int64)
    for level in range(levels):
        offsets[level + 1] = offsets[level] + months * groups[level]
        whole_offsets[level + 1] = whole_offsets[level] + groups[level]
    size = offsets[levels]
    money = np.zeros((3, size))
    counts = np.zeros((3, size), dtype=np.int64)
    nothing = codes.shape[1] - 1
    n = customer.size
    # each row's month, product and kind in one number (month << 16 | product << 2 | kind)
    cell = np.empty(n, dtype=np.int32)
    for i in range(n):
        month = _month(time[i], month_days, months)
        p = product[i] if product[i] >= 0 else nothing
        cell[i] = (month << 16) | (p << 2) | kind[i]
        gross = revenue[i] - cost_of_goods[i] - reward[i]
        for level in range(levels):
            k = offsets[level] + month * groups[level] + codes[level, p]
            add_row(money, counts, k, revenue[i], gross, offer_cost[i], kind[i], renewal, main)
    # the rows in customer order, gathered first (a tight loop: the loads overlap)
    by_customer = np.empty(n, dtype=customer.dtype)
    by_cell = np.empty(n, dtype=np.int32)
    by_revenue = np.empty(n)
    for j in range(n):
        i = order[j]
        by_customer[j] = customer[i]
        by_cell[j] = cell[i]
        by_revenue[j] = revenue[i]
    customers = np.zeros(size, dtype=np.int64)
    purchases = np.zeros(size, dtype=np.int64)
    whole_customers = np.zeros(whole_offsets[levels], dtype=np.int64)
    whole_purchases = np.zeros(whole_offsets[levels], dtype=np.int64)
    last_customer = np.full(size, -1, dtype=np.int64)
    last_check = np.full(size, -1, dtype=np.int64)
    whole_customer = np.full(whole_offsets[levels], -1, dtype=np.int64)
    whole_check = np.full(whole_offsets[levels], -1, dtype=np.int64)
    checks = 0
    add_ons = 0
    with_add_on = 0
    last_with = -1
    check = 0  # the checks met so far, in `order`: the current check's number
    paid = np.zeros(n)
    payers = 0
    for j in range(n):
        c = by_customer[j]
        if j == 0 or c != by_customer[j - 1]:
            payers += 1
        paid[payers - 1] += by_revenue[j]
        what = by_cell[j]
        kind_j = what & 3
        p = (what >> 2) & 0x3FFF
        month = what >> 16
        in_check = kind_j != renewal
        if kind_j == main:
            check += 1
            checks += 1
        elif kind_j == add_on:
            add_ons += 1
            if last_with != check:
                last_with = check
                with_add_on += 1
        for level in range(levels):
            k = offsets[level] + month * groups[level] + codes[level, p]
            w = whole_offsets[level] + codes[level, p]
            count_first(last_customer, customers, k, c)
            count_first(whole_customer, whole_customers, w, c)
            if in_check:
                count_first(last_check, purchases, k, check)
                count_first(whole_check, whole_purchases, w, check)
    return (
        money, counts, customers, whole_customers, purchases, whole_purchases,
        np.array([checks, add_ons, with_add_on]), paid[:payers],
    )  # fmt: skip


def checks_and_products(run: Run, items: Items) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """`check_counts` and `product_sums` of the run's items: on the compiled path, when a
    check's items are together in customer order, in two passes over the items for every
    level at once (`item_sums` above: the same numbers; up to 16,383 products), else each on
    its own."""
    fits = len(run.policy.products) < (1 << 14) - 1  # the kernel's row code holds the product
    if not (items.compiled and items.together and items.check.size and fits):
        return check_counts(items), product_sums(run, items)
    it, levels = items.rows, _codes(run)
    months = max(math.ceil(run.days / MONTH), 1)
    groups = np.array([len(names) for names, _ in levels.values()], dtype=np.int64)
    codes = np.stack([code for _, code in levels.values()])
    money, counted, customers, whole_customers, purchases, whole_purchases, checks, paid = (
        item_sums(
            it["customer"], it["time"], it["product"], it["kind"], it["revenue"],
            it["cost_of_goods"], it["reward"], it["offer_cost"], items.order, codes, groups,
            months, MONTH, MAIN, ADD_ON, RENEWAL,
        )
    )  # fmt: skip
    out, at, whole_at = {}, 0, 0
    for level, g in zip(levels, groups.tolist(), strict=True):
        mine, whole = slice(at, at + months * g), slice(whole_at, whole_at + g)
        sums = {
            m: money[row, mine] for row, m in enumerate(("revenue", "gross_profit", "offer_cost"))
        }
        sums["items"], sums["renewals"] = counted[0, mine], counted[1, mine]
        sums["customers"], sums["whole_customers"] = customers[mine], whole_customers[whole]
        if level != "product":
            sums["purchases"], sums["whole_purchases"] = purchases[mine], whole_purchases[whole]
        out[level] = sums
        at, whole_at = at + months * g, whole_at + g
    counts = dict(zip(("checks", "add_ons", "with_add_on"), checks.tolist(), strict=True))
    return {**counts, "paid": paid}, out
