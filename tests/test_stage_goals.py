"""Stage goals measured (issue 20 §1): how often a stage's customers come back within its goal.

Expected figures are derived by hand (the window rules on a few purchases) or from the
exponential gap a constant purchase rate gives: P(gap <= G) = 1 - exp(-rate G).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.stage_goals import goal_summary, goal_table, goal_windows

from .conftest import clm

SPEC = """program "Rhythm"
stage first when purchases <= 1
stage again when purchases >= 2 goal return within 20..40 days
"""

RATE = 0.025  # purchases per day, the same for every customer
DAYS = 400


def _windows(customer, time, stage, days=100.0, prior=None):
    policy = clmlang.loads(SPEC)
    arrays = [np.asarray(a) for a in (customer, time, stage)]
    return policy, goal_windows(
        policy,
        days,
        arrays[0],
        np.asarray(arrays[1], float),
        np.asarray(arrays[2], np.int16),
        prior=prior,
    )


def test_windows_by_hand():
    # customer 0: purchases on days 0 (stage `first`, no goal: no window), 10 (back on day
    # 20: 10 days, early), 20 (back on 45: 25 days, met), 45 (back on 90: 45 days, late), 90
    # and 95 (censored: 90 + 40 > 100); customer 1: days 1 (`first`) and 5, nothing after it
    # by day 100: late
    policy, w = _windows(
        [0, 0, 0, 0, 0, 0, 1, 1], [0, 10, 20, 45, 90, 95, 1, 5], [0, 1, 1, 1, 1, 1, 0, 1]
    )
    got = sorted(zip(w["customer"], w["time"], w["outcome"], strict=True))
    assert got == [
        (0, 10.0, "early"),
        (0, 20.0, "met"),
        (0, 45.0, "late"),
        (0, 90.0, "censored"),
        (0, 95.0, "censored"),
        (1, 5.0, "late"),
    ]
    # 90 is censored though its next purchase came on day 95: a window is judged only once
    # watched for its whole length, so quick returns near the end do not flatter the stage
    summary = goal_summary(policy, w)
    assert summary == {
        "goal_met_again": round(1 / 4, 6),
        "goal_early_again": round(1 / 4, 6),
        "goal_late_again": round(2 / 4, 6),
        "goal_windows_again": 4,
    }
    table = goal_table(policy, w)
    # months of 30.4375 days: days 5, 10, 20 in month 0, 45 in 1, 90 in 2, 95 in 3
    assert list(table["stage"]) == ["again"] * 4
    assert list(table["month"]) == [0, 1, 2, 3]
    assert list(table["windows"]) == [3, 1, 0, 0]
    assert list(table["censored"]) == [0, 0, 1, 1]
    assert table["met_share"].iloc[0] == pytest.approx(1 / 3)
    assert np.isnan(table["met_share"].iloc[2])


def test_existing_base_last_purchase_opens_a_window():
    # the last purchase before day 0 (day -15, in stage `again` on day 0) is followed by the
    # first purchase of the run on day 20: a gap of 35, met
    prior = (np.array([3]), np.array([-15.0]), np.array([1], np.int16))
    _, w = _windows([3], [20.0], [1], prior=prior)
    opened = w[w["time"] == -15.0]
    assert list(opened["outcome"]) == ["met"]
    assert opened["gap"].iloc[0] == pytest.approx(35.0)
    # one whose goal of 40 days ended before day 0 (day -50) is the history's, not the run's
    prior = (np.array([3, 4]), np.array([-15.0, -50.0]), np.array([1, 1], np.int16))
    _, w = _windows([3, 4], [20.0, 30.0], [1, 1], prior=prior)
    assert sorted(w["time"]) == [-15.0, 20.0, 30.0]


@pytest.fixture(scope="module")
def steady() -> clmlang.Forecast:
    """Customers who buy at one constant rate and never drop out: every gap is exponential."""
    market = Market.model_validate({"buying": {"r": 1e6, "alpha": 1e6 / RATE, "a": 1e-6, "b": 1e6}})
    return clmlang.simulate(clmlang.loads(SPEC), market, customers=3000, days=DAYS, rng=11)


def test_shares_follow_the_exponential_gap(steady):
    low, high = 20, 40
    early = 1 - math.exp(-RATE * low)
    met = math.exp(-RATE * low) - math.exp(-RATE * high)
    n = steady.summary["goal_windows_again"]
    assert n > 5000
    for key, p in (
        ("goal_met_again", met),
        ("goal_early_again", early),
        ("goal_late_again", 1 - early - met),
    ):
        se = math.sqrt(p * (1 - p) / n)
        assert abs(steady.summary[key] - p) < 4 * se, key


def test_no_window_counted_before_its_end(steady):
    # every month's share stays near the whole share, the last months included: no window
    # cut off by the horizon is counted (counting them would leave only quick returns there)
    table = steady.goals
    met = math.exp(-RATE * 20) - math.exp(-RATE * 40)
    last = table[table["windows"] > 0].iloc[-1]
    assert (last["month"] + 1) * 30.4375 >= DAYS - 40 - 31  # the last watched month is late
    se = math.sqrt(met * (1 - met) / last["windows"])
    assert abs(last["met_share"] - met) < 4 * se
    # a month that starts less than the goal before the end has censored windows only
    cut = table[table["month"] * 30.4375 > DAYS - 40]
    assert len(cut) and (cut["windows"] == 0).all() and (cut["censored"] > 0).all()


def test_cli_table_and_files(tmp_path):
    spec = tmp_path / "rhythm.clm"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    result = clm(
        "simulate",
        str(spec),
        "--customers",
        "500",
        "--days",
        "200",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "again: back within 20..40 days" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert 0 <= summary["goal_met_again"] <= 1
    header = (out / "goals.csv").read_text().splitlines()[0]
    assert header == "stage,month,windows,met,early,late,censored,met_share"


def test_forecast_expectation_can_assert_on_a_goal(tmp_path):
    spec = tmp_path / "rhythm.clm"
    spec.write_text(SPEC)
    met = math.exp(-0.9 / 75 * 20) - math.exp(-0.9 / 75 * 40)  # default market, roughly
    (tmp_path / "rhythm.test.toml").write_text(
        f"""spec = "rhythm.clm"

[[forecast]]
name = "most returns come too early to meet the goal"
kpi = "goal_met_again"
at_most = {min(0.95, met * 3):.3f}
customers = 1000
days = 200
replications = 2

[[forecast]]
name = "impossible"
kpi = "goal_met_again"
at_least = 0.99
customers = 1000
days = 200
replications = 2
"""
    )
    result = clm("test", str(tmp_path / "rhythm.test.toml"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "impossible" in result.stdout
    assert "expected goal_met_again >= 0.99" in result.stdout


def _forecast_goals(world, text: str, replications: int) -> dict:
    """`stage_goals` of the forecast of a tests/worlds.py world's forecast year under the
    spec `text`, with the world's true market."""
    from . import worlds

    result = clmlang.forecast_history(
        world.purchases,
        worlds.calibration_end().date().isoformat(),
        worlds.until().date().isoformat(),
        clmlang.loads(text),
        market=worlds.market(),
        replications=replications,
    )
    return result.summary["stage_goals"]


GOAL_STAGES = (
    "stage early_days when purchases <= 2 goal return within 60 days\n"
    "stage settled when purchases >= 3 goal return within 20..60 days\n"
)


def test_forecast_of_a_known_world_predicts_the_goals_it_shows():
    """A BG/NBD world with no marketing, forecast with its true buying parameters: for each
    stage, the predicted share of returns within the goal agrees with the share the world's
    forecast year shows, within the two sampling errors combined (the history's binomial
    one, the replications' interval)."""
    from . import worlds

    text = worlds.HEAD.format(name="Goals").replace(
        "stage customers when purchases >= 0\n", GOAL_STAGES
    )
    goals = _forecast_goals(worlds.simulate(text, 6000, seed=5), text, replications=4)
    assert set(goals) == {"early_days", "settled"}
    for name, row in goals.items():
        n, actual = row["actual_windows"], row["actual_met"]
        assert n > 300, (name, n)
        se_actual = math.sqrt(actual * (1 - actual) / n)
        se_predicted = (row["predicted_met_high"] - row["predicted_met_low"]) / (2 * 3.18)
        tolerance = 3 * math.hypot(se_actual, se_predicted)  # 3.18: t(0.975, 3 d.f.)
        assert abs(row["predicted_met"] - actual) < tolerance, (name, row)


def test_forecast_says_when_the_history_cannot_tell_the_stage(tmp_path):
    from . import worlds

    text = worlds.HEAD.format(name="Owners").replace(
        "stage customers when purchases >= 0\n",
        "audience vip\nstage vip_stage when audience is vip goal return within 30 days\n"
        "stage rest when not (audience is vip)\n",
    )
    goals = _forecast_goals(worlds.simulate(worlds.spec("None"), 800, seed=2), text, 2)
    assert "`audience`" in goals["note"]
    assert "actual_met" not in goals["vip_stage"]
    assert goals["vip_stage"]["predicted_met"] is not None
