"""Forecasting a real base from Python (`clmlang.forecast_history`) and with `--market`: the
latent state comes from the market's own buying parameters, not from a fit of the history."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.forecasting.history import summarise
from clmlang.forecasting.posterior import bgnbd_expected_holdout

from .conftest import ROOT, clm

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
END, UNTIL = "1997-09-30", "1998-06-30"
WEEKS = 273 / 7  # 1997-10-01 to 1998-06-30


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return clmlang.load_history(CDNOW)


def _market(**buying: float) -> clmlang.Market:
    return clmlang.Market.model_validate({"buying": buying})


def test_a_given_market_drives_the_latent_state(history: pd.DataFrame):
    """With a market given, each customer's posterior uses its buying parameters (per day):
    with no policy the forecast is BG/NBD's closed form under those parameters, whatever a
    fit of the history would say."""
    summary = summarise(history, END)
    for r, alpha_weeks, a, b in ((0.243, 4.41, 0.79, 2.43), (0.5, 2.0, 0.3, 3.0)):
        market = _market(r=r, alpha=alpha_weeks * 7, a=a, b=b)
        out = clmlang.forecast_history(history, END, UNTIL, market=market, replications=1)
        expected = bgnbd_expected_holdout(summary, WEEKS, r, alpha_weeks, a, b)
        assert out.summary["buying_model"] == "bgnbd"
        assert out.summary["holdout_repeat_transactions"] == pytest.approx(expected.sum())
        assert np.allclose(out.customers["predicted_transactions"], expected)
        assert out.fits == []  # nothing was fitted
    assert out.summary["holdout_repeat_transactions"] > 2500  # the second market buys more


def test_a_market_with_reactivation_forecasts_more_than_without(history: pd.DataFrame):
    base = {"r": 0.243, "alpha": 4.41 * 7, "a": 0.79, "b": 2.43}
    plain = clmlang.forecast_history(history, END, UNTIL, market=_market(**base), replications=1)
    waking = clmlang.forecast_history(
        history, END, UNTIL, market=_market(**base, reactivation=0.02 / 7), replications=1
    )
    assert waking.summary["buying_model"] == "bgnbd_reactivation"
    more = waking.customers["predicted_transactions"] - plain.customers["predicted_transactions"]
    assert more.sum() > 100 and (more > 0).mean() > 0.9  # dormant customers come back
    # a customer who never came back has no dropout behind them: waking can only add; a heavy
    # buyer may get less, as their history is now also explained by dropping out and waking
    never = summarise(history, END).x == 0
    assert more[never].min() > -1e-3


def test_forecast_history_writes_its_files_and_accepts_a_dataframe(tmp_path: Path):
    raw = pd.read_csv(CDNOW)  # a plain DataFrame, not yet checked or merged
    calibration = clmlang.fit_history(raw, END, model="bgnbd")
    out = clmlang.forecast_history(raw, END, UNTIL, market=calibration, replications=2, seed=3)
    assert out.summary["actual_repeat_transactions"] == 1882  # compared with what happened
    assert out.summary["holdout_repeat_transactions"] == pytest.approx(1653, abs=5)
    written = out.write(tmp_path)
    assert sorted(p.name for p in written) == ["customers.csv", "forecast.json", "report.html"]
    payload = json.loads((tmp_path / "forecast.json").read_text())
    assert payload["buying_model"] == "bgnbd" and len(payload["fits"]) == 5
    again = clmlang.forecast_history(raw, END, UNTIL, market=calibration, replications=2, seed=3)
    assert again.files() == out.files()  # the same seed, the same bytes


def test_forecast_history_rejects_what_it_cannot_do(history: pd.DataFrame):
    market = _market(r=0.3, alpha=30.0, a=0.8, b=2.0)
    with pytest.raises(ValueError, match="model"):
        clmlang.forecast_history(history, END, UNTIL, market=market, model="bgnbd")
    with pytest.raises(ValueError, match="unknown buying model"):
        clmlang.forecast_history(history, END, UNTIL, model="magic")
    with pytest.raises(ValueError, match="until: not a date"):
        clmlang.forecast_history(history, END, "soon", market=market)
    with pytest.raises(ValueError, match="not after the calibration end"):
        clmlang.forecast_history(history, END, "1997-01-01", market=market)
    both = _market(r=0.3, alpha=30.0, a=0.8, b=2.0, reactivation=0.01, rate_after={3: 0.8})
    with pytest.raises(clmlang.MarketError, match="reactivation and rate_after"):
        clmlang.forecast_history(history, END, UNTIL, market=both)
    bad = pd.DataFrame({"customer_id": ["a", "b"], "date": ["2024-01-01", "later"]})
    with pytest.raises(clmlang.HistoryError, match="amount"):
        clmlang.forecast_history(bad, END, UNTIL)
    with pytest.raises(clmlang.HistoryError, match="index 1, column `date`: not a date"):
        clmlang.forecast_history(bad.assign(amount=1.0), END, UNTIL)


def test_cli_forecast_with_a_market_file_fits_nothing(tmp_path: Path):
    """`clm forecast --market FILE` uses the file's buying model as it is."""
    scenario = tmp_path / "market.toml"
    scenario.write_text("[market.buying]\nr = 0.5\nalpha = 14.0\na = 0.3\nb = 3.0\n")

    common = ["--history", str(CDNOW), "--calibration-end", END, "--until", UNTIL]
    done = clm("forecast", *common, "--market", str(scenario), "--out", str(tmp_path / "fc"))
    assert done.returncode == 0, done.stderr
    payload = json.loads((tmp_path / "fc" / "forecast.json").read_text())
    summary = summarise(clmlang.load_history(CDNOW), END)
    expected = bgnbd_expected_holdout(summary, WEEKS, 0.5, 2.0, 0.3, 3.0).sum()
    assert payload["holdout_repeat_transactions"] == pytest.approx(expected)
    assert payload["fits"] == [] and payload["bgnbd_closed_form_transactions"] is None
    both = clm("forecast", *common, "--market", str(scenario), "--model", "bgnbd")
    assert both.returncode == 2 and "--market" in both.stderr
