"""The day's bookkeeping computed incrementally, against its definition: the count of active
customers (population.ActiveBuyers) and a dated attribute's anniversaries (timers.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from clmlang.simulation.engine.population import ActiveBuyers, State
from clmlang.simulation.engine.timers import Timers


def test_active_buyers_count_as_defined_day_after_day():
    """Alive and with a purchase among the arrived rows, each day of a random history where
    rows arrive, buy and drop out and come back (a purchase count only grows)."""
    rng = np.random.default_rng(7)
    n = 2000
    state = State(
        n=n,
        arrival=np.zeros(n),
        acquired=np.zeros(n, dtype=bool),
        audience=np.full(n, -1, dtype=np.int16),
        rate=np.ones(n),
        dropout=np.zeros(n),
        spend=np.ones(n),
        reachable=np.zeros(n, dtype=np.uint64),
        control=np.zeros(n, dtype=bool),
        attributes={},
    )
    active, arrived = ActiveBuyers(), 0
    for _ in range(60):
        arrived = min(n, arrived + int(rng.integers(0, 90)))
        buyers = rng.integers(0, max(arrived, 1), 40)[: arrived and 40]
        state.purchases[buyers] += 1
        state.alive[rng.integers(0, n, 30)] = False
        state.alive[rng.integers(0, n, 20)] = True
        expected = np.count_nonzero(state.alive[:arrived] & (state.purchases[:arrived] > 0))
        assert active.count(state, arrived) == expected


class _Start(Timers):
    start_date = dt.date(2027, 1, 10)


def _by_hand(offset: int, year: int) -> int:
    """The anniversary with Python's dates: the same month and day `year` years after the
    run's start year, 29 February on 28 February in a common year."""
    start = _Start.start_date
    date = start + dt.timedelta(days=offset)
    target_year = start.year + year
    day = date.day
    if date.month == 2 and day == 29 and not _leap(target_year):
        day = 28
    return (dt.date(target_year, date.month, day) - start).days


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@pytest.mark.parametrize("wide", [False, True])
def test_anniversaries_as_by_hand(wide):
    """Dates a few years back (a table of their distinct days), or spread over centuries
    (each converted), missing ones staying missing; 29 February in leap and common years."""
    rng = np.random.default_rng(3)
    span = 80_000 if wide else 1_500
    dates = -np.floor(rng.random(4000) * span)  # narrow: more dates than days
    leap_day = (dt.date(2024, 2, 29) - _Start.start_date).days
    dates[:3] = [leap_day, leap_day - 365 * 4 - 1, np.nan]
    for year in (0, 1, 2, 3):
        got = _Start()._anniversary(dates, year)
        assert np.isnan(got[2])
        ok = np.isfinite(dates)
        expected = [_by_hand(int(x), year) for x in dates[ok]]
        assert got[ok].tolist() == expected
