"""What the metrics read of the purchases, in one pass over them in customer order (by
customer, then time) for a run without an existing base: each purchase's number, each
customer's first and last purchase and count, the cohorts' counts, the customers active each
day and the stage goals' windows counted. partials.py, cohorts.py and stage_goals.py hold the
numpy path, which gives the same numbers (and takes an existing base's history too)."""

from __future__ import annotations

import math

import numpy as np

from ..core.compiled import kernel


@kernel
def purchase_pass(
    cust, time, stage, prior, n, days, month_days, active_days, low, high,
):  # fmt: skip
    """For the purchases (`cust`, `time`, `stage` after each: sorted by customer, then
    time) of `n` customers over `days` days, `prior` each customer's purchases before day 0:
    - `number`: each purchase's number (1 = first ever), 3 for the third and later;
    - `first`, `last`, `count` per customer (NaN, -inf, 0: none), and the customers with one;
    - the cohorts (cohorts.py): (customer, month since the first purchase) pairs per cohort
      and month (`table`, (months + 1) squared) and customers per cohort (`sizes`);
    - `active`: customers with a purchase in the last `active_days` days, each day;
    - the stage goals' windows (stage_goals.py: `low`, `high` each stage's goal, the last
      entry no stage) per stage and month of the opening purchase and outcome (met, early,
      late, censored): `goals`, (stages, months + 1, 4)."""
    months = math.ceil(days / month_days)
    size = cust.size
    number = np.empty(size, dtype=np.int8)
    first = np.full(n, np.nan)
    last = np.full(n, -np.inf)
    count = np.zeros(n, dtype=np.int64)
    table = np.zeros((months + 1) * (months + 1), dtype=np.int64)
    sizes = np.zeros(months + 1, dtype=np.int64)
    delta = np.zeros(days + 1, dtype=np.int64)
    goals = np.zeros((low.size - 1, months + 1, 4), dtype=np.int64)
    payers = 0
    within = 0
    cohort = 0
    last_month = 0
    for i in range(size):
        c = cust[i]
        t = time[i]
        new = i == 0 or c != cust[i - 1]
        same_next = i + 1 < size and cust[i + 1] == c
        if new:
            payers += 1
            within = 0
            first[c] = t
            cohort = math.floor(t / month_days)
            sizes[min(max(cohort, 0), months)] += 1
        within += 1
        number[i] = min(within + prior[c], 3)
        count[c] += 1
        if not same_next:
            last[c] = t
        # cohorts: a (customer, month) pair is new where either changes
        month = math.floor(t / month_days) - cohort
        if new or month != last_month:
            table[min(max(cohort, 0), months) * (months + 1) + min(max(month, 0), months)] += 1
        last_month = month
        # active: from the purchase's day to the next one's, at most `active_days`
        day = math.floor(t)
        end = day + active_days
        if same_next:
            end = min(end, math.floor(time[i + 1]))
        if end > day:
            delta[min(max(day, 0), days)] += 1
            delta[min(max(end, 0), days)] -= 1
        # the goal window the purchase opens in the stage it left the customer in
        s = stage[i]
        hi = high[s]
        if math.isfinite(hi) and t + hi >= 0:
            gap = (time[i + 1] if same_next else np.inf) - t
            outcome = 1 if gap < low[s] else 0 if gap <= hi else 2
            if t + hi > days:
                outcome = 3
            goals[s, math.floor(t / month_days), outcome] += 1
    active = np.cumsum(delta)[:days]
    return number, first, last, count, payers, table, sizes, active, goals
