"""KPIs of a run that starts from an existing base (`population.start = "existing"`).

Every expected number is derived from the population the test sets up, or recomputed from the
run's own purchase log (`Forecast.logs()`), never read back from the metrics code.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import clmlang
from clmlang.market.model import Market

from .conftest import ROOT

BASE = 1500  # existing customers: the first BASE customer ids
DAYS = 150


def _market(**extra: object) -> Market:
    """An existing base whose last purchases all fall within the last 60 days (< 90)."""
    population = {"start": "existing", "recency_days": 60, **extra.pop("population", {})}
    return Market.model_validate({"population": population, **extra})


def _days(purchases: pd.DataFrame, market: Market) -> pd.Series:
    start = dt.date.fromisoformat(market.start_date)
    return pd.to_datetime(purchases["date"]).dt.date.map(lambda d: (d - start).days)


@pytest.fixture(scope="module")
def acquiring() -> tuple[Market, clmlang.simulation.metrics.Forecast]:
    """The clinic on an existing base that also acquires patients, with its logs."""
    market = _market(
        population={"purchases": {1: 0.5, 3: 0.5}}, acquisition={"per_day": 5, "cost": 2500}
    )
    run = clmlang.simulate(
        ROOT / "specs/clinic.clm", market, customers=BASE, days=DAYS, rng=3, logs=True
    )
    return market, run


def test_active_on_day_0_is_the_whole_recent_base() -> None:
    """Every existing customer bought within the active window, so all are active on day 0."""
    run = clmlang.simulate(ROOT / "specs/clinic.clm", _market(), customers=BASE, days=30, rng=5)
    assert run.daily["active"].iloc[0] == BASE


def test_active_counts_the_base_and_the_acquired(acquiring) -> None:
    """Day 0: the whole base plus the acquired customers who bought on day 0 (from the log)."""
    market, run = acquiring
    purchases = run.logs()["purchases"]
    acquired_day_0 = purchases[(_days(purchases, market) == 0) & (purchases.customer_id >= BASE)]
    assert run.daily["active"].iloc[0] == BASE + acquired_day_0.customer_id.nunique()


def test_avg_check_new_is_the_mean_of_first_purchases_in_the_run(acquiring) -> None:
    """Only customers acquired in the run make a first purchase in it; the base's do not count."""
    _, run = acquiring
    purchases = run.logs()["purchases"]  # ordered by date, then customer
    new = purchases[purchases.customer_id >= BASE]
    firsts = new.groupby("customer_id", sort=False).head(1)
    assert run.summary["avg_check_new"] == pytest.approx(firsts["amount"].mean(), abs=1e-6)
    # the clinic's lead product, a free consultation, is every acquired patient's first visit
    assert run.summary["avg_check_new"] == 0.0


def test_avg_check_new_is_undefined_without_first_purchases() -> None:
    """A base that acquires nobody has no first purchase in the run."""
    run = clmlang.simulate(ROOT / "specs/clinic.clm", _market(), customers=BASE, days=60, rng=5)
    assert run.summary["new_customers"] == 0
    assert run.summary["avg_check_new"] is None


def test_purchase_numbers_continue_from_the_history() -> None:
    """A base with 3 purchases each: every purchase in the run is a 4th or later, so loyal."""
    market = _market(population={"purchases": {3: 1.0}})
    run = clmlang.simulate(
        ROOT / "specs/clinic.clm", market, customers=BASE, days=DAYS, rng=8, logs=True
    )
    amounts = run.logs()["purchases"]["amount"]
    assert run.summary["avg_check_loyal"] == pytest.approx(amounts.mean(), rel=1e-9)


def test_survival_counts_repeat_purchases_before_the_run() -> None:
    """A base where everyone has bought twice has already repeated: survival is 1."""
    market = _market(population={"purchases": {2: 1.0}})
    run = clmlang.simulate(ROOT / "specs/clinic.clm", market, customers=BASE, days=60, rng=8)
    assert run.summary["survival_rate"] == 1.0


def test_survival_counts_the_whole_base() -> None:
    """A base of one purchase each: a customer survives by buying in the run, and the
    denominator is the whole base, buyers in the run or not (both from the log)."""
    market = _market(population={"purchases": {1: 1.0}})
    run = clmlang.simulate(
        ROOT / "specs/clinic.clm", market, customers=BASE, days=DAYS, rng=8, logs=True
    )
    buyers = run.logs()["purchases"]["customer_id"].nunique()
    assert 0 < buyers < BASE
    assert run.summary["survival_rate"] == pytest.approx(buyers / BASE, abs=1e-6)
    assert run.summary["arppu"] == pytest.approx(run.summary["revenue"] / buyers, rel=1e-6)


def test_cohorts_keep_the_base_apart(acquiring) -> None:
    """The base is one `existing` row; the monthly cohorts are the acquired customers."""
    _, run = acquiring
    cohorts = run.cohorts
    assert cohorts["cohort"].iloc[0] == "existing"
    assert cohorts["customers"].iloc[0] == BASE
    assert cohorts["customers"].iloc[1:].sum() == run.summary["acquired_customers"]
    purchases = run.logs()["purchases"]
    # month 0 of each acquired cohort: all of it buys (its first purchase)
    assert (cohorts["month_0"].iloc[1:] == 1.0).all()
    base_buyers = purchases.customer_id[purchases.customer_id < BASE].nunique()
    # each base customer buying in the run buys in at least one month, in no more than all
    months = [c for c in cohorts.columns if c.startswith("month_")]
    shares = cohorts.loc[0, months].astype(float)
    assert shares.max() * BASE <= base_buyers <= shares.sum() * BASE + 1e-9


def test_cac_payback_is_undefined_without_acquisition() -> None:
    """Nobody acquired: no acquisition cost to pay back, so None, not 0."""
    run = clmlang.simulate(ROOT / "specs/clinic.clm", _market(), customers=BASE, days=60, rng=5)
    assert run.summary["acquired_customers"] == 0
    assert run.summary["cac_payback_days"] is None


def test_cac_payback_leaves_the_base_out(acquiring) -> None:
    """The acquired patients' first visit is free (price 0, cost 800), so their gross profit
    on day 0 is negative and cannot pay back day 0's acquisition: not day 0, whatever the
    base buys."""
    _, run = acquiring
    assert run.summary["acquired_customers"] > 0
    payback = run.summary["cac_payback_days"]
    assert payback is None or payback > 0
