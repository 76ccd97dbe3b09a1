"""Calibration on real purchase histories: reading (CSV, Parquet, SQL), same-day merging, the
calibration cut-off, and maximum-likelihood fits that reproduce the published CDNOW values."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import clmlang
from clmlang.forecasting.calibration import fit_history
from clmlang.forecasting.history import HistoryError, load_history, summarise
from clmlang.market.scenario import load_scenario

from .conftest import ROOT, clm

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
END = "1997-09-30"


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return load_history(CDNOW)


def test_same_day_purchases_are_merged(history: pd.DataFrame):
    summary = summarise(history, END)
    assert summary.x.size == 2357
    assert summary.x.sum() == 2457  # repeat transactions in calibration (data README)
    holdout = history[(history["date"] > END) & (history["date"] <= "1998-06-30")]
    assert len(holdout) == 1882


def test_fits_reproduce_the_published_values(history: pd.DataFrame):
    result = fit_history(history, END, model="bgnbd_reactivation")  # best is AIC's
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for key, value in published.items():
        assert result.bgnbd.params[key] == pytest.approx(value, rel=0.01)
    assert result.bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    pareto = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for key, value in pareto.items():
        assert result.pareto_nbd.params[key] == pytest.approx(value, rel=0.01)
    gg = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    for key, value in gg.items():
        assert result.gamma_gamma.params[key] == pytest.approx(value, rel=0.01)
    assert all(0 < se < result.bgnbd.params[k] for k, se in result.bgnbd.std_errors.items())
    # by AIC, on calibration data only: customers who stop buying come back
    assert result.best == "bgnbd_reactivation"
    assert result.reactivation.aic < min(result.bgnbd.aic, result.pareto_nbd.aic) - 10
    wake = result.reactivation.params["omega"]
    assert wake - 3 * result.reactivation.std_errors["omega"] > 0
    # the market speaks days: alpha and omega in weeks, converted
    assert result.market.buying.alpha == pytest.approx(result.reactivation.params["alpha"] * 7)
    assert result.market.buying.reactivation == pytest.approx(wake / 7)
    plain = fit_history(history, END, model="bgnbd").market.buying
    assert plain.reactivation == 0 and plain.alpha == pytest.approx(4.414 * 7, rel=0.01)


def test_nothing_after_the_calibration_end_is_used(history: pd.DataFrame):
    base = fit_history(history, END, model="bgnbd")  # named: no backtest to pay for
    later = pd.DataFrame(
        {
            "customer_id": ["1"] * 50 + ["new"],
            "date": pd.date_range("1997-10-01", periods=51, freq="D"),
            "amount": [1.0] * 51,
        }
    )
    more = fit_history(pd.concat([history, later], ignore_index=True), END, model="bgnbd")
    assert more.bgnbd.params == base.bgnbd.params
    assert more.gamma_gamma.params == base.gamma_gamma.params


def test_parquet_and_sql_read_the_same_history(history: pd.DataFrame, tmp_path: Path):
    raw = pd.read_csv(CDNOW)
    parquet = tmp_path / "h.parquet"
    raw.to_parquet(parquet)
    database = tmp_path / "h.db"
    with sqlite3.connect(database) as connection:
        raw.to_sql("purchases", connection, index=False)
    from_parquet = load_history(parquet)
    from_sql = load_history(f"sqlite:///{database}", query="select * from purchases")
    pd.testing.assert_frame_equal(from_parquet, history)
    pd.testing.assert_frame_equal(from_sql, history)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer,date,amount\n1,1997-01-01,3\n", "no column `customer_id`"),
        (
            "customer_id,date,amount\n1,1997-01-01,3\n2,yesterday,4\n",
            "row 3, column `date`: not a date: 'yesterday'",
        ),
        (
            "customer_id,date,amount\n1,1997-01-01,3\n2,1997-01-02,lots\n",
            "row 3, column `amount`: not a number",
        ),
        (
            "customer_id,date,amount\n,1997-01-01,3\n",
            "row 2, column `customer_id`: an empty customer id",
        ),
    ],
)
def test_bad_files_name_the_row_and_column(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert message in str(info.value)


def test_cli_writes_a_market_the_simulator_reads(tmp_path: Path):
    out = tmp_path / "market.toml"
    done = clm(
        "calibrate", str(CDNOW), "--calibration-end", END, "--model", "bgnbd_reactivation",
        "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "bgnbd" in done.stdout and "log-likelihood -9,582.4" in done.stdout
    settings, market = load_scenario(out)
    assert settings.customers == 2357 and market.population.start == "existing"
    assert abs(sum(market.population.purchases.values()) - 1) < 1e-9
    spec = tmp_path / "none.clm"
    spec.write_text('program "No marketing"\nstage all when purchases >= 0\n')
    forecast = clmlang.simulate(spec, market, customers=500, days=60, rng=1)
    assert forecast.summary["purchases"] > 0
    bad = clm("calibrate", str(CDNOW), "--calibration-end", "not-a-date")
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_simulated_forecast_equals_the_bgnbd_closed_form(history: pd.DataFrame):
    """Configured as plain BG/NBD with no policy, the simulation from the real base agrees
    with the closed form E[Y(t) | x, t_x, T], within sampling error."""
    replications = 30
    out = clmlang.forecast_history(
        history, END, "1998-06-30", model="bgnbd", replications=replications, seed=2
    ).summary
    simulated, closed = out["simulated_repeat_transactions"], out["bgnbd_closed_form_transactions"]
    assert out["holdout_repeat_transactions"] == pytest.approx(closed)  # no policy: the closed form
    error = out["holdout_repeat_transactions_sd"] / replications**0.5
    assert abs(simulated - closed) < 4 * error + 0.005 * closed
    assert closed == pytest.approx(1653, abs=5)  # the published BG/NBD forecast
    assert out["actual_repeat_transactions"] == 1882
    assert 0.55 < out["correlation"] < 0.7 and out["rmse"] > 0


def test_cli_forecast_writes_its_files(tmp_path: Path):
    done = clm(
        "forecast",
        "--history",
        str(CDNOW),
        "--calibration-end",
        END,
        "--until",
        "1998-06-30",
        "--replications",
        "3",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "customers.csv")
    assert list(table.columns) == [
        "customer_id",
        "predicted_transactions",
        "predicted_revenue",
        "p_alive",
    ]
    assert len(table) == 2357 and table["p_alive"].between(0, 1).all()
    import json

    payload = json.loads((tmp_path / "forecast.json").read_text(), parse_constant=_no_nan)
    assert {"holdout_repeat_transactions", "holdout_revenue", "weekly"} <= set(payload)
    models = [f["model"] for f in payload["fits"]]  # every model, as fitted
    assert models == ["bgnbd", "pareto_nbd", "bgnbd_stages", "bgnbd_reactivation", "gamma_gamma"]
    assert payload["buying_model"] == "bgnbd_reactivation"
    assert len(payload["weekly"]["predicted_transactions"]) == 39
    page = (tmp_path / "report.html").read_text()
    assert page.count('<figure class="chart"') == 5 and "Actual repeat purchases" in page
    assert "BG/NBD with reactivation (chosen)" in page and "omega" in page
    assert "<script src" not in page  # offline: plotly.js inlined; and nothing else fetched
    markup = re.sub(r"<script\b.*?</script>", "", page, flags=re.S)
    assert not re.search(r"(src|href)=[\"']https?://", markup)


def _no_nan(name: str) -> None:
    raise AssertionError(f"forecast.json holds {name}: not JSON")


def test_history_from_a_real_postgresql_server(history: pd.DataFrame):
    """The database path against a PostgreSQL server the test starts."""
    from tests import postgres

    if not postgres.available():
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    import sqlalchemy

    with postgres.server() as url:
        engine = sqlalchemy.create_engine(url)
        raw = pd.read_csv(CDNOW).rename(columns={"customer_id": "client", "date": "day"})
        raw.to_sql("orders", engine, index=False)
        engine.dispose()
        loaded = load_history(
            url,
            query="select client, day, amount from orders",
            customer_col="client",
            date_col="day",
        )
        with pytest.raises(HistoryError) as info:
            load_history(url, query="select * from no_such_table")
        assert "postgresql" in str(info.value) and "no_such_table" in str(info.value)
    pd.testing.assert_frame_equal(loaded, history)


def test_calibrate_returns_the_market(history: pd.DataFrame):
    market = clmlang.calibrate(history, END, model="bgnbd")
    assert isinstance(market, clmlang.Market)
    assert market.buying.r == pytest.approx(0.243, rel=0.01)
    assert clmlang.calibrate(history, END).buying.reactivation > 0  # chosen by the backtest
