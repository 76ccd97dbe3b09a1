"""The forecast report a manager reads (`clm forecast`'s report.html): the verdict first, every
chart drawn in a real browser with its 95% band, no raw keys or unformatted numbers, the
policy named with its effect; `HoldoutForecast.plot` and `_repr_html_` in a notebook; the
currency check (a spec priced in roubles on a dollar history)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.forecasting.spread import Z95, weekly_frame

from .browser import needs_chromium, render, screenshot
from .conftest import ROOT, clm_here

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
SHOP = ROOT / "specs" / "ecommerce_rfm.clm"  # USD, prices 4 to 55: CDNOW's orders average ~$39
CLINIC = ROOT / "specs" / "clinic.clm"  # RUB, prices 2,500 to 120,000
END, UNTIL = "1997-09-30", "1997-11-30"
MARKET = {
    "buying": {"r": 0.243, "alpha": 4.41 * 7, "a": 0.79, "b": 2.43},
    "spend": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
SECTIONS = ("verdict", "purchases", "by-purchases", "revenue", "active", "policy", "figures")


@pytest.fixture(scope="module")
def shop() -> clmlang.HoldoutForecast:
    """A USD spec on CDNOW, a given market, 2 replications, two months: a few seconds."""
    market = clmlang.Market.model_validate(MARKET)
    return clmlang.forecast_history(CDNOW, END, UNTIL, SHOP, market=market, replications=2)


def _market_file(folder: Path) -> Path:
    path = folder / "market.toml"
    buying = MARKET["buying"]
    spend = MARKET["spend"]
    path.write_text(
        "[market.buying]\n"
        + "".join(f"{k} = {v}\n" for k, v in buying.items())
        + "[market.spend]\n"
        + "".join(f"{k} = {v}\n" for k, v in spend.items())
    )
    return path


@needs_chromium
def test_the_report_renders_every_section_and_chart_in_chromium(
    shop: clmlang.HoldoutForecast, tmp_path: Path
):
    """Each section is there, every chart drew something, the bands are drawn, the visible
    text has no raw key, None, NaN or 6-decimal float, and the policy is named with its
    effect."""
    shop.write(tmp_path)
    page = tmp_path / "report.html"
    html = page.read_text()
    assert html.count("plotly.js v") == 1  # plotly.js inlined once, not per chart
    done = render(page)
    charts = done.attribute("data-charts")
    assert charts == 6, done.stderr[-2000:]  # the page's script ran to its end
    assert done.attribute("data-charts-rendered") == charts
    assert done.attribute("data-charts-empty") == 0
    assert "Uncaught" not in done.stderr
    for section in SECTIONS:
        assert f"id='{section}'" in html or f'id="{section}"' in done.dom, section
    text = done.text()
    assert "In short" in text and text.index("In short") < text.index("Key figures")
    assert "The policy: Online store" in text
    assert "against the same customers with no marketing" in text  # the effect, in words
    assert "95% range" in text and "95% interval" in text
    for raw in ("mape", "None", "nan", "NaN", "calibration_end", "holdout_"):
        assert raw not in text, raw
    assert not re.findall(r"\b[a-z]+_[a-z0-9_]+\b", text)  # no snake_case key
    assert not re.findall(r"\d\.\d{5,}", text)  # no unformatted float
    # every predicted series has its band; the effect chart its intervals
    drawn = shop.plot()
    for name in ("weekly", "cumulative", "revenue"):
        assert [t.meta for t in drawn[name].data].count("interval") == 1, name
    assert [t.meta for t in drawn["effect"].data].count("interval") >= 2
    assert html.count('"meta":"interval"') >= 5
    png = screenshot(page, tmp_path / "report.png", height=4800)
    assert png.stat().st_size > 50_000  # a page of charts, not a blank one


def test_plot_and_repr_for_a_notebook(shop: clmlang.HoldoutForecast):
    """`plot()` gives every chart by name, `plot(name)` one, an unknown name a KeyError;
    `_repr_html_` is the verdict and the key figures; the frames have proper dtypes."""
    drawn = shop.plot()
    assert list(drawn) == ["weekly", "cumulative", "by_purchases", "revenue", "p_alive", "effect"]
    assert shop.plot("p_alive") is not None
    with pytest.raises(KeyError, match="no chart 'nope'"):
        shop.plot("nope")
    # the P(alive) chart counts every customer once
    assert sum(drawn["p_alive"].data[0].y) == shop.summary["customers"]
    summary = shop._repr_html_()
    assert summary.startswith("<div") and "Online store" in summary
    assert "repeat purchases (95% range" in summary and "<table>" in summary
    assert "currency" not in summary.lower() or "USD" in summary
    weekly, customers = shop.weekly, shop.customers
    assert pd.api.types.is_datetime64_any_dtype(weekly["week_start"])
    assert weekly["week_start"].iloc[0] == pd.Timestamp("1997-10-01")
    for column in ("week", "actual_transactions"):
        assert weekly[column].dtype == np.int64, column
    for column in ("calibration_purchases", "actual_transactions"):
        assert customers[column].dtype == np.int64, column
    # the calibration plot's groups are the customers' calibration purchases, from the history
    history = pd.read_csv(CDNOW, parse_dates=["date"])
    days = history[history["date"] <= END].groupby("customer_id")["date"].nunique() - 1
    assert int((customers["calibration_purchases"] == 0).sum()) == int((days == 0).sum())


def test_the_weekly_band_is_the_replications_spread():
    """Week by week: the forecast plus or minus 1.96 standard deviations of the replications
    (clipped at 0); cumulated: of the replications' running totals."""
    reps = np.array([[[2.0, 4.0], [4.0, 8.0], [6.0, 0.0]], [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])
    frame = weekly_frame(pd.Timestamp("2024-01-01"), np.array([4.0, 3.0]), np.ones(2), reps)
    # week 0: replications 2, 4, 6 (sd 2); week 1: 4, 8, 0 (sd 4); running totals 6, 12, 6
    assert frame["predicted_transactions_high"].tolist() == pytest.approx(
        [4 + 2 * Z95, 3 + 4 * Z95]
    )
    assert frame["predicted_transactions_low"].tolist() == pytest.approx([4 - 2 * Z95, 0.0])
    sd = np.std([6.0, 12.0, 6.0], ddof=1)
    assert frame["cumulative_predicted_transactions_high"].iloc[1] == pytest.approx(7 + Z95 * sd)
    assert frame["predicted_revenue_low"].tolist() == [1.0, 1.0]  # no spread, no band width
    assert frame["week_start"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")]


def _repeat_order_value() -> float:
    """CDNOW's mean repeat order value in the calibration period, straight from the CSV: a
    day's purchases of a customer are one, each customer's first day left out."""
    history = pd.read_csv(CDNOW, parse_dates=["date"])
    days = history[history["date"] <= END].groupby(["customer_id", "date"])["amount"].sum()
    days = days.reset_index().sort_values(["customer_id", "date"])
    repeat = days[days.duplicated("customer_id")]
    return float(repeat["amount"].mean())


def test_a_rouble_spec_on_a_dollar_history_is_warned_about(tmp_path: Path):
    """The clinic's RUB prices on CDNOW's dollars: a warning with a hint on stderr, in
    forecast.json and at the top of the report; a USD spec whose prices fit is not warned
    about; with --history-currency USD the clinic is refused (exit 1)."""
    market = _market_file(tmp_path)
    common = ["--history", str(CDNOW), "--calibration-end", END, "--until", "1997-10-31"]
    common += ["--market", str(market), "--replications", "1"]
    done = clm_here("forecast", str(CLINIC), *common, "--out", str(tmp_path / "clinic"))
    assert done.returncode == 0, done.stderr
    assert f"{CLINIC}:4:24: warning: the spec 'Clinic group' (currency: RUB)" in done.stderr
    assert "\n  hint: check that the history's amounts are in RUB" in done.stderr
    warning = json.loads((tmp_path / "clinic" / "forecast.json").read_text())["currency_warning"]
    assert warning["spec_typical_price"] == 6000  # the median of 2,500 .. 120,000
    assert warning["history_order_value"] == pytest.approx(_repeat_order_value(), rel=1e-9)
    assert warning["forecast_order_value"] > 10 * warning["history_order_value"]
    page = (tmp_path / "clinic" / "report.html").read_text()
    assert page.index("id='currency-warning'") < page.index("id='verdict'")

    done = clm_here("forecast", str(SHOP), *common, "--out", str(tmp_path / "shop"))
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    figures = json.loads((tmp_path / "shop" / "forecast.json").read_text())
    assert "currency_warning" not in figures and figures["currency"] == "USD"

    done = clm_here("forecast", str(CLINIC), *common, "--history-currency", "usd")
    assert done.returncode == 1
    assert f"{CLINIC}:4:24: error: the history is in USD but the spec 'Clinic group'" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_the_program_line_of_a_spec_saved_with_a_byte_order_mark_is_placed(tmp_path):
    """A spec whose first line is its `program` (saved by Windows Notepad, with a UTF-8 byte
    order mark) is placed at that line's currency, as the spec reads without the mark."""
    from clmlang.cli.forecast_lines import program_place

    spec = tmp_path / "shop.clm"
    spec.write_bytes(b'\xef\xbb\xbfprogram "Shop" currency EUR\n')
    assert program_place(spec) == f"{spec}:1:16"
