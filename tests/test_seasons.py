"""Demand by calendar: month and week multipliers scale the purchase rate and the choice."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.market.model import market_from_mapping

FLAT = """program "Flat year" currency USD
channel email cost 0.1
stage one "One visit" when purchases <= 1
stage regular when purchases >= 2
product tyres role profit price 100 cost 60 line fitting every 6 months
product wipers role profit price 12 cost 5 every 3 months
product alignment role upsell price 40 cost 10 attach to tyres
rule reminder {
  on 150 days after purchase of tyres
  send email "Time for a change" offer tyres discount 10%
}
"""
FLAT_MARKET = {"buying": {"r": 1.0, "alpha": 60.0}, "products": {"wipers": {"weight": 0.5}}}
# sha256 of the KEPT outputs of FLAT under FLAT_MARKET (3,000 customers, 400 days, seed 11),
# rules.csv without the columns that count an offer (OFFER_COLUMNS): the draws of the code
# before seasons existed (commit e238e31, whose whole files hashed to 7fa02146...; aa58c62 gave
# the same whole files, and this hash with those columns left out). rules.csv's revenue,
# profit and roi have counted an offer's discount once since 2026-12-02 (they subtracted it
# twice): what they say is tested in test_rule_effects, not here
FLAT_HASH = "83bd93719a816b62aa05ada100a651beb5524cc8363397d1dfb5279f6cb21a47"
OFFER_COLUMNS = {"revenue", "profit", "roi"}

# Poisson buyers who never drop out and do not follow cycles: their purchase times are an
# inhomogeneous Poisson process with intensity rate x S(t)
STEADY = {
    "buying": {"r": 2.0, "alpha": 40.0, "a": 0.001, "b": 1000.0},
    "roles": {"cycle_follow": 0.0},
}


# the files every version has written since before seasons (later ones add files and keys,
# such as goals.csv and summary.json's stage goals, that say nothing about the draws)
KEPT = ("cohorts.csv", "daily.csv", "rules.csv", "stages.csv", "transitions.csv")


def _digest(forecast) -> str:
    files = forecast.files()
    # rules.csv called the rule's arm `variant` at e238e31; the rows are the same bytes
    rules = files["rules.csv"].replace("rule,arm,", "rule,variant,", 1)
    rows = list(csv.reader(io.StringIO(rules)))
    keep = [i for i, name in enumerate(rows[0]) if name not in OFFER_COLUMNS]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([row[i] for i in keep] for row in rows)
    files["rules.csv"] = out.getvalue()
    return hashlib.sha256("".join(files[name] for name in KEPT).encode()).hexdigest()


def _purchases(market: dict, customers: int = 2000, days: int = 365, seed: int = 7):
    forecast = clmlang.simulate(
        clmlang.loads(FLAT),
        market_from_mapping(market),
        customers=customers,
        days=days,
        rng=seed,
        logs=True,
    )
    p = forecast.logs()["purchases"]
    day = (pd.to_datetime(p["date"]) - pd.Timestamp("2026-01-01")).dt.days.to_numpy()
    return p.assign(day=day)[day >= 1]  # day 0: the cohort's first purchases


def _within(observed: int, total: int, p: float) -> None:
    se = math.sqrt(p * (1 - p) / total)
    assert abs(observed / total - p) < 4 * se, (observed / total, p, se, total)


def test_no_calendar_keeps_the_flat_years_bytes():
    """A market without months or weeks gives the bytes the code gave before seasons."""
    market = market_from_mapping(FLAT_MARKET)
    forecast = clmlang.simulate(clmlang.loads(FLAT), market, customers=3000, days=400, rng=11)
    assert _digest(forecast) == FLAT_HASH


def test_a_calendar_of_ones_changes_nothing():
    """Every month and week at 1.0 runs the seasonal path and gives the same bytes."""
    ones = {m: 1.0 for m in range(1, 13)}
    market = dict(
        FLAT_MARKET, products={"wipers": {"weight": 0.5, "months": ones, "weeks": {5: 1.0}}}
    )
    forecast = clmlang.simulate(
        clmlang.loads(FLAT), market_from_mapping(market), customers=3000, days=400, rng=11
    )
    assert _digest(forecast) == FLAT_HASH


def test_october_and_november_at_three_times_the_rate():
    """With one product at x3 in October and November, those months hold 3 x 61 of the 486
    rate-days of days 1-364 (given their total, each purchase falls in them with that
    chance: a binomial count)."""
    market = dict(
        STEADY, products={"tyres": {"months": {10: 3.0, 11: 3.0}}, "wipers": {"weight": 0}}
    )
    p = _purchases(market)
    autumn = (p["day"] >= 273) & (p["day"] <= 333)  # 1 October to 30 November 2026
    _within(int(autumn.sum()), len(p), 3 * 61 / (303 + 3 * 61))


def test_the_season_also_chooses_the_product():
    """Tyres x3 in autumn, wipers flat, equal weights: in autumn 3 of 4 purchases are tyres,
    the rest of the year 1 of 2; and autumn's total rate is (3 + 1) / 2 = 2 times the rest."""
    market = dict(
        STEADY, products={"tyres": {"months": {10: 3.0, 11: 3.0}}, "wipers": {"weight": 1.0}}
    )
    p = _purchases(market)
    autumn = ((p["day"] >= 273) & (p["day"] <= 333)).to_numpy()
    tyres = (p["product"] == "tyres").to_numpy()
    _within(int((tyres & autumn).sum()), int(autumn.sum()), 0.75)
    _within(int((tyres & ~autumn).sum()), int((~autumn).sum()), 0.5)
    _within(int(autumn.sum()), len(p), 2 * 61 / (303 + 2 * 61))


def test_a_line_and_a_week():
    """A line's months apply to its products; an ISO week multiplies on top: week 40 of 2026
    (28 September to 4 October) at x4 for the fitting line, October x2: 3 days at 4 and 4
    at 8 against 1 elsewhere in September-October (61 days)."""
    market = dict(
        STEADY,
        lines={"fitting": {"months": {10: 2.0}, "weeks": {40: 4.0}}},
        products={"wipers": {"weight": 0}},
    )
    p = _purchases(market)
    autumn = p[(p["day"] >= 243) & (p["day"] <= 303)]  # September and October
    week = (autumn["day"] >= 270) & (autumn["day"] <= 276)
    september, october = 27, 27  # the days of each month outside week 40
    weight = 3 * 4 + 4 * 8
    _within(int(week.sum()), len(autumn), weight / (weight + september + 2 * october))


def test_a_month_without_demand_has_no_purchases():
    """A multiplier of 0 in July: no purchase of the only product in July."""
    p = _purchases(dict(STEADY, products={"tyres": {"months": {7: 0.0}}, "wipers": {"weight": 0}}))
    july = (p["day"] >= 181) & (p["day"] <= 211)
    assert len(p) > 1000 and not july.any()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "[market.products.tyre_change]\nmonths = { 13 = 2.0 }\n",
            "months are numbered 1 to 12, not 13",
        ),
        (
            "[market.products.tyre_change]\nweeks = { 0 = 2.0 }\n",
            "weeks are numbered 1 to 53, not 0",
        ),
        (
            "[market.lines.fitting]\nmonths = { 4 = -1.0 }\n",
            "months: multipliers must not be negative",
        ),
        ("[market.lines.fitting]\nmonths = { 4 = inf }\n", "must be a finite number"),
        (
            "[market.lines.fiting]\nmonths = { 4 = 2.0 }\n",
            "the spec declares no such name (did you mean",
        ),
        ("[market.products.tyre_change]\nmonths = { oct = 2.0 }\n", "months.oct"),
    ],
)
def test_bad_calendars_are_clm200_at_their_line(tmp_path, table: str, message: str):
    """A month or week out of range, a negative or infinite multiplier, an unknown line:
    CLM200 naming the file, the line and the key."""
    from .conftest import ROOT, clm

    path = tmp_path / "s.toml"
    path.write_text("[simulation]\ncustomers = 50\ndays = 5\n\n" + table, encoding="utf-8")
    done = clm("simulate", str(ROOT / "specs" / "tyre_shop.clm"), "--scenario", str(path))
    assert done.returncode == 1, done.stderr
    place = re.search(r"s\.toml:(\d+):(\d+): error\[CLM200\]:", done.stderr)
    assert place is not None and place[1] in ("5", "6"), done.stderr
    # an undeclared name is pointed at itself: `fiting` after `[market.lines.` (14 characters)
    assert place[2] == ("15" if "no such name" in message else "1"), done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_tyre_example_has_a_season():
    """simulations/tyre_shop_seasons.toml: April and October-November are the busiest
    months for fitting, January-February and June-July the quietest."""
    from .conftest import ROOT

    forecast = clmlang.simulate(
        market=ROOT / "simulations" / "tyre_shop_seasons.toml", customers=4000, days=365, logs=True
    )
    p = forecast.logs()["purchases"]
    p = p[p["line"] == "fitting"]
    month = pd.to_datetime(p["date"]).dt.month.value_counts()
    peak = min(month[4], month[10])
    assert peak > 2 * max(month[1], month[2], month[6], month[7])
    assert np.isclose(month.sum(), len(p))
