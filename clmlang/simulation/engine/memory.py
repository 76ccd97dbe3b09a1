"""How much memory a run needs, estimated before anything is allocated, and hard size bounds.

The engine keeps one row per customer in numpy arrays (the starting customers and every
customer acquisition is expected to bring), logs that grow with the days simulated, and
daily outputs. A run needs about

    customers x (PER_CUSTOMER + PER_CUSTOMER_DAY x days + PER_NAME x (rules + attributes))
    + PER_DAY x days

bytes, where `customers` counts the expected acquisitions, and the terms are what the arrays
hold (measured on the shipped specs at the default market, 20,000 customers x 365 days,
2026-12-02; tests/test_memory_state.py bounds the state):

- PER_CUSTOMER: the state arrays that do not depend on the spec's names (160 B: traits and
  observable state, population.py), the other engine arrays (caps, message log, tallies: up
  to 100 B) and, at the end, the metrics' working copies of the customers (first and last
  purchase, counts: about 40 B) and of the logs (the items' order and checks, the purchases
  sorted by customer: about 450 B for ecommerce_cdp, tracemalloc at 50,000 customers);
- PER_CUSTOMER_DAY: the logs, as they grow by day: a purchase row is 36 B, an item row (a
  product of a check, a renewal) 47 B, a run of rule firings 10 B, once joined for the
  metrics; the shipped specs hold 0.6-1.7 B per customer-day then (ecommerce_cdp the most:
  1.3 of purchases and items, 0.4 of firing runs; 20,000 customers x 365 days, 2026-12-02),
  0.4-1.5 while the run lasts (recorder.py keeps its chunks narrowed and coded); the
  scenarios' markets were measured at up to 1.9 before the firings became runs;
- PER_NAME: a rule's arrays (a condition's edge, an anchor: 1-4 B each; a `reentry once`
  rule's last firing and a waiting node's deadline: 2 B) or an attribute's (8 B, 16 when it
  changes).

A run that would need more than the machine has available is refused before it starts,
naming what to lower.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...compile.policy import Policy
from ...market.model import MAX_CUSTOMERS, MAX_DAYS, MAX_REPLICATIONS, Market

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_DAYS",
    "MAX_REPLICATIONS",
    "available_bytes",
    "expected_customers",
    "run_bytes",
    "size_problem",
]

PER_CUSTOMER = 700  # state and engine arrays, the metrics' working copies (module docstring)
PER_CUSTOMER_DAY = 2.0  # purchase, item and firing-run logs, joined (measured: 0.6-1.9)
LOGS_PER_CUSTOMER_DAY = 3.0  # kept logs (`logs=True`): tables and file text (measured: 1.7)
PER_NAME = 16  # each rule's and attribute's own per-customer arrays
PER_DAY = 4096  # daily counters, stage counts and the daily tables built from them
MARGIN = 1.5  # the estimate is a mean; temporaries of a busy day come on top


def expected_customers(market: Market, customers: int, days: int) -> float:
    """The starting customers plus the acquisitions and prospects expected over `days` days."""
    arrival_days = market.acquisition.days_of(market.start_date, days)  # its calendar
    acquired = customers + market.acquisition.per_day * arrival_days
    if not market.prospects.active:
        return acquired
    return acquired + market.prospects.expected(acquired, days, arrival_days)


def run_bytes(
    policy: Policy, market: Market, customers: int, days: int, logs: bool = False
) -> float:
    """The memory one run is expected to need, in bytes (see the module docstring); `logs`:
    the run keeps its purchases and messages logs and writes them."""
    n = expected_customers(market, customers, days)
    # an attribute that changes keeps a second array (its growth, or its next switch)
    changing = sum(bool(m.growth or m.switches) for m in market.attributes.values())
    names = len(policy.rules) + len(policy.attributes) + changing
    per_day = PER_CUSTOMER_DAY + (LOGS_PER_CUSTOMER_DAY if logs else 0.0)
    per_customer = PER_CUSTOMER + per_day * days + PER_NAME * names
    return MARGIN * (n * per_customer + PER_DAY * days)


def available_bytes() -> int:
    """Memory this process may still use: MemAvailable, within a cgroup's limit if any."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(max(int(limit) - int(used), 0))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            return 1 << 62  # nothing to go by: do not refuse
    return min(found)


def size_problem(
    policy: Policy,
    market: Market,
    customers: int,
    days: int,
    *,
    copies: int = 1,
    names: dict[str, str] | None = None,
    available: int | None = None,
    logs: bool = False,
) -> str | None:
    """Why a run of this size cannot run here, or None when it fits.

    `copies`: runs held in memory at once (replications and variants running side by side).
    `names`: how the caller calls the settings (`customers`, `days`, `per_day`, `copies`),
    e.g. `{"customers": "--customers"}`, so the message names what the user can lower.
    """
    names = {
        "customers": "customers",
        "days": "days",
        "per_day": "market.acquisition.per_day",
        "copies": "",
        **(names or {}),
    }
    if market.acquisition.seasonal and names["per_day"] == "market.acquisition.per_day":
        names["per_day"] = "market.acquisition.per_day` or its `months`/`weeks"
    n = expected_customers(market, customers, days)
    arrival_days = market.acquisition.days_of(market.start_date, days)
    prospects = n - (customers + market.acquisition.per_day * arrival_days)
    if prospects > n / 2:  # the prospects make most of the run: name their biggest source
        names["per_day"] = _prospects_key(market, days)
    if n > MAX_CUSTOMERS:
        culprit = names["per_day"] if n > 2 * customers else names["customers"]
        return (
            f"a run would have about {n:,.0f} customers, more than the {MAX_CUSTOMERS:,} one run"
            f" can hold: lower `{culprit}`"
        )
    need = copies * run_bytes(policy, market, customers, days, logs)
    have = available_bytes() if available is None else available
    if need <= have:
        return None
    lower = [names["customers"], names["days"]]
    if n - customers > customers:
        lower.insert(0, names["per_day"])
    if copies > 1 and names["copies"]:
        lower.append(names["copies"])
    acquired = f" (with ~{n - customers:,.0f} acquired)" if n > customers else ""
    runs = f" x {copies} runs at once" if copies > 1 else ""
    return (
        f"{customers:,} customers{acquired} over {days:,} days{runs} need about "
        f"{_size(need)} of memory; {_size(have)} is available: lower "
        + ", ".join(f"`{x}`" for x in lower[:-1])
        + f" or `{lower[-1]}`"
    )


def _prospects_key(market: Market, days: int) -> str:
    """The market key that brings the most prospects: a source's rate or list, or referrals."""
    keys = {"market.prospects.referrals.per_day": market.prospects.expected(0, days)}
    keys["market.prospects.referrals.per_day"] -= sum(
        s.at_start + s.per_day * days for s in market.prospects.sources.values()
    )
    for name, s in market.prospects.sources.items():
        keys[f"market.prospects.sources.{name}.per_day"] = s.per_day * days
        keys[f"market.prospects.sources.{name}.at_start"] = s.at_start
    return max(keys, key=lambda k: keys[k])


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n:,.0f} B"
        n /= 1024
    return f"{n:,.1f} TiB"
