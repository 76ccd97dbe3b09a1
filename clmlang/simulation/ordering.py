"""Orders of the run's logs that the metrics need, without a general sort where the logs'
own order gives most of it.

The engine records purchases day by day, so a customer's rows already follow each other in
time: a stable sort by customer alone (one key, not two) puts the log in (customer, time)
order, checked in one pass (a log that breaks it falls back to the two-key sort). Within a
customer, the rows keep the order they were logged in, which also keeps a check's rows (its
main product, then its add-ons: `engine/checks.py`) together.
"""

from __future__ import annotations

import numpy as np

__all__ = ["by_customer", "distinct_per_key", "gathered_by_customer"]


def by_customer(
    customer: np.ndarray, time: np.ndarray | None = None, compiled: bool = False
) -> np.ndarray:
    """The rows' order by customer, then (when given) time; equal rows keep their order.
    `compiled`: by a counting sort (ordering_kernels.py), the same order."""
    if compiled and customer.size:
        from .ordering_kernels import customer_order

        order = customer_order(customer, int(customer.max()) + 1)
    else:
        order = np.argsort(customer, kind="stable")
    if time is None or customer.size < 2:
        return order
    c, t = customer[order], time[order]
    if ((c[1:] != c[:-1]) | (t[1:] >= t[:-1])).all():
        return order
    return np.lexsort((time, customer))


def gathered_by_customer(
    columns: dict[str, np.ndarray], keys: tuple[str, ...], compiled: bool = False
) -> dict[str, np.ndarray]:
    """The columns `keys` of a log with `customer` and `time` columns, in `by_customer`'s
    order (by customer, then time), each gathered once: the order by customer alone is
    checked on the gathered columns, and only a log it does not put in time order is
    gathered again by both keys."""
    customer, time = columns["customer"], columns["time"]
    order = by_customer(customer, None, compiled)
    out = {k: columns[k][order] for k in keys}
    c = out["customer"] if "customer" in out else customer[order]
    t = out["time"] if "time" in out else time[order]
    if c.size < 2 or ((c[1:] != c[:-1]) | (t[1:] >= t[:-1])).all():
        return out
    order = np.lexsort((time, customer))
    return {k: columns[k][order] for k in keys}


def distinct_per_key(
    key: np.ndarray, group: np.ndarray, size: int, compiled: bool = False
) -> np.ndarray:
    """How many distinct groups each key (0..size-1) has, for rows in order of group (`group`
    nondecreasing, as the customers of rows ordered by customer): sorting (group, key) is
    then sorting the few rows of each group, which a stable sort does in close to one pass.
    `compiled`: in one pass without the sort (ordering_kernels.py), the same counts."""
    if not key.size:
        return np.zeros(size, dtype=np.int64)
    if compiled:
        from .ordering_kernels import distinct_in_groups

        return distinct_in_groups(key, group, size)
    pairs = np.sort(group.astype(np.int64) * size + key, kind="stable")
    first = np.r_[True, pairs[1:] != pairs[:-1]]
    return np.bincount(pairs[first] % size, minlength=size)
