"""The calendar of arrivals (`[market.acquisition] months`, `weeks`): multipliers on the
rate of new customers (`acquisition.per_day`) and of each prospect source's contacts, and the
time in which a prospect's own wait to convert runs (docs/model.md, "Population and
acquisition")."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

import clmlang
from clmlang.market.model import market_from_mapping

from .conftest import ROOT, clm

SPEC = 'program "Arrivals"\nstage all when purchases >= 0\n'
MONTHS = {2: 0.0, 3: 3.0, 7: 0.5}
WEEKS = {20: 2.0}  # ISO week 20 of 2026: 11-17 May


def _multiplier(day: dt.date) -> float:
    """The calendar's multiplier on a day, from its definition (month x ISO week)."""
    return MONTHS.get(day.month, 1.0) * WEEKS.get(day.isocalendar()[1], 1.0)


def _daily(market: dict, customers: int = 1, days: int = 365, seed: int = 4) -> pd.DataFrame:
    market = {"start_date": "2026-01-01", **market}
    run = clmlang.simulate(
        clmlang.loads(SPEC), market_from_mapping(market), customers=customers, days=days, rng=seed
    )
    return run.daily.assign(month=pd.to_datetime(run.daily["date"]).dt.month)


def _expected_by_month(per_day: float, days: int = 365) -> pd.Series:
    start = dt.date(2026, 1, 1)
    dates = [start + dt.timedelta(days=d) for d in range(days)]
    rates = pd.Series([per_day * _multiplier(d) for d in dates], index=[d.month for d in dates])
    return rates.groupby(level=0).sum()


def test_acquired_customers_arrive_by_the_calendar():
    """20 new customers a day, none in February, x3 in March, x0.5 in July, x2 in ISO week
    20: each month's arrivals (first purchases, the one starting customer aside) are Poisson
    with mean 20 x the sum of the month's multipliers, within 4 standard errors."""
    daily = _daily({"acquisition": {"per_day": 20.0, "months": MONTHS, "weeks": WEEKS}})
    arrived = daily["new_customers"].to_numpy().copy()
    arrived[0] -= 1  # the starting customer's first purchase
    seen = pd.Series(arrived, index=daily["month"]).groupby(level=0).sum()
    expected = _expected_by_month(20.0)
    assert seen[2] == 0
    for month, mean in expected.items():
        assert abs(seen[month] - mean) < 4 * math.sqrt(mean) + 1e-9, (month, seen[month], mean)
    assert seen[3] > 2.5 * seen[1]


def test_a_prospect_sources_contacts_arrive_by_the_calendar():
    """A source of 30 contacts a day who never convert, under the same calendar, and the
    acquisition column of the same plan at 10 a day: each month's counts against 30 (10) x
    the month's multipliers, within 4 Poisson standard errors."""
    market = {
        "acquisition": {"per_day": 10.0, "months": MONTHS, "weeks": WEEKS},
        "prospects": {"sources": {"web": {"per_day": 30.0, "convert": 0.0, "dropout": 0.1}}},
    }
    daily = _daily(market)
    by_month = daily.groupby("month")
    contacts, acquired = by_month["prospect_arrivals"].sum(), by_month["new_customers"].sum()
    acquired[1] -= 1
    for per_day, seen in ((30.0, contacts), (10.0, acquired)):
        for month, mean in _expected_by_month(per_day).items():
            assert abs(seen[month] - mean) < 4 * math.sqrt(mean) + 1e-9, (month, seen[month])


def test_a_prospects_wait_to_convert_runs_in_the_calendar():
    """4,000 contacts on the list on day 0, converting at 0.01 a day in calendar time and
    never leaving: the share converted by the end of day t is 1 - exp(-0.01 I(t)), I the
    integral of the multipliers (none in February, x3 in March ...); each month's conversions
    are the difference, within 4 binomial standard errors."""
    n, rate = 4000, 0.01
    market = {
        "acquisition": {"months": MONTHS, "weeks": WEEKS},
        "prospects": {"sources": {"list": {"at_start": n, "convert": rate, "dropout": 0.0}}},
    }
    daily = _daily(market, customers=1, days=365)
    seen = daily.groupby("month")["conversions"].sum()
    start = dt.date(2026, 1, 1)
    m = np.array([_multiplier(start + dt.timedelta(days=d)) for d in range(365)])
    # the list comes at a uniform time of day 0: half of day 0's multiplier on average
    integral = np.cumsum(m) - m[0] / 2
    converted = 1 - np.exp(-rate * integral)  # by the end of each day
    months = np.array([(start + dt.timedelta(days=d)).month for d in range(365)])
    before = 0.0
    assert seen[2] == 0
    for month in range(1, 13):
        by_end = converted[months == month][-1]
        p = by_end - before
        mean, se = n * p, math.sqrt(n * p * (1 - p))
        assert abs(seen[month] - mean) < 4 * se + 1.0, (month, seen[month], mean)
        before = by_end


def test_without_a_calendar_the_arrivals_are_the_same_draws():
    """Empty `months` and `weeks` are no calendar: the same arrivals, day by day."""
    flat = _daily({"acquisition": {"per_day": 7.0}}, days=60)
    empty = _daily({"acquisition": {"per_day": 7.0, "months": {}, "weeks": {}}}, days=60)
    assert flat["new_customers"].tolist() == empty["new_customers"].tolist()


def test_a_bad_month_of_arrivals_is_clm200(tmp_path):
    """Month 13: CLM200 at the key's line, with the range."""
    path = tmp_path / "s.toml"
    path.write_text(
        "[simulation]\ncustomers = 5\ndays = 5\n\n[market.acquisition]\nper_day = 1.0\n"
        "months = { 13 = 2.0 }\n",
        encoding="utf-8",
    )
    done = clm("simulate", "specs/clinic.clm", "--scenario", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error[CLM200]: market.acquisition.months: " in done.stderr
    assert "numbered 1 to 12, not 13" in done.stderr


def test_the_run_is_sized_for_the_calendars_arrivals():
    """The memory check expects per_day x the sum of the multipliers: 10 a day at x3 all
    year is 10,950 arrivals over 365 days, and a source's 4 a day at x3 another 4,380."""
    from clmlang.simulation.engine.memory import expected_customers

    every_month = {m: 3.0 for m in range(1, 13)}
    market = market_from_mapping({"acquisition": {"per_day": 10.0, "months": every_month}})
    assert expected_customers(market, 100, 365) == 100 + 10 * 3 * 365
    market = market_from_mapping(
        {
            "acquisition": {"per_day": 10.0, "months": every_month},
            "prospects": {"sources": {"web": {"per_day": 4.0}}},
        }
    )
    assert expected_customers(market, 100, 365) == 100 + 10 * 3 * 365 + 4 * 3 * 365


def test_a_run_too_big_for_its_calendar_names_the_calendar():
    """Arrivals a month's multiplier makes too many: the message says what to lower."""
    from clmlang.simulation.engine.memory import size_problem

    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    market = market_from_mapping({"acquisition": {"per_day": 10.0, "months": {1: 1e20}}})
    problem = size_problem(policy, market, 1000, 365)
    assert problem is not None
    assert "lower `market.acquisition.per_day` or its `months`/`weeks`" in problem
