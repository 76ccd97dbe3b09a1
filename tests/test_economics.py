"""Economics by product, line and role (products.csv), the KPIs of checks and lifetimes, and
the churn window: each figure derived again from the event logs, never from the code under
test."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.market.model import MarketError, market_from_mapping
from clmlang.market.scenario import load_scenario_file

MONTH = 30.4375
SHOP = """program "Shop" currency USD
channel email cost 0.5
channel sms cost 2
product coffee role lead price 0 cost 1
product tee role profit price 20 cost 8 line apparel
product hat role value price 30 cost 9 line apparel
product mug role profit price 10 cost 3 line kitchen
stage everyone when purchases >= 0
rule hats { on 10 days after purchase send email "Hats" offer hat }
rule kitchen { on 20 days after purchase send sms "Kitchen" offer line kitchen }
rule hello { on first purchase send email "Hello" transactional }
"""
COST = {"coffee": 1, "tee": 8, "hat": 9, "mug": 3}
LINE = {"coffee": "(none)", "tee": "apparel", "hat": "apparel", "mug": "kitchen"}
ROLE = {"coffee": "lead", "tee": "profit", "hat": "value", "mug": "profit"}
# A free service with a paid add-on: every check is 0 plus 100 per add-on attached, so the
# log's amounts count the add-ons.
ADDON = """program "Addon" currency USD
product visit role profit price 0 cost 0
product extra role upsell price 100 cost 30 attach to visit
stage everyone when purchases >= 0
"""


def _simulate(spec: str, market=None, *, customers=1500, days=200, seed=5):
    return clmlang.simulate(
        clmlang.loads(spec), market, customers=customers, days=days, rng=seed, logs=True
    )


@pytest.fixture(scope="module")
def shop():
    return _simulate(SHOP)


def _rows(forecast, level: str, period: str = "total") -> pd.DataFrame:
    p = forecast.products
    return p[(p["level"] == level) & (p["period"] == period)].set_index("name")


def test_revenue_by_product_is_what_the_purchase_log_says(shop):
    """Without add-ons or rewards, a product's revenue, purchases and customers are its rows
    of purchases.csv; gross profit is revenue less its unit cost per purchase."""
    log = shop.logs()["purchases"]
    rows = _rows(shop, "product")
    for name, cost in COST.items():
        mine = log[log["product"] == name]
        assert len(mine) > 20, name
        assert rows.loc[name, "purchases"] == len(mine)
        assert rows.loc[name, "items"] == len(mine)
        assert rows.loc[name, "customers"] == mine["customer_id"].nunique()
        assert rows.loc[name, "revenue"] == pytest.approx(mine["amount"].sum(), rel=1e-9)
        expected_profit = mine["amount"].sum() - cost * len(mine)
        assert rows.loc[name, "gross_profit"] == pytest.approx(expected_profit, rel=1e-9)


def test_lines_roles_and_months_add_up_from_the_log(shop):
    """Each line and role is the log's purchases of its products; each month (30.4375 days)
    the purchases dated in it."""
    log = shop.logs()["purchases"].copy()
    log["line_"] = log["product"].astype(str).map(LINE)
    log["role_"] = log["product"].astype(str).map(ROLE)
    for level, column in (("line", "line_"), ("role", "role_")):
        rows = _rows(shop, level)
        for name, mine in log.groupby(column):
            assert rows.loc[name, "revenue"] == pytest.approx(mine["amount"].sum(), rel=1e-9)
            assert rows.loc[name, "customers"] == mine["customer_id"].nunique()
    day = (log["date"] - pd.Timestamp("2026-01-01")).dt.days  # the market's start_date
    log["month"] = np.floor(day / MONTH).astype(int)
    for month, mine in log.groupby("month"):
        total = _rows(shop, "total", str(month)).loc["total"]
        assert total["purchases"] == len(mine)
        assert total["revenue"] == pytest.approx(mine["amount"].sum(), rel=1e-9)
        assert total["customers"] == mine["customer_id"].nunique()
        assert total["first_day"] == math.ceil(month * MONTH)


def test_marketing_cost_follows_the_offer(shop):
    """A message's cost goes to the product its offer names (hat), to the line only for a
    line offer (kitchen), to `(none)` without an offer; acquisition is `(none)`'s."""
    messages = shop.logs()["messages"]
    delivered = messages[messages["status"] == "delivered"]
    sent = delivered["rule"].value_counts()
    assert sent["hats"] > 50 and sent["kitchen"] > 50 and sent["hello"] > 50
    products, lines, roles = _rows(shop, "product"), _rows(shop, "line"), _rows(shop, "role")
    assert products.loc["hat", "message_cost"] == pytest.approx(0.5 * sent["hats"])
    assert products.loc["mug", "message_cost"] == 0
    assert products.loc["(none)", "message_cost"] == pytest.approx(
        2 * sent["kitchen"] + 0.5 * sent["hello"]
    )
    assert lines.loc["kitchen", "message_cost"] == pytest.approx(2 * sent["kitchen"])
    assert lines.loc["apparel", "message_cost"] == pytest.approx(0.5 * sent["hats"])
    assert roles.loc["value", "message_cost"] == pytest.approx(0.5 * sent["hats"])
    total = _rows(shop, "total").loc["total"]
    assert total["marketing_cost"] == pytest.approx(shop.daily["marketing_cost"].sum())
    assert total["contribution"] == pytest.approx(
        shop.daily["gross_profit"].sum() - shop.daily["marketing_cost"].sum()
    )


def test_items_per_check_counts_the_add_ons():
    """A free visit with a 100 add-on: each check's amount is 100 per add-on, so items per
    check is 1 + add-ons per check, and the add-on's revenue and profit follow from it."""
    market = market_from_mapping({"roles": {"upsell_attach": 0.3}})
    result = _simulate(ADDON, market)
    log = result.logs()["purchases"]
    add_ons = (log["amount"] / 100).round().astype(int)
    assert np.allclose(log["amount"], 100 * add_ons)
    assert 0.2 < add_ons.mean() < 0.4
    # summary.json rounds to 6 decimals
    assert result.summary["items_per_check"] == pytest.approx(
        1 + add_ons.sum() / len(log), abs=1e-6
    )
    assert result.summary["multi_item_share"] == pytest.approx((add_ons > 0).mean(), abs=1e-6)
    extra = _rows(result, "product").loc["extra"]
    assert extra["purchases"] == add_ons.sum()
    assert extra["revenue"] == pytest.approx(100 * add_ons.sum())
    assert extra["gross_profit"] == pytest.approx(70 * add_ons.sum())
    role = _rows(result, "role")
    assert role.loc["upsell", "revenue"] == pytest.approx(100 * add_ons.sum())
    total = _rows(result, "total").loc["total"]
    assert total["purchases"] == len(log)
    assert total["items"] == len(log) + add_ons.sum()


def test_revenue_evenness_from_the_log(shop):
    """The top tenth of checks' share of revenue, and the Gini of revenue per customer as
    the mean absolute difference over twice the mean."""
    log = shop.logs()["purchases"]
    amounts = np.sort(log["amount"].to_numpy())[::-1]
    top = amounts[: math.ceil(len(amounts) / 10)].sum() / amounts.sum()
    assert shop.summary["top_decile_check_share"] == pytest.approx(top, abs=1e-6)
    per_customer = log.groupby("customer_id")["amount"].sum().to_numpy()
    mad = np.abs(per_customer[:, None] - per_customer[None, :]).mean()
    gini = mad / (2 * per_customer.mean())
    assert 0 < gini < 1
    assert shop.summary["revenue_gini"] == pytest.approx(gini, abs=1e-6)


def _km_restricted_mean(span: np.ndarray, ended: np.ndarray) -> float:
    """Kaplan-Meier by hand: step through the distinct spans, the curve falls by the share of
    those still at risk whose lifetime ended there; the area under it up to the longest."""
    area, alive, previous = 0.0, 1.0, 0.0
    for t in sorted(set(span.tolist())):
        area += alive * (t - previous)
        at_risk = (span >= t).sum()
        ended_here = ((span == t) & ended).sum()
        alive *= 1 - ended_here / at_risk
        previous = t
    return area


def test_customer_lifetime_is_censoring_aware(shop):
    """`lifetime_days`: Kaplan-Meier restricted mean of first-to-last purchase spans, a span
    ending when the customer bought nothing in the churn window before the end."""
    log = shop.logs()["purchases"]
    day = (log["date"] - pd.Timestamp("2026-01-01")).dt.days
    # the log keeps days; the summary uses the times of day, so allow a day's difference
    first = day.groupby(log["customer_id"]).min().to_numpy(dtype=float)
    last = day.groupby(log["customer_id"]).max().to_numpy(dtype=float)
    window = shop.summary["churn_days"]
    assert window == 90  # the spec has no return goals
    ended = last + 1 <= 200 - window
    expected = _km_restricted_mean(last - first, ended)
    assert shop.summary["lifetime_days"] == pytest.approx(expected, abs=1.5)
    observed = (last - first).mean()
    assert shop.summary["lifetime_observed_days"] == pytest.approx(observed, abs=1.0)
    assert shop.summary["lifetime_days"] > shop.summary["lifetime_observed_days"]


def _churn_from_log(log: pd.DataFrame, days: int, window: float) -> float:
    day = (log["date"] - pd.Timestamp("2026-01-01")).dt.days
    first = day.groupby(log["customer_id"]).min()
    last = day.groupby(log["customer_id"]).max()
    old = first <= days - window
    return float((old & (last < days - window)).sum() / old.sum())


def test_churn_window_from_the_scenario(tmp_path: Path):
    """`[market.kpis] churn_days = 365` makes churn "no purchase in 365 days"."""
    file = tmp_path / "yearly.toml"
    file.write_text(
        "[simulation]\ncustomers = 800\ndays = 500\n\n[market.kpis]\nchurn_days = 365\n"
    )
    result = clmlang.simulate(clmlang.loads(SHOP), file, rng=2, logs=True)
    assert result.summary["churn_days"] == 365
    expected = _churn_from_log(result.logs()["purchases"], 500, 365)
    assert 0 < expected < 1
    assert result.summary["churn_rate"] == pytest.approx(expected, abs=1e-6)
    default = clmlang.simulate(clmlang.loads(SHOP), customers=800, days=500, rng=2, logs=True)
    assert default.summary["churn_days"] == 90
    assert default.summary["churn_rate"] == pytest.approx(
        _churn_from_log(default.logs()["purchases"], 500, 90), abs=1e-6
    )


def test_churn_window_defaults_to_the_longest_return_goal():
    """Without a scenario window, the stages' longest `goal return within N days` is it."""
    spec = SHOP.replace(
        "stage everyone when purchases >= 0\n",
        "stage once when purchases <= 1 goal return within 40 days\n"
        "stage again when purchases >= 2 goal return within 30..150 days\n",
    )
    result = _simulate(spec, days=400)
    assert result.summary["churn_days"] == 150
    assert result.summary["churn_rate"] == pytest.approx(
        _churn_from_log(result.logs()["purchases"], 400, 150), abs=1e-6
    )


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("churn_dayz = 365", "unknown key (did you mean `churn_days`?)"),
        ("churn_days = 0", "greater than 0"),
        ('churn_days = "a year"', "number"),
    ],
)
def test_a_bad_churn_window_is_a_diagnostic(tmp_path: Path, table: str, problem: str):
    """A bad `[market.kpis]` key names the file, the line and the key; no traceback."""
    file = tmp_path / "bad.toml"
    file.write_text(f"[simulation]\ncustomers = 10\n\n[market.kpis]\n{table}\n")
    with pytest.raises(MarketError) as info:
        load_scenario_file(file)
    ((key, message),) = info.value.problems
    assert key.startswith("market.kpis.churn_day") and problem in message
    done = subprocess.run(
        [sys.executable, "-m", "clmlang", "simulate", "--scenario", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert f"{file}:5:" in done.stderr + done.stdout


def test_the_same_seed_gives_the_same_products_file(shop):
    """products.csv is part of the forecast's files, and a seed gives the same bytes."""
    again = _simulate(SHOP)
    assert shop.files()["products.csv"] == again.files()["products.csv"]
    assert json.loads(shop.files()["summary.json"])["items_per_check"] == 1.0


def test_what_if_runs_report_economics_by_role(tmp_path: Path):
    """`clm run`'s outputs: products.csv per variant and replication (a split population's
    shards merged), and the report's table of economics by role."""
    spec = tmp_path / "shop.clm"
    spec.write_text(SHOP)
    file = tmp_path / "whatif.toml"
    file.write_text(
        f'[simulation]\nspec = "{spec.name}"\ncustomers = 400\ndays = 90\nreplications = 2\nshards = 2\n\n'
        '[[variant]]\nname = "no hats"\nset = { "rule.hats.enabled" = false }\n'
    )
    result = clmlang.run_scenario(file, serial=True)
    products = result.products
    assert set(products["variant"]) == {"base", "no hats"}
    whole = products[(products["period"] == "total") & (products["level"] == "total")]
    runs = result.runs.set_index(["variant", "replication"])
    for row in whole.itertuples():
        assert row.revenue == pytest.approx(runs.loc[(row.variant, row.replication)].revenue)
    files = result.files()
    assert "products.csv" in files
    page = files["report.html"]
    assert "Economics by product role" in page
    assert "<th>no hats</th>" in page
    assert page.count("<td>role value</td>") == 1  # a row per role, a cell per variant


def test_cli_simulate_prints_the_window_and_writes_products(tmp_path: Path):
    """`clm simulate` names the churn window it used and writes products.csv."""
    spec = tmp_path / "shop.clm"
    spec.write_text(SHOP)
    file = tmp_path / "yearly.toml"
    file.write_text(
        f'[simulation]\nspec = "{spec.name}"\ncustomers = 300\ndays = 400\n\n'
        "[market.kpis]\nchurn_days = 365\n"
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "clmlang", "simulate", "--scenario", str(file), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no purchase in 365 days" in done.stdout
    assert "items per check" in done.stdout
    products = pd.read_csv(out / "products.csv")
    summary = json.loads((out / "summary.json").read_text())
    whole = products[(products["period"] == "total") & (products["level"] == "total")]
    assert whole["revenue"].iloc[0] == pytest.approx(summary["revenue"], rel=1e-5)
