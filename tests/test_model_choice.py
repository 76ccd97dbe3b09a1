"""Scoring the buying models out of sample: the backtest inside the calibration period."""

from __future__ import annotations

import json

import numpy as np

from clmlang.forecasting.backtest import Backtest, choose, deviance, expected_purchases
from clmlang.forecasting.fitting import Fit
from clmlang.forecasting.history import Summary
from clmlang.forecasting.posterior import bgnbd_expected_holdout

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
    """The stage model's exact expectation with every multiplier 1 is BG/NBD's closed form
    (eq. 10 of Fader, Hardie and Lee), customer by customer."""
    s = _summary()
    params = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    stages = Fit("bgnbd_stages", {**params, "m3": 1.0, "m8": 1.0}, {}, 0.0, s.x.size)
    exact = expected_purchases(s, stages, 20.0)
    closed = bgnbd_expected_holdout(s, 20.0, *params.values())
    assert np.allclose(exact, closed, rtol=1e-9, atol=1e-12)


def _simulated(s: Summary, params: dict, multipliers: dict, weeks: float, draws: int, seed):
    """Each customer's purchases in the next `weeks`, simulated `draws` times from the stage
    model's posterior draw (alive with P(alive), a Gamma rate, a Beta dropout), purchase by
    purchase, written out here: (mean, standard error) per customer."""
    from clmlang.forecasting.backtest import buying
    from clmlang.forecasting.posterior import Latent

    rng = np.random.default_rng(seed)
    model = buying(Fit("bgnbd_stages", {**params, **multipliers}, {}, 0.0, s.x.size))
    latent = Latent(s, model)
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    n = s.x.size
    who = np.tile(np.arange(n), draws)  # one row per draw of each customer
    alive = rng.random(who.size) < latent.p_alive[who]
    rate = rng.gamma(r + s.x[who], 1.0 / (alpha + latent.e_T[who]))
    dropout = rng.beta(a, b + s.x[who])
    made = s.x[who] + 1  # purchases made so far, the first included
    clock, going = np.zeros(who.size), alive.copy()
    counts = np.zeros(who.size)
    while going.any():
        i = np.flatnonzero(going)
        clock[i] += rng.exponential(1.0 / (rate[i] * model.rate_multiplier(made[i])))
        bought = clock[i] <= weeks
        counts[i[bought]] += 1
        made[i] += 1
        going[i] = bought & (rng.random(i.size) >= dropout[i])
    per = counts.reshape(draws, n)
    return per.mean(axis=0), per.std(axis=0, ddof=1) / np.sqrt(draws)


def test_stage_forecast_matches_a_simulation_of_the_model():
    """With multipliers 0.5 from the 3rd purchase and 2 from the 8th, the exact expectation
    agrees with a purchase-by-purchase simulation of the model (written out in the test):
    the total within 4 standard errors, and the 100 customers' means each within 4.5."""
    s = _summary(n=100, seed=5)
    params = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    multipliers = {"m3": 0.5, "m8": 2.0}
    fit = Fit("bgnbd_stages", {**params, **multipliers}, {}, 0.0, s.x.size)
    exact = expected_purchases(s, fit, 20.0)
    mean, se = _simulated(s, params, multipliers, 20.0, 4000, 11)
    assert np.all(np.abs(exact - mean) < 4.5 * se + 1e-12)
    assert abs(exact.sum() - mean.sum()) < 4 * np.sqrt(np.sum(se**2))


def test_stage_forecast_in_small_tables_is_the_same(monkeypatch):
    """The customers x events table is made a few rows at a time (a million customers' table
    once took 9 GB): any row count per table gives the same expectation; no time ahead, none."""
    from clmlang.forecasting import stage_purchases

    s = _summary(n=300, seed=7)
    fit = Fit("bgnbd_stages", {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5, "m3": 0.5}, {}, 0, 300)
    whole = expected_purchases(s, fit, 20.0)
    monkeypatch.setattr(stage_purchases, "CELLS", 700)  # a few rows per table
    np.testing.assert_allclose(expected_purchases(s, fit, 20.0), whole, rtol=1e-13, atol=0)
    assert np.array_equal(expected_purchases(s, fit, 0.0), np.zeros(300))


def test_stage_multiplier_below_one_lowers_the_forecast():
    """A multiplier of 0.5 from the 3rd purchase forecasts fewer purchases in all than 1 does
    (not for every customer: the multiplier also changes the exposure each posterior reads)."""
    s = _summary()
    params = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    one = Fit("bgnbd_stages", {**params, "m3": 1.0}, {}, 0.0, s.x.size)
    half = Fit("bgnbd_stages", {**params, "m3": 0.5}, {}, 0.0, s.x.size)
    high = expected_purchases(s, one, 20.0)
    low = expected_purchases(s, half, 20.0)
    assert low.sum() < 0.9 * high.sum()


def _score(model, deviance, gain=0.0, se=0.0):
    return Backtest(
        model, ("1997-04-01", "1997-05-01"), "1997-06-30", 900.0, 900.0, 1.0, deviance, gain,
        se, 0.5,
    )  # fmt: skip


def test_choose_keeps_bgnbd_unless_another_model_is_clearly_better():
    """A model whose deviance beats BG/NBD's by less than one standard error does not
    replace it; by more, it does."""
    near = [_score("bgnbd", 1000.0), _score("bgnbd_reactivation", 990.0, 10.0, 12.0)]
    assert choose(near)[0] == "bgnbd"
    clear = [_score("bgnbd", 1000.0), _score("bgnbd_reactivation", 980.0, 20.0, 12.0)]
    assert choose(clear)[0] == "bgnbd_reactivation"


def test_choose_takes_the_lowest_deviance_among_the_clear_ones():
    scores = [
        _score("bgnbd", 1000.0),
        _score("bgnbd_stages", 950.0, 50.0, 10.0),
        _score("bgnbd_reactivation", 900.0, 100.0, 60.0),
    ]
    model, reason = choose(scores)
    assert model == "bgnbd_reactivation" and "one standard error" in reason


def test_choose_without_a_backtest_keeps_bgnbd():
    assert choose(None)[0] == "bgnbd"


def test_poisson_deviance():
    """0 for a perfect forecast; 2 mu for a customer who bought nothing; 2 (y log(y/mu) -
    y + mu) otherwise."""
    actual = np.array([0.0, 0.0, 3.0, 2.0])
    mean = np.array([0.0, 0.5, 3.0, 1.0])
    expected = [0.0, 1.0, 0.0, 2 * (2 * np.log(2) - 1)]
    assert np.allclose(deviance(actual, mean), expected)


def _repeat_purchases(start: str, end: str, known_by: str) -> int:
    """Repeat purchases (same-day ones merged) from the day after `start` to `end` by the
    customers who had bought by `known_by`, counted from the file."""
    import pandas as pd

    frame = pd.read_csv(CDNOW, parse_dates=["date"]).drop_duplicates(["customer_id", "date"])
    known = frame[frame["date"] <= known_by]["customer_id"].unique()
    window = frame[(frame["date"] > start) & (frame["date"] <= end)]
    return int(window["customer_id"].isin(known).sum())


def test_calibrate_to_june_keeps_bgnbd_and_shows_the_backtest():
    """CDNOW calibrated to 1997-06-30: AIC would take the stage multipliers (worst out of
    sample, docs/calibration.md); no model beats BG/NBD's backtest by more than one standard
    error, so BG/NBD is kept. The backtest's actual is the repeat purchases after each origin
    (half and two thirds of the period), counted from the file."""
    import pandas as pd

    result = clm("calibrate", CDNOW, "--calibration-end", "1997-06-30")
    assert result.returncode == 0, result.stderr
    first = pd.read_csv(CDNOW, parse_dates=["date"])["date"].min()
    days = (pd.Timestamp("1997-06-30") - first).days
    cuts = [str((first + pd.Timedelta(days=round(days * k))).date()) for k in (1 / 2, 2 / 3)]
    actual = sum(_repeat_purchases(c, "1997-06-30", c) for c in cuts)
    assert f"({actual:,} repeat transactions in all)" in result.stdout
    assert "buying model with the lowest AIC: bgnbd_stages" in result.stdout
    assert "the market carries bgnbd: no other model" in result.stdout
    for model in ("bgnbd", "bgnbd_stages", "bgnbd_reactivation"):
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"  {model} "))
        assert "Poisson deviance" in line and "RMSE" in line


def test_forecast_from_september_chooses_reactivation_within_the_targets(tmp_path):
    """CDNOW calibrated to 1997-09-30, forecast to 1998-06-30, no spec: the backtest chooses
    reactivation, whose total is within 5% of what happened (counted from the file) and whose
    revenue within 8%; forecast.json's fits and the report carry every backtest."""
    import pandas as pd

    out = tmp_path / "fc"
    result = clm(
        "forecast", "--history", CDNOW, "--calibration-end", "1997-09-30",
        "--until", "1998-06-30", "--replications", "1", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "backtest bgnbd_reactivation" in result.stdout
    payload = json.loads((out / "forecast.json").read_text())
    assert payload["buying_model"] == "bgnbd_reactivation"
    assert "one standard error" in payload["model_choice"]
    actual = _repeat_purchases("1997-09-30", "1998-06-30", "1997-09-30")
    assert actual == 1882
    assert abs(payload["holdout_repeat_transactions"] / actual - 1) < 0.05
    frame = pd.read_csv(CDNOW, parse_dates=["date"])
    revenue = frame[(frame["date"] > "1997-09-30") & (frame["date"] <= "1998-06-30")]
    assert abs(payload["holdout_revenue"] / revenue["amount"].sum() - 1) < 0.08
    fits = {f["model"]: f for f in payload["fits"]}
    for model in ("bgnbd", "bgnbd_stages", "bgnbd_reactivation"):
        assert fits[model]["backtest"]["actual"] > 100
    assert fits["bgnbd_reactivation"]["backtest"]["deviance_gain"] > 0
    assert "backtest" not in fits["pareto_nbd"]
    page = (out / "report.html").read_text()
    assert "backtest: Poisson deviance" in page and "not a candidate" in page


def test_a_named_model_skips_the_backtest_unless_asked():
    result = clm("calibrate", CDNOW, "--calibration-end", "1997-09-30", "--model", "bgnbd")
    assert result.returncode == 0, result.stderr
    assert "backtest" not in result.stdout and "the market carries bgnbd: named" in result.stdout


def test_backtest_with_a_market_is_refused():
    """`--backtest` with `--market` is a usage error, not a traceback."""
    result = clm(
        "forecast", "--history", CDNOW, "--calibration-end", "1997-09-30", "--until",
        "1997-12-31", "--market", str(ROOT / "tests" / "data" / "cdnow_sample.csv"), "--backtest",
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--backtest and --market" in result.stderr
