"""A simulation forecast in a notebook: frames with proper dtypes, the compact HTML summary,
the Plotly charts, and the Kaplan-Meier retention curve they draw."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.simulation.lifetime import still_buying

SPEC = """program "Refill shop" currency USD
channel email cost 1
product starter "Starter kit" role lead price 10 cost 4
product refill role profit price 50 cost 20 every 30 days
stage first_steps "Up to two purchases" when purchases <= 2
stage regular when purchases >= 3
rule nudge "Bring newcomers back" {
  in stage first_steps
  when days_since_purchase >= 20 days
  holdout 30%
  reentry once
  send email "Time for a refill"
  success purchase within 14 days
}
"""


@pytest.fixture(scope="module")
def forecast():
    return clmlang.simulate(clmlang.loads(SPEC), customers=1_500, days=150, rng=3, logs=True)


def test_frames_have_proper_dtypes(forecast):
    """Dates are datetimes, counts integers, money floats; the rule's A/B arm is `arm`."""
    daily = forecast.daily
    assert pd.api.types.is_datetime64_dtype(daily["date"])
    assert daily["date"].iloc[0] == pd.Timestamp("2026-01-01")
    assert (daily["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    counts = ["day", "customers", "alive", "active", "new_customers", "purchases", "messages"]
    counts += ["messages_email", "capped", "delayed", "over_capacity", "unsubscribes"]
    counts += ["burned_out"]
    for column in counts:
        assert daily[column].dtype == np.int64, column
    for column in ["revenue", "gross_profit", "marketing_cost", "profit", "cost_email"]:
        assert daily[column].dtype == np.float64, column
    assert (forecast.stages.dtypes == np.int64).all()
    assert (forecast.transitions.dtypes == np.int64).all()
    rules = forecast.rules
    assert "variant" not in rules and list(rules["arm"]) == ["-"]
    for column in ["fired", "sent", "capped", "converted", "failed", "holdout"]:
        assert rules[column].dtype == np.int64, column
    for column in ["cost", "revenue", "profit", "incremental_low", "window_days"]:
        assert rules[column].dtype == np.float64, column
    life = forecast.lifetime
    assert life["days"].dtype == np.int64 and life["at_risk"].dtype == np.int64
    assert life["still_buying"].dtype == np.float64


def test_files_keep_their_format(forecast):
    """daily.csv writes plain dates and whole counts; rules.csv's arm is `arm`."""
    files = forecast.files()
    daily = files["daily.csv"].splitlines()
    header = daily[0].split(",")
    first = dict(zip(header, daily[1].split(","), strict=True))
    assert first["date"] == "2026-01-01"
    assert first["purchases"] == str(int(forecast.daily["purchases"].iloc[0]))
    assert files["rules.csv"].splitlines()[0].split(",")[:2] == ["rule", "arm"]
    # a count of a million or more is written as it always was ("%.6g")
    big = dataclasses.replace(forecast, rules=forecast.rules.assign(sent=6_980_723))
    row = dict(zip(*[r.split(",") for r in big.files()["rules.csv"].splitlines()[:2]], strict=True))
    assert row["sent"] == "6.98072e+06" and row["fired"] == str(forecast.rules["fired"].iloc[0])


def _money(x: float) -> str:
    return f"{round(float(x)):,} USD"


def test_repr_html_shows_the_headline_figures(forecast):
    """The summary has revenue, profit after marketing, retention, stages and the rule's
    firings and interval, formatted for a reader (derived here from the frames and logs)."""
    page = forecast._repr_html_()
    daily = forecast.daily
    assert _money(daily["revenue"].sum()) in page
    profit = daily["gross_profit"].sum() - daily["marketing_cost"].sum()
    assert _money(profit) in page
    # retention at 30 days, from the purchase log itself: the cohort all first buys on day 0
    # and nobody is censored before 30 days, so the Kaplan-Meier share is the rolling one
    log = forecast.logs()["purchases"]
    day = (log["date"] - pd.Timestamp("2026-01-01")).dt.days
    spans = day.groupby(log["customer_id"]).agg(["min", "max"])
    old = spans[spans["min"] <= 150 - 30]
    retained = ((old["max"] - old["min"]) >= 30).mean()
    shown = re.search(r"Retention at 30 days</td><td[^>]*>(\d+\.\d)%<", page)
    assert shown, page
    # the log has whole days, the run continuous times: a few customers may fall either side
    assert float(shown.group(1)) / 100 == pytest.approx(retained, abs=0.05 + 3 / len(old))
    end = forecast.stages.iloc[-1]
    assert f">{int(end['regular']):,}<" in page and "first steps" in page
    rule = forecast.rules.iloc[0]
    assert f">{int(rule['fired']):,}<" in page
    if not rule["too_small"]:
        low, high = rule["incremental_low"], rule["incremental_high"]
        assert f"[{low:,.2f}, {high:,.2f}]" in page
    assert "<script" not in page and "first_steps" not in page and "None" not in page
    assert len(page) < 10_000


def _numbers(values) -> bool:
    """Whether a trace's coordinates hold a finite number."""
    array = np.asarray(values if values is not None else [])
    return array.dtype.kind in "iuf" and bool(np.isfinite(array).any())


def test_plot_gives_every_chart_with_data_and_axis_titles(forecast):
    """Each figure has data and, except the flow diagram, titled axes in words."""
    figures = forecast.plot()
    assert set(figures) == {"revenue", "stages", "retention", "flows", "rules", "roles"}
    for name, fig in figures.items():
        assert fig.data, name
        assert fig.layout.title.text and "_" not in fig.layout.title.text, name
        for trace in fig.data:
            assert "_" not in (trace.name or ""), (name, trace.name)
        if name == "flows":
            assert sum(fig.data[0].link.value) > 0
            assert all("_" not in label for label in fig.data[0].node.label)
            continue
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, name
        assert any(_numbers(t.x) or _numbers(t.y) for t in fig.data), name
    assert "observed" in figures["retention"].layout.title.text  # the censoring, said
    drawn = [t for t in figures["rules"].data if t.error_x.array is not None]
    told = forecast.rules[(forecast.rules["holdout"] > 0) & ~forecast.rules["too_small"]]
    assert len(drawn) == (1 if len(told) else 0)  # the intervals drawn where there are some
    assert forecast.plot("stages").layout.yaxis.title.text == "Customers"
    with pytest.raises(KeyError, match="the charts are"):
        forecast.plot("revenues")


def test_still_buying_is_kaplan_meier_by_hand():
    """Five customers over 100 days, churn window 30: the spans that ended are events, the
    others censored at the span seen so far; a customer without a purchase is left out."""
    first = np.array([0.0, 10.0, 20.0, 80.0, 5.0, np.nan])
    last = np.array([50.0, 10.0, 90.0, 80.0, 40.0, -np.inf])
    # spans 50 (ended), 0 (ended), 70 (buying), 0 (buying), 35 (ended)
    curve = still_buying(first, last, days=100, churn_days=30).set_index("days")
    assert curve.index.max() == 70
    s0 = 1 - 1 / 5  # day 0: one of five ends
    s35 = s0 * (1 - 1 / 3)  # day 35: one of the three with spans >= 35
    s50 = s35 * (1 - 1 / 2)  # day 50: one of two
    for t, expected in [(0, s0), (34, s0), (35, s35), (49, s35), (50, s50), (70, s50)]:
        assert curve.loc[t, "still_buying"] == pytest.approx(expected), t
    assert [curve.loc[t, "at_risk"] for t in (0, 1, 35, 36, 51, 70)] == [5, 3, 3, 2, 1, 1]
    se0 = s0 * math.sqrt(1 / (5 * 4))  # Greenwood
    assert curve.loc[0, "low"] == pytest.approx(s0 - 1.96 * se0)
    se35 = s35 * math.sqrt(1 / (5 * 4) + 1 / (3 * 2))
    assert curve.loc[40, "high"] == pytest.approx(min(1.0, s35 + 1.96 * se35))
