"""Ownership: a durable product (no `every` cycle) is not bought again while it is kept, by a
natural purchase or in answer to a message, and a line can be one possession (a car)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import clmlang
from clmlang.market.model import market_from_mapping

from .conftest import ROOT

SHOP = """program "Cars and service" currency EUR
channel email cost 0.3
stage all when purchases >= 0
product car role value price 20000 cost 18000 line sales
product van role profit price 25000 cost 22000 line sales
product service role profit price 300 cost 120 every 1 year
rule offer_a_car {
  on 20 days after purchase
  send email "A car for you" offer car discount 5%
}
"""
# Poisson buyers who never drop out and do not follow cycles
STEADY = {
    "buying": {"r": 2.0, "alpha": 200.0, "a": 0.001, "b": 1000.0},
    "roles": {"cycle_follow": 0.0},
}


def _purchases(market: dict, spec: str = SHOP, customers: int = 2000, days: int = 365, **kw):
    forecast = clmlang.simulate(
        clmlang.loads(spec) if "\n" in spec else clmlang.load(spec),
        market_from_mapping(market),
        customers=customers,
        days=days,
        rng=kw.get("seed", 5),
        logs=True,
    )
    p = forecast.logs()["purchases"]
    day = (pd.to_datetime(p["date"]) - pd.Timestamp("2026-01-01")).dt.days.to_numpy()
    return p.assign(day=day)


def test_a_durable_is_bought_once():
    """Cars and vans (no cycle) are each bought at most once per customer, offers included;
    the service (a yearly cycle) again and again."""
    market = dict(STEADY, products={"car": {"weight": 1.0}, "van": {"weight": 0.0}})
    p = _purchases(market)
    cars = p[p["product"] == "car"].groupby("customer_id").size()
    assert cars.max() == 1 and len(cars) > 1000
    assert p[p["product"] == "service"].groupby("customer_id").size().max() > 3
    answered = p[p["rule"] == "offer_a_car"]
    assert (answered["product"] == "car").all()  # only customers without a car answer


def test_owners_buy_the_rest_at_the_rate_left():
    """Car and service at equal weights: a purchase that would be a second car does not
    happen, so service is bought at half the customer's rate throughout, E = N r/alpha T/2
    (SE from the Gamma-Poisson mixture); a customer has no car at the end with chance
    1/2 (alpha / (alpha + T/2))^r (a first purchase is a car half the time)."""
    r, alpha, n, days = 2.0, 200.0, 2000, 365
    market = dict(STEADY, products={"car": {"weight": 1.0}, "van": {"weight": 0.0}})
    spec = (
        SHOP.replace("rule offer_a_car", "rule offer_nothing")
        .replace(" offer car discount 5%", "")
        .replace('"A car for you"', '"Hello" transactional')
    )
    p = _purchases(market, spec=spec, customers=n, days=days)
    later = p[p["day"] >= 1]
    service = int((later["product"] == "service").sum())
    half = (days - 1) / 2
    expected = n * r / alpha * half
    se = math.sqrt(n * (half**2 * r / alpha**2 + r / alpha * half))
    assert abs(service - expected) < 4 * se, (service, expected, se)
    no_car = 1 - p[p["product"] == "car"]["customer_id"].nunique() / n
    q = 0.5 * (alpha / (alpha + days / 2)) ** r
    assert abs(no_car - q) < 4 * math.sqrt(q * (1 - q) / n), (no_car, q)


def test_keep_days_spaces_the_purchases_of_a_durable():
    """A car kept 120 days: its owner buys another car only 120 days or more after the last."""
    market = dict(STEADY, products={"car": {"weight": 1.0, "keep_days": 120}, "van": {"weight": 0}})
    p = _purchases(market)
    cars = p[p["product"] == "car"].sort_values(["customer_id", "day"])
    gaps = cars.groupby("customer_id")["day"].diff().dropna()
    assert len(gaps) > 500 and gaps.min() >= 119  # days are whole: 120 days, less a part


def test_a_line_is_one_possession():
    """With `lines.sales.keep_days`, an owner of a car buys no van (nor car) within it."""
    market = dict(
        STEADY,
        products={"car": {"weight": 1.0}, "van": {"weight": 1.0}},
        lines={"sales": {"keep_days": 1000}},
    )
    p = _purchases(market)
    sales = p[p["line"] == "sales"].groupby("customer_id").size()
    assert sales.max() == 1 and len(sales) > 1000


def test_a_courtesy_call_after_a_car_sale_sells_no_car():
    """The dealer's call 25 days after a new car (no offer): its answers buy what an owner of
    a car still buys (service), never a car, when cars are one possession (the dealer's
    scenario says so); before, half of its revenue was cars."""
    market = {"lines": {"sales": {"keep_days": 1000}}}
    p = _purchases(market, spec=str(ROOT / "specs" / "car_dealer.clm"), customers=5000, days=365)
    call = p[p["rule"] == "first_month_call"]
    assert len(call) > 5
    assert (call["line"] != "sales").all() and call["amount"].sum() < 5000 * len(call) / 10


def test_the_dealer_scenario_sells_a_car_to_an_owner_only_after_keep_days():
    """simulations/car_dealer_trade_in.toml: cars are kept 1000 days, so a customer's two car
    purchases in the run are at least that far apart (the run is a year: none)."""
    forecast = clmlang.simulate(
        market=ROOT / "simulations" / "car_dealer_trade_in.toml", customers=4000, logs=True
    )
    p = forecast.logs()["purchases"]
    assert p[p["line"] == "sales"].groupby("customer_id").size().max() == 1
    assert np.isfinite(forecast.summary["revenue"])


def test_keep_days_where_it_means_nothing_is_clm200(tmp_path):
    """keep_days on a product with a cycle (the tyre shop's tyre change), or on a durable
    whose line sets it (the dealer's new car in the sales line): CLM200 at the key's line,
    with why."""
    from .conftest import clm

    path = tmp_path / "s.toml"
    path.write_text(
        "[simulation]\ncustomers = 50\ndays = 5\n\n[market.products.tyre_change]\nkeep_days = 100\n",
        encoding="utf-8",
    )
    done = clm("simulate", str(ROOT / "specs" / "tyre_shop.clm"), "--scenario", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "s.toml:6:1: error[CLM200]: market.products.tyre_change.keep_days: " in done.stderr
    assert "has a cycle (`every`)" in done.stderr
    path.write_text(
        "[simulation]\ncustomers = 50\ndays = 5\n\n[market.lines.sales]\nkeep_days = 100\n\n"
        "[market.products.new_car]\nkeep_days = 10\n",
        encoding="utf-8",
    )
    done = clm("simulate", str(ROOT / "specs" / "car_dealer.clm"), "--scenario", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "s.toml:9:1: error[CLM200]: market.products.new_car.keep_days: its line" in (done.stderr)
