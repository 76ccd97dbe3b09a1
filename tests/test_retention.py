"""Retention at D days is one definition everywhere: the Kaplan-Meier share of customers still
buying D days or more after their first purchase, a customer still buying at the end censored
at their last purchase (simulation/lifetime.py). The `retention_Dd` KPIs, the forecast's
retention table and the what-if's retention curve all read it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.simulation.lifetime import retention_at, retention_by_age


def test_retention_worked_by_hand_with_censoring():
    """200 days, churn window 50 (a customer has left when their last purchase is before day
    150), 20 customers of each kind (first/last): 0/10 and 20/60 and 0/120 have left (spans
    10, 40, 120); 0/180, 100/170, 50/190 and 160/160 are still buying, censored at spans 180,
    70, 140 and 0. At risk at 10: the 6 kinds with span >= 10, one leaves: 5/6; at 40: 5
    kinds, one leaves: 5/6 * 4/5 = 2/3; at 120: 3 kinds, one leaves: 2/3 * 2/3 = 4/9. So
    retention at 30 days is 5/6, at 90 2/3, at 180 4/9 (20 at risk: 0/180 only), at 365
    unknown (nobody seen that long). The rolling share at 90 (first purchase by day 110:
    6 kinds, 3 of them with a span of 90 or more) would be 1/2, 100/170 counted as gone."""
    first = np.repeat([0.0, 20.0, 0.0, 0.0, 100.0, 50.0, 160.0], 20)
    last = np.repeat([10.0, 60.0, 120.0, 180.0, 170.0, 190.0, 160.0], 20)
    ages = np.array([30.0, 90.0, 180.0, 365.0])
    share, at_risk = retention_by_age(first, last, 200, 50.0, ages)
    np.testing.assert_allclose(share, [5 / 6, 2 / 3, 4 / 9, np.nan])
    assert list(at_risk) == [100, 60, 20, 0]  # spans of 30, 90, 180, 365 days or more
    span, ended = last - first, last < 150
    again, _ = retention_at(span, ended, ages)
    np.testing.assert_array_equal(again, share)


def _kaplan_meier(span: np.ndarray, ended: np.ndarray, age: float) -> float:
    """The textbook product over event times below `age` (written here, not the engine's)."""
    share = 1.0
    for t in sorted(set(span[ended].tolist())):
        if t >= age:
            break
        share *= 1 - ((span == t) & ended).sum() / (span >= t).sum()
    return share


@pytest.fixture(scope="module")
def clinic():
    """The clinic with acquisition (new patients every day), 240 days: late arrivals cannot
    have come back yet."""
    return clmlang.simulate(
        market="simulations/clinic.toml", customers=3000, days=240, rng=2, logs=True
    )


def test_the_kpis_are_kaplan_meier_from_the_purchase_log(clinic):
    """summary.json's retention at 30, 90 and 180 days against a Kaplan-Meier computed here
    from the purchases log (whole days, so a few customers fall either side of an age or of
    the churn window: 0.02); the plain rolling share is well below at 180 days."""
    log = clinic.logs()["purchases"]
    day = (pd.to_datetime(log["date"]) - pd.Timestamp("2026-01-01")).dt.days
    seen = day.groupby(log["customer_id"]).agg(["min", "max"])
    span = (seen["max"] - seen["min"]).to_numpy(dtype=float)
    churn = 74.0  # the clinic's longest `goal return within` (docs/model.md, churn_days)
    ended = seen["max"].to_numpy() < 240 - churn
    for age in (30, 90, 180):
        kpi = clinic.summary[f"retention_{age}d"]
        assert kpi == pytest.approx(_kaplan_meier(span, ended, age), abs=0.02), age
    assert clinic.summary["retention_365d"] is None  # nobody was seen that long
    old = seen[seen["min"] <= 240 - 180]
    rolling = float(((old["max"] - old["min"]) >= 180).mean())
    assert clinic.summary["retention_180d"] > rolling + 0.05


def test_the_retention_table_is_the_same_estimate(clinic):
    """The forecast's retention table, at the ages nearest 30 and 90 days (its grid has
    60 ages), is the KPI's estimate there (within what 2 days of age change); it never
    rises with age, and stops where fewer than 20 customers were seen that long."""
    table = clinic.retention.set_index("age_days")
    ages = table.index.to_numpy(dtype=float)
    assert (np.diff(table["retention"].dropna().to_numpy()) <= 0).all()
    assert (table["at_risk"][table["retention"].isna()] < 20).all()
    for age, kpi in ((30, "retention_30d"), (90, "retention_90d")):
        near = ages[np.argmin(abs(ages - age))]
        assert table.loc[near, "retention"] == pytest.approx(clinic.summary[kpi], abs=0.03)
