"""Scoring the buying models out of sample: the backtest inside the calibration period."""

from __future__ import annotations

import json

import numpy as np

from clmlang.forecasting.backtest import Backtest, choose, expected_purchases
from clmlang.forecasting.fitting import Fit
from clmlang.forecasting.history import Summary
from clmlang.forecasting.holdout import bgnbd_expected_holdout

from .conftest import ROOT, clm

CDNOW = str(ROOT / "tests" / "data" / "cdnow_sample.csv")


def _summary(n: int = 400, seed: int = 1) -> Summary:
    rng = np.random.default_rng(seed)
    x = rng.poisson(2.0, n)
    T = rng.uniform(20, 40, n)
    t_x = np.where(x > 0, T * rng.uniform(0.2, 1.0, n), 0.0)
    times = [np.sort(rng.uniform(0, t, k)) for t, k in zip(t_x, x, strict=True)]
    times = [np.append(t[:-1], tx) if t.size else t for t, tx in zip(times, t_x, strict=True)]
    return Summary(
        customers=np.arange(n).astype(str),
        x=x,
        t_x=t_x,
        T=T,
        monetary=np.full(n, 10.0),
        first=np.full(n, np.datetime64("1997-01-01")),
        times=times,
    )


def test_stage_forecast_with_multipliers_one_is_bgnbd():
    """The stage model's simulated forecast with every multiplier 1 matches BG/NBD's closed
    form, total within 4 standard errors of the Monte Carlo mean."""
    s = _summary()
    params = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    stages = Fit("bgnbd_stages", {**params, "m3": 1.0, "m8": 1.0}, {}, 0.0, s.x.size)
    draws = expected_purchases(s, stages, 20.0, np.random.default_rng(3))
    closed = bgnbd_expected_holdout(s, 20.0, *params.values())
    # each customer's mean is over 200 draws of a count with a mean about 1-2: the total's
    # standard error is below sqrt(sum of per-customer variances / 200); a count's variance is
    # at most a few times its mean here, so 3 x the mean bounds it
    se = np.sqrt(3 * closed.sum() / 200)
    assert abs(draws.sum() - closed.sum()) < 4 * se


def test_stage_multiplier_below_one_lowers_the_forecast():
    """A multiplier of 0.5 from the 3rd purchase forecasts fewer purchases than 1 does,
    beyond the Monte Carlo noise."""
    s = _summary()
    params = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    one = Fit("bgnbd_stages", {**params, "m3": 1.0}, {}, 0.0, s.x.size)
    half = Fit("bgnbd_stages", {**params, "m3": 0.5}, {}, 0.0, s.x.size)
    rng = np.random.default_rng
    high = expected_purchases(s, one, 20.0, rng(0)).sum()
    low = expected_purchases(s, half, 20.0, rng(1)).sum()
    se = np.sqrt(3 * high / 200)  # as above: a bound on each total's Monte Carlo error
    assert high - low > 4 * np.sqrt(2) * se


def _score(model, predicted, mse, se=0.01):
    return Backtest(model, "1997-05-01", "1997-06-30", predicted, 900.0, mse, se, 0.5)


def test_choose_prefers_the_closest_total_when_the_per_customer_error_is_fair():
    """A model whose total is far better and whose per-customer error is no worse wins."""
    scores = [_score("bgnbd", 800.0, 1.0, 0.0), _score("bgnbd_reactivation", 905.0, 1.01)]
    assert choose(scores, {"bgnbd": 10.0, "bgnbd_reactivation": 5.0}) == "bgnbd_reactivation"


def test_choose_drops_a_model_with_a_significantly_worse_per_customer_error():
    """A better total does not win when its per-customer error is worse beyond 2 SE."""
    scores = [_score("bgnbd", 800.0, 1.0, 0.0), _score("bgnbd_stages", 900.0, 1.5, 0.1)]
    assert choose(scores, {"bgnbd": 10.0, "bgnbd_stages": 5.0}) == "bgnbd"


def test_choose_goes_by_aic_when_the_totals_are_within_noise():
    """Totals 10 apart on 900 (Poisson noise 30) cannot be told apart: the lower AIC wins."""
    scores = [_score("bgnbd", 895.0, 1.0, 0.0), _score("bgnbd_reactivation", 905.0, 1.0)]
    assert choose(scores, {"bgnbd": 5.0, "bgnbd_reactivation": 10.0}) == "bgnbd"


def test_calibrate_shows_the_backtest_scores(tmp_path):
    """`clm calibrate --backtest` prints each candidate's backtest, whose actual is the
    history's repeat purchases in the window counted here from the file."""
    import pandas as pd

    result = clm("calibrate", CDNOW, "--calibration-end", "1997-06-30", "--backtest")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(CDNOW, parse_dates=["date"]).drop_duplicates(["customer_id", "date"])
    start, end = frame["date"].min(), pd.Timestamp("1997-06-30")
    cut = start + pd.Timedelta(days=round((end - start).days * 2 / 3))
    known = frame[frame["date"] <= cut]["customer_id"].unique()
    window = frame[(frame["date"] > cut) & (frame["date"] <= end)]
    actual = int(window["customer_id"].isin(known).sum())
    assert f"forecast to 1997-06-30 ({actual:,} repeat transactions)" in result.stdout
    for model in ("bgnbd", "bgnbd_stages", "bgnbd_reactivation"):
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"  {model} "))
        assert "total" in line and "RMSE" in line


def test_forecast_json_and_report_carry_the_backtest(tmp_path):
    """`clm forecast --backtest` puts each buying model's backtest in forecast.json's fits
    and the report's fits table."""
    out = tmp_path / "fc"
    result = clm(
        "forecast", "--history", CDNOW, "--calibration-end", "1997-09-30",
        "--until", "1997-12-31", "--backtest", "--replications", "1", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "backtest bgnbd_reactivation" in result.stdout
    fits = {f["model"]: f for f in json.loads((out / "forecast.json").read_text())["fits"]}
    for model in ("bgnbd", "bgnbd_stages", "bgnbd_reactivation"):
        assert fits[model]["backtest"]["actual"] > 100
    assert "backtest" not in fits["pareto_nbd"]
    assert "backtest: transactions, RMSE" in (out / "report.html").read_text()


def test_backtest_with_a_market_is_refused():
    """`--backtest` with `--market` is a usage error, not a traceback."""
    result = clm(
        "forecast", "--history", CDNOW, "--calibration-end", "1997-09-30", "--until",
        "1997-12-31", "--market", str(ROOT / "tests" / "data" / "cdnow_sample.csv"), "--backtest",
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--backtest and --market" in result.stderr
