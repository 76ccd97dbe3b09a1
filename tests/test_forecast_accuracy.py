"""A forecast's accuracy is measured on what ran (issue 19 §3): without `current`, on the
calibrated behaviour alone (the no-marketing forecast), with it, on the policy in force's;
the spec's policy, which never ran, is shown apart; and a note says when its rules answer at
the market's uncalibrated default response."""

from __future__ import annotations

import pandas as pd
import pytest

import clmlang
from clmlang.forecasting.history import summarise
from clmlang.forecasting.posterior import bgnbd_expected_holdout

from .conftest import ROOT, clm

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
END, UNTIL = "1997-09-30", "1998-06-30"
WEEKS = 273 / 7  # 1997-10-01 to 1998-06-30
R, ALPHA_WEEKS, A, B = 0.243, 4.41, 0.79, 2.43

SPEC = """program "Refills" currency USD
channel email cost 0.01
product disc role profit price 15 cost 5 every 30 days
stage new when purchases <= 1
stage repeat when purchases >= 2
rule refill {
  in stage repeat
  when days_since_purchase >= 32 days
  send email "Refill?" offer disc discount 20%
  success purchase within 10 days
}
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("accuracy") / "refill.clm"
    path.write_text(SPEC)
    return path


def _market(**extra) -> clmlang.Market:
    buying = {"r": R, "alpha": ALPHA_WEEKS * 7, "a": A, "b": B}
    return clmlang.Market.model_validate({"buying": buying, **extra})


def _actual() -> float:
    """Purchase days (one per customer and day) after END up to UNTIL of the customers who
    bought by END, counted from the file itself."""
    raw = pd.read_csv(CDNOW, dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"])
    known = set(raw.loc[raw["date"] <= END, "customer_id"])
    later = raw[(raw["date"] > END) & (raw["date"] <= UNTIL) & raw["customer_id"].isin(known)]
    return float(len(later.drop_duplicates(["customer_id", "date"])))


def test_without_current_the_error_is_the_no_marketing_forecasts(spec) -> None:
    """The history already holds the marketing that ran; so the error compares the actual
    purchases with the closed form alone (BG/NBD under the given parameters), not with the
    spec's policy added on top; the policy's effect is its own block."""
    history = clmlang.load_history(CDNOW)
    closed = bgnbd_expected_holdout(summarise(history, END), WEEKS, R, ALPHA_WEEKS, A, B).sum()
    out = clmlang.forecast_history(
        history, END, UNTIL, policy=spec, market=_market(), replications=2
    ).summary
    actual = _actual()
    assert out["actual_repeat_transactions"] == actual
    assert out["compared_repeat_transactions"] == pytest.approx(closed, rel=1e-9)
    assert out["transactions_error"] == pytest.approx(closed / actual - 1, rel=1e-9)
    assert out["holdout_repeat_transactions"] > closed  # the policy's messages bring purchases
    assert out["policy_effect"]["new_policy"] == "Refills"
    assert "no marketing" in out["compared_with"]
    assert "uncalibrated defaults (3%" in out["response_note"]


def test_with_current_the_error_is_the_policy_in_forces(spec) -> None:
    """With the spec itself as the policy in force, what ran is what is forecast: the two
    totals are one (same draws), and the comparison names the policy in force."""
    out = clmlang.forecast_history(
        CDNOW, END, UNTIL, policy=spec, current=spec, market=_market(), replications=2
    ).summary
    assert out["compared_repeat_transactions"] == pytest.approx(out["holdout_repeat_transactions"])
    assert out["compared_with"] == "the policy in force, 'Refills'"
    actual = _actual()
    assert out["transactions_error"] == pytest.approx(
        out["holdout_repeat_transactions"] / actual - 1
    )


def test_a_measured_response_silences_the_note(spec) -> None:
    market = _market(channels={"email": {"response": 0.05}})
    out = clmlang.forecast_history(
        CDNOW, END, UNTIL, policy=spec, market=market, replications=1
    ).summary
    assert "response_note" not in out
    assert "compared_with" in out


def _two_specs(tmp_path):
    """Two specs of one program name: the new one's email costs more."""
    current = tmp_path / "current.clm"
    current.write_text(SPEC)
    new = tmp_path / "new.clm"
    new.write_text(SPEC.replace("cost 0.01", "cost 0.02"))
    return new, current


def test_a_change_between_programs_of_one_name_names_their_files(tmp_path) -> None:
    """Issue 19 §4: "change from 'Refills' to 'Refills'" told nothing; the files tell them
    apart. A market given: no calibration here, so no warning about --messages."""
    new, current = _two_specs(tmp_path)
    market = tmp_path / "market.toml"
    market.write_text(f"[market.buying]\nr = {R}\nalpha = {ALPHA_WEEKS * 7}\na = {A}\nb = {B}\n")
    out = clm("forecast", new, "--current", current, "--market", market, "--history", CDNOW,
              "--calibration-end", END, "--until", UNTIL, "--replications", "2",
              "--out", tmp_path / "out")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"change from 'Refills' ({current}) to 'Refills' ({new})" in out.stdout
    assert "--current without --messages" not in out.stderr


def test_current_without_messages_warns_that_its_effect_counts_twice(tmp_path) -> None:
    new, current = _two_specs(tmp_path)
    out = clm("forecast", new, "--current", current, "--history", CDNOW,
              "--calibration-end", END, "--until", UNTIL, "--replications", "2",
              "--model", "bgnbd", "--out", tmp_path / "out")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "warning: --current without --messages" in out.stderr
    assert "counts it twice" in out.stderr or "count it twice" in out.stderr


def test_the_weekly_series_of_what_ran_is_drawn_beside_the_spec(spec) -> None:
    """The weekly chart compared the actual purchases with the spec's policy, which never ran;
    the forecast of what ran (here the closed form alone) is now a series of its own: week by
    week it adds up to the closed form's total, and the charts draw it beside the spec's."""
    from clmlang.forecasting.charts import RAN, figures

    history = clmlang.load_history(CDNOW)
    closed = bgnbd_expected_holdout(summarise(history, END), WEEKS, R, ALPHA_WEEKS, A, B).sum()
    result = clmlang.forecast_history(
        history, END, UNTIL, policy=spec, market=_market(), replications=2
    )
    weekly = result.weekly
    assert weekly["compared_transactions"].sum() == pytest.approx(closed, rel=1e-9)
    assert weekly["compared_transactions"].sum() < weekly["predicted_transactions"].sum()
    drawn = figures(result)
    for name in ("weekly", "cumulative", "revenue"):
        assert RAN in [trace.name for trace in drawn[name].data], name


def test_no_spec_draws_no_second_forecast() -> None:
    """Without a policy the forecast is what ran: no second series."""
    result = clmlang.forecast_history(CDNOW, END, UNTIL, market=_market(), replications=2)
    assert "compared_transactions" not in result.weekly
    assert "actual_transactions" in result.weekly
