"""Customers change over time (issue 17 §3): numbers that grow, flags and text that switch at
a hazard, dates ahead of day 0 that only some customers have.

The expected days and shares are derived here from the market's figures: a linear growth's
crossing day, 1 - exp(-h t) for a hazard, a uniform window of dates.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy

from .conftest import clm

HEAD = """program "Dealer" currency EUR
channel email cost 1
product service role profit price 300 cost 100
"""


def _run(spec: str, market: dict, customers: int = 2000, days: int = 120, seed: int = 7, **kw):
    policy = clmlang.loads(HEAD + spec, "dealer.clm")
    market = Market.model_validate({"channels": {"email": {"reach": 1.0}}, **market})
    assert market.problems(policy) == []
    rng = np.random.default_rng(seed)
    return simulate_policy(policy, market, customers=customers, days=days, rng=rng, **kw)


def _fired(run, rule: str) -> dict[int, list[int]]:
    """Each customer's days of firing `rule` (held-out ones included)."""
    names = [run.policy.rules[r].name for r, _ in run.arms]
    events = run.recorder.rule_events.arrays()
    out: dict[int, list[int]] = {}
    for arm, who, day in zip(events["arm"], events["customer"], events["day"], strict=True):
        if names[int(arm)] == rule:
            out.setdefault(int(who), []).append(int(day))
    return out


def _members(run, segment: int, day: int) -> int:
    return int(run.recorder.segment_counts[day][segment])


SERVICE = """attribute mileage number
stage all when purchases >= 0
rule service_due {
  when mileage >= 60000
  send email "Your car is due its 60,000 km service"
}
"""


def test_growing_mileage_crosses_the_threshold_on_the_day_its_rate_gives():
    """50,000 km growing 100 km a day reaches 60,000 on day 100: the rule fires then, once."""
    market = {
        "attributes": {"mileage": {"mean": 50000, "growth": {"mean": 100}}},
        "acquisition": {"per_day": 5},
    }
    run = _run(SERVICE, market, customers=300, days=160)
    fired = _fired(run, "service_due")
    starting = [fired.get(c) for c in range(300)]
    assert starting == [[100]] * 300
    # an acquired customer's mileage starts growing on the day they arrive
    arrival = np.floor(run.state.arrival)
    late = [c for c in range(300, run.state.n) if arrival[c] + 100 < 160]
    assert late and all(fired.get(c) == [int(arrival[c]) + 100] for c in late)


def test_each_customer_crosses_on_their_own_day():
    """Rates and starts drawn per customer: each fires on ceil((60000 - start) / rate)."""
    market = {
        "attributes": {"mileage": {"mean": 45000, "sd": 4000, "growth": {"mean": 150, "sd": 60}}}
    }
    run = _run(SERVICE, market, customers=500, days=200)
    start, rate = run.state.attributes["mileage"], run.state.growth["mileage"]
    assert (rate >= 0).all() and rate.std() > 30  # drawn per customer, none negative
    fired = _fired(run, "service_due")
    checked = 0
    for c in range(500):
        if start[c] >= 60000:
            expected = 0
        elif rate[c] == 0:
            expected = None
        else:
            expected = math.ceil((60000 - start[c]) / rate[c])
        got = fired.get(c, [None])[0]
        assert got == (expected if expected is not None and expected < 200 else None), c
        checked += got is not None
    assert checked > 400


def test_a_growing_number_without_a_mean_starts_at_zero():
    """Mileage of a new car: from 0 at 40 km a day, 4,000 km on day 100."""
    spec = SERVICE.replace("60000", "4000")
    run = _run(spec, {"attributes": {"mileage": {"growth": {"mean": 40}}}}, customers=50)
    assert _fired(run, "service_due") == {c: [100] for c in range(50)}


def test_growth_drawn_negative_is_zero():
    """A negative rate is no growth: the mileage never goes down."""
    spec = SERVICE.replace(">= 60000", "< 49000")
    market = {"attributes": {"mileage": {"mean": 50000, "growth": {"mean": -50}}}}
    assert _fired(_run(spec, market, customers=50), "service_due") == {}


FAMILY = """attribute has_children flag
stage parent when has_children
stage all when purchases >= 0
segment parents when has_children
rule congratulations {
  when has_children
  send email "Congratulations on the new arrival"
}
rule welcome_parents {
  on enter parents
  send email "Room for everyone"
}
"""


def _within(count: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


def test_a_flag_with_a_hazard_is_true_for_a_share_one_minus_exp():
    """Hazard h from false: true for a share 1 - exp(-h t) on day t (binomial tolerance)."""
    h, n = 0.01, 4000
    run = _run(FAMILY, {"attributes": {"has_children": {"hazard": h}}}, customers=n, days=150)
    assert _members(run, 0, 0) == 0  # with a hazard, the flag starts false for everyone
    for t in (10, 50, 100, 149):
        assert _within(_members(run, 0, t), n, 1 - math.exp(-h * t)), t
    # the stage sees the flag too: as many parents in the stage as in the segment
    stage_counts = run.recorder.stage_counts
    for t in (10, 149):
        assert stage_counts[t][1] == _members(run, 0, t)  # column 0 is "no stage"


def test_a_flag_that_switches_back_settles_at_its_balance():
    """On at h, off at b: true for h/(h+b) (1 - exp(-(h+b) t)) on day t."""
    h, b, n, t = 0.01, 0.02, 4000, 150
    market = {"attributes": {"has_children": {"hazard": h, "hazard_back": b}}}
    run = _run(FAMILY, market, customers=n, days=t + 1)
    share = h / (h + b) * (1 - math.exp(-(h + b) * t))
    assert _within(_members(run, 0, t), n, share)


def test_a_condition_trigger_fires_on_the_day_the_flag_turns_true():
    """`when has_children` and `on enter parents` fire on the day the flag switches."""
    market = {"attributes": {"has_children": {"hazard": 0.02}}}
    run = _run(FAMILY, market, days=100)
    congrats, entered = _fired(run, "congratulations"), _fired(run, "welcome_parents")
    assert congrats and congrats == entered
    assert all(len(days) == 1 and days[0] >= 1 for days in congrats.values())
    # the journey of one of them: the flag switches, and the rule fires, on one day
    who = min(congrats)
    lines = _run(FAMILY, market, days=100, trace=who).trace.lines
    switched = [d for d, kind, what in lines if kind == "attribute"]
    fired = [d for d, kind, what in lines if kind == "rule" and "congratulations" in what]
    assert [math.floor(d) for d in switched] == congrats[who]
    assert [math.floor(d) for d in fired] == congrats[who]


CARS = """attribute car_model text
stage all when purchases >= 0
segment suv_drivers when car_model == "suv"
rule suv_accessories {
  on enter suv_drivers
  send email "Roof boxes for your SUV"
}
"""


def test_a_text_switches_to_its_targets():
    """All compact on day 0; at hazard h a new value is drawn half suv, half compact."""
    h, n, t = 0.02, 4000, 100
    market = {
        "attributes": {
            "car_model": {
                "values": {"compact": 1.0},
                "hazard": h,
                "targets": {"compact": 0.5, "suv": 0.5},
            }
        }
    }
    run = _run(CARS, market, customers=n, days=t + 1)
    assert _members(run, 0, 0) == 0
    assert _within(_members(run, 0, t), n, 0.5 * (1 - math.exp(-h * t)))
    assert set(run.state.attributes["car_model"]) == {"compact", "suv"}


DELIVERY = """attribute delivery_date date
stage all when purchases >= 0
rule almost_here {
  on 30 days before delivery_date
  send email "Your car arrives in 30 days"
}
rule delivered {
  on 1 day after delivery_date
  send email "How is the new car?"
}
rule delivery_anniversary {
  on anniversary of delivery_date
  send email "A year with your car"
}
"""


def test_dates_ahead_fire_their_before_trigger_and_a_share_leaves_the_rest_missing():
    """Dates uniform on days 0-89, 60% of customers: `30 days before` fires on date - 30
    for dates from day 30, `1 day after` on date + 1; 40% have no date and no firing."""
    n, share = 4000, 0.6
    market = {"attributes": {"delivery_date": {"ahead_days": 90, "share": share}}}
    run = _run(DELIVERY, market, customers=n, days=120)
    before, after = _fired(run, "almost_here"), _fired(run, "delivered")
    assert _within(len(after), n, share)  # every date is in the run: day + 1 <= 90
    assert _within(len(before), n, share * 60 / 90)
    assert set(before) <= set(after)
    for c, days in before.items():
        assert len(days) == 1 and days[0] == after[c][0] - 31
    assert min(d for (d,) in before.values()) == 0 and max(d for (d,) in before.values()) == 59
    assert max(d for (d,) in after.values()) == 90
    missing = np.isnan(run.state.attributes["delivery_date"])
    assert _within(int(missing.sum()), n, 1 - share)
    assert not set(np.flatnonzero(missing)) & set(after)
    assert _fired(run, "delivery_anniversary") == {}  # a future date's first anniversary is later


def test_a_future_dates_first_anniversary_is_a_year_after_it():
    """Dates in January 2026, run to 2027: the anniversary falls 365 days after the date."""
    market = {"attributes": {"delivery_date": {"from": 0, "to": 31}}}
    run = _run(DELIVERY, market, customers=300, days=400)
    after, anniversary = _fired(run, "delivered"), _fired(run, "delivery_anniversary")
    assert len(after) == 300 and set(anniversary) == set(after)
    assert all(anniversary[c] == [after[c][0] - 1 + 365] for c in after)


def test_a_window_around_day_0():
    """`from = -20, to = 40`: dates on days -20..39; `1 day after` fires within the run
    for the 41 of those 60 days from day -1."""
    n = 3000
    run = _run(DELIVERY, {"attributes": {"delivery_date": {"from": -20, "to": 40}}}, customers=n)
    after = _fired(run, "delivered")
    days = [d for (d,) in after.values()]
    assert min(days) == 0 and max(days) == 40
    assert _within(len(after), n, 41 / 60)


def test_new_keys_do_not_shift_the_draws_of_anything_else():
    """Growth, hazards and shares use streams of their own: the same customers otherwise."""
    spec = SERVICE + "attribute has_children flag\nattribute delivery_date date\n"
    plain = _run(spec, {"attributes": {"mileage": {"mean": 50000, "sd": 9000}}}, days=30)
    changing = _run(
        spec,
        {
            "attributes": {
                "mileage": {"mean": 50000, "sd": 9000, "growth": {"mean": 40, "sd": 10}},
                "has_children": {"share": 0.5, "hazard": 0.01},
                "delivery_date": {"share": 0.5},
            }
        },
        days=30,
    )
    a, b = plain.state, changing.state
    assert np.array_equal(a.rate, b.rate) and np.array_equal(a.spend, b.spend)
    assert np.array_equal(a.attributes["mileage"], b.attributes["mileage"])
    has = ~np.isnan(b.attributes["delivery_date"])
    assert np.array_equal(a.attributes["delivery_date"][has], b.attributes["delivery_date"][has])


@pytest.mark.parametrize(
    ("attributes", "key", "words"),
    [
        ({"has_children": {"growth": {"mean": 1}}}, "has_children.growth", "for number and money"),
        ({"mileage": {"hazard": 0.1}}, "mileage.hazard", "for flag and text"),
        ({"mileage": {"ahead_days": 30}}, "mileage.ahead_days", "for date attributes"),
        ({"car_model": {"hazard": 0.1}}, "car_model.hazard", "needs `targets`"),
    ],
)
def test_keys_for_another_type_are_refused(attributes, key, words):
    """A change key given for an attribute of a type it does not apply to is named."""
    spec = "attribute mileage number\nattribute has_children flag\nattribute car_model text\n"
    policy = clmlang.loads(HEAD + "stage all when purchases >= 0\n" + spec, "d.clm")
    problems = Market.model_validate({"attributes": attributes}).problems(policy)
    assert [k for k, _ in problems] == [f"market.attributes.{key}"]
    assert words in problems[0][1]


@pytest.mark.parametrize(
    ("line", "written", "message"),
    [
        ("growht = { mean = 40 }", "growht", "unknown key (did you mean `growth`?)"),
        ("hazard = 0.1", "hazard", "`hazard` is for flag and text attributes"),
        ("ahead_days = -3", "ahead_days", "greater than 0"),
    ],
)
def test_bad_keys_in_a_scenario_file_are_placed_with_a_hint(
    tmp_path: Path, line: str, written: str, message: str
):
    """The CLI shows file:line:col, what is wrong and the hint, no traceback."""
    spec = tmp_path / "dealer.clm"
    spec.write_text(HEAD + SERVICE)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        f'[simulation]\nspec = "dealer.clm"\n\n[market.attributes.mileage]\nmean = 1\n{line}\n'
    )
    done = clm("simulate", "--scenario", str(scenario), "--days", "5", "--customers", "10")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    where = f"{scenario}:6:1: error[CLM200]: market.attributes.mileage.{written}: "
    assert where in done.stderr and message in done.stderr, done.stderr
    assert "hint: see docs/scenarios.md" in done.stderr


def test_a_variant_sets_a_window_key(tmp_path: Path):
    """`set = { "market.attributes.delivery_date.to" = 10 }` narrows a `from`/`to` window."""
    (tmp_path / "dealer.clm").write_text(HEAD + DELIVERY)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[simulation]\nspec = "dealer.clm"\n\n[market.channels.email]\nreach = 1.0\n\n'
        "[market.attributes.delivery_date]\nfrom = 0\nto = 60\n\n"
        '[[variant]]\nname = "soon"\nset = { "market.attributes.delivery_date.to" = 10 }\n'
    )
    for variant, last in (("base", 60), ("soon", 10)):
        run = clmlang.simulate(market=scenario, variant=variant, customers=500, days=90, logs=True)
        messages = run.logs()["messages"]
        delivered = pd.to_datetime(messages[messages["rule"] == "delivered"]["date"])
        assert (delivered - pd.Timestamp("2026-01-01")).dt.days.max() == last
