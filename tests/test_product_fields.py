"""Fields about one product or line: `purchases of X`, `days_since_purchase of line X`.

Parsing and types, the checker's stage coverage, `clm explain`, and the simulator, whose
stages and condition rules are compared with what the purchase log says (the log is read
here; nothing is taken from the simulator's own state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.api import analyse_text, explain
from clmlang.compile.explanation import CustomerError, parse_customer
from clmlang.market.model import Market

HEADER = """program "Cars" currency EUR
channel email cost 1
product car role value price 20000 cost 18000 line cars
product service role profit price 300 cost 100 line care
"""
OLD_AFTER = 40  # days: the test's "old car", short enough for a short run
SPEC = (
    HEADER
    + f"""stage prospect when purchases of line cars == 0
stage old_car when days_since_purchase of line cars > {OLD_AFTER} days
stage new_car when days_since_purchase of line cars <= {OLD_AFTER} days
rule second_car {{
  when purchases of car >= 2
  send email "Two cars!"
}}
"""
)
DAYS = 150


def _codes(text: str) -> list[str]:
    return [d.code for d in analyse_text(text, "t.clm").diagnostics]


@pytest.fixture(scope="module")
def run():
    policy = clmlang.loads(SPEC, "cars.clm")
    market = Market.model_validate(
        {
            # a car is durable: its owner buys another only after keep_days (docs/model.md)
            "products": {"car": {"weight": 0.3, "keep_days": 20}, "service": {"weight": 0.7}},
            "channels": {"email": {"reach": 1.0}},
        }
    )
    return clmlang.simulate(policy, market, customers=2000, days=DAYS, rng=1, logs=True)


def test_the_spec_checks_clean_and_formats_back():
    """No false gap: a car bought is a car with a last purchase day, and the reverse."""
    assert _codes(SPEC) == []
    parsed = clmlang.loads(SPEC, "cars.clm")
    assert "days_since_purchase_line:cars" in parsed.columns
    assert "purchases:car" in parsed.columns


@pytest.mark.parametrize(
    ("condition", "code", "words"),
    [
        ("purchases of car > 3 days", "CLM110", "compares"),
        ("days_since_purchase of line cars > 3 USD", "CLM110", "compares"),
        ("total_spent of car > 3", "CLM103", "cannot be about one product"),
        ("purchases of cars > 1", "CLM102", "`cars` is a product line, not a product"),
        ("purchases of line car > 1", "CLM102", "`car` is a product, not a product line"),
        ("purchases of truck > 1", "CLM100", "undefined product `truck`"),
        ("purchases of line trucks > 1", "CLM100", "undefined line `trucks`"),
    ],
)
def test_mistakes_are_diagnostics(condition: str, code: str, words: str):
    """Units, the field and the product or line are checked like the other fields."""
    text = HEADER + f"stage all when purchases >= 0\nsegment s when {condition}\n"
    found = [d for d in analyse_text(text, "t.clm").diagnostics if d.code == code]
    assert found and words in found[0].message, [d.message for d in found]


def test_a_real_gap_is_still_found():
    """One car bought, the stages ask for none or two: a gap with that customer."""
    text = HEADER + (
        "stage none when purchases of line cars == 0\nstage two when purchases of car >= 2\n"
    )
    gaps = [d for d in analyse_text(text, "t.clm").diagnostics if d.code == "CLM121"]
    assert gaps and "purchases of car=1" in gaps[0].message


def test_explain_reads_the_fields_and_fills_the_lines_from_the_products():
    """`days_since_purchase of car=100` makes a car owner of line cars, 100 days ago."""
    analysis = analyse_text(SPEC, "cars.clm")
    customer = "purchases=3, days_since_purchase=5, days_since_purchase of car=100 days"
    assert explain(analysis, parse_customer(customer)).stage == "old_car"
    fresh = parse_customer("purchases=3, days_since_purchase of line cars=10, purchases of car=2")
    result = explain(analysis, fresh)
    assert result.stage == "new_car"
    assert [v.fires for v in result.rules] == [True]
    assert explain(analysis, {"purchases": 2}).stage == "prospect"
    with pytest.raises(CustomerError, match="unknown product `cra`; did you mean `car`"):
        explain(analysis, {"purchases of cra": 1})


def _car_days(run) -> dict[int, np.ndarray]:
    """Each customer's car purchase days, from the purchase log."""
    log = run.logs()["purchases"]
    start = pd.Timestamp(clmlang.market.model.Market().start_date)
    cars = log[log["line"] == "cars"]
    day = ((pd.to_datetime(cars["date"]) - start).dt.days).to_numpy()
    return {
        int(c): np.sort(day[(cars["customer_id"] == c).to_numpy()])
        for c in cars["customer_id"].unique()
    }


def test_the_stage_holds_the_customers_whose_last_car_is_old(run):
    """Every day, the old_car stage counts the customers whose last car purchase up to that
    day is more than OLD_AFTER days before it."""
    cars = _car_days(run)
    assert len(cars) > 300
    for day in range(DAYS):
        expected = 0
        for days in cars.values():
            bought = days[days <= day]
            expected += bool(bought.size) and day - bought[-1] > OLD_AFTER
        assert run.stages.loc[day, "old_car"] == expected, day
    assert run.stages["old_car"].iloc[-1] > 100


def test_a_count_condition_fires_on_the_second_car(run):
    """`when purchases of car >= 2` fires once per customer, on the day of their second car."""
    cars = _car_days(run)
    expected = {c: int(days[1]) for c, days in cars.items() if days.size >= 2}
    assert len(expected) > 20
    messages = run.logs()["messages"]
    start = pd.Timestamp(clmlang.market.model.Market().start_date)
    fired = {
        int(c): int((pd.Timestamp(d) - start).days)
        for c, d in zip(messages["customer_id"], messages["date"], strict=True)
    }
    assert len(messages) == len(fired)
    assert fired == expected
