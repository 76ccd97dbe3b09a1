"""What-if scenarios: files, overrides, replications with common random numbers, executors
(serial, local pool, a real Dask cluster), sharding, the comparison and the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.core.charts import plotly_script
from clmlang.market.model import MarketError
from clmlang.market.overrides import OverrideError, apply_overrides
from clmlang.market.scenario import load_scenario_file
from clmlang.simulation.lifetime import retention_by_age
from clmlang.whatif.experiment import plan, run_scenario

from .browser import needs_chromium, render, screenshot
from .conftest import ROOT, clm

CLINIC = ROOT / "specs" / "clinic.clm"

SCENARIO = f"""[simulation]
spec = "{CLINIC}"
customers = 1500
days = 90
seed = 4
replications = 3

[market.channels.sms]
response = 0.2

[[variant]]
name = "no holdout"
set = {{ "rule.keep_rhythm.holdout" = 0 }}

[[variant]]
name = "same as base"
set = {{ "rule.keep_rhythm.priority" = 0 }}

[[sweep]]
key = "cap.sms.limit"
values = [1, 3]
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "what_if.toml"
    path.write_text(SCENARIO)
    return path


def test_scenario_file_lists_base_variants_and_sweep(scenario_file: Path):
    scenario = load_scenario_file(scenario_file)
    names = [v.name for v in scenario.all_variants()]
    assert names == ["base", "no holdout", "same as base", "cap.sms.limit=1", "cap.sms.limit=3"]
    tasks = plan(scenario)
    assert len(tasks) == 5 * 3
    # common random numbers: replication r has the same seed in every variant
    seeds = {(t.variant, t.replication): t.seed for t in tasks}
    assert seeds[("base", 1)] == seeds[("cap.sms.limit=3", 1)] != seeds[("base", 2)]


def test_overrides_change_the_policy_and_market():
    policy = clmlang.load(CLINIC)
    market = clmlang.Market()
    new, new_market = apply_overrides(
        CLINIC,
        {
            "cap.sms.limit": 3,
            "cap.global.window": "2 weeks",
            "channel.sms.cost": 5,
            "rule.keep_rhythm.holdout": "25%",
            "rule.keep_rhythm.discount": 0.2,
            "rule.second_visit.delay": 30,
            "rule.keep_rhythm.when": "days_since_purchase >= 45 days",
            "rule.birthday_gift.enabled": False,
            "market.channels.sms.response": 0.1,
        },
        market,
    )
    sms_cap = next(c for c in new.caps if c.channel == "sms")
    assert sms_cap.limit == 3
    assert next(c for c in new.caps if c.scope == "global").window_days == 14
    assert next(c for c in new.channels if c.name == "sms").cost == 5
    rule = new.rule("keep_rhythm")
    assert rule.holdout == 0.25
    assert rule.flow.steps[0].offer.discount_share == 0.2
    assert rule.condition.right.value == 45
    assert rule.condition != policy.rule("keep_rhythm").condition
    assert new.rule("second_visit").trigger.days == 30
    assert "birthday_gift" not in [r.name for r in new.rules]
    assert new_market.channels["sms"].response == 0.1
    assert policy.rule("keep_rhythm").holdout == 0.1  # the original is untouched


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rule.keep_rhytm.holdout", 0.1, "did you mean `keep_rhythm`"),
        ("rule.keep_rhythm.holdot", 0.1, "did you mean `holdout`"),
        ("cap.smss.limit", 1, "did you mean `sms`"),
        ("rule.keep_rhythm.holdout", 3, "between 0 and 1"),
        ("rule.keep_rhythm.when", "days_since_purchase >= ", "not a condition"),
        ("rule.keep_rhythm.when", "days_since_purchse >= 4 days", "does not compile"),
        ("market.buying.alhpa", 3, "did you mean `alpha`"),
        ("rules.x", 1, "unknown override (did you mean `rule`?)"),
    ],
)
def test_bad_overrides_say_what_is_wrong(key: str, value: object, message: str):
    with pytest.raises(OverrideError) as info:
        apply_overrides(CLINIC, {key: value}, clmlang.Market())
    assert message in str(info.value)


def test_bad_scenario_file_points_at_the_key(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[simulation]\nspec = "x.clm"\nreplicatons = 3\n')
    with pytest.raises(MarketError) as info:
        load_scenario_file(path)
    found, _ = info.value.diagnostics()
    (problem,) = found
    assert problem.span.line == 3
    assert "did you mean `replications`" in problem.message


def test_paired_comparison(scenario_file: Path):
    result = run_scenario(load_scenario_file(scenario_file), serial=True)
    table = result.comparison.set_index(["variant", "kpi"])
    same = table.loc[("same as base", "revenue")]
    assert same["diff"] == 0 and not same["significant"]  # identical runs, paired exactly
    assert table.loc[("base", "revenue"), "low"] < table.loc[("base", "revenue"), "mean"]
    assert len(result.runs) == 5 * 3
    assert set(result.retention["variant"]) == set(result.variant_names())


def test_a_clearly_better_variant_is_significant(tmp_path: Path):
    spec = tmp_path / "shop.clm"
    spec.write_text(
        'program "Shop"\nchannel sms cost 0.01\nstage all when purchases >= 0\n'
        'rule nudge { on 20 days after purchase send sms "Back?" offer discount 10% }\n'
    )
    path = tmp_path / "s.toml"
    path.write_text(
        f'[simulation]\nspec = "{spec}"\ncustomers = 3000\ndays = 120\nreplications = 5\n'
        "[market.default_channel]\nresponse = 0.05\n"
        '[[variant]]\nname = "strong offer"\nset = { "rule.nudge.discount" = "40%" }\n'
    )
    result = run_scenario(load_scenario_file(path), serial=True)
    row = result.comparison.set_index(["variant", "kpi"]).loc[("strong offer", "purchases")]
    assert row["significant"] and row["diff"] > 0


def test_serial_and_local_pool_give_identical_results(scenario_file: Path):
    scenario = load_scenario_file(scenario_file)
    serial = run_scenario(scenario, replications=2, serial=True)
    pooled = run_scenario(scenario, replications=2, workers=2)
    pd.testing.assert_frame_equal(serial.runs, pooled.runs)
    assert serial.files()["comparison.csv"] == pooled.files()["comparison.csv"]


def test_shards_share_capacity_and_merge(tmp_path: Path):
    spec = tmp_path / "calls.clm"
    spec.write_text(
        'program "Calls"\nchannel call cost 10 capacity 25 per day\n'
        "stage all when purchases >= 0\n"
        'rule call_them { on schedule daily when days_since_purchase >= 3 days send call "Hi" }\n'
    )
    path = tmp_path / "s.toml"
    path.write_text(
        f'[simulation]\nspec = "{spec}"\ncustomers = 2001\ndays = 30\nshards = 3\n'
        '[[variant]]\nname = "cheaper"\nset = { "channel.call.cost" = 5 }\n'
    )
    scenario = load_scenario_file(path)
    every = plan(scenario)
    # common random numbers hold shard by shard: the same seeds in every variant
    seeds = {(t.variant, t.shard): t.seed for t in every}
    assert all(seeds[("base", k)] == seeds[("cheaper", k)] for k in range(3))
    assert len({seeds[("base", k)] for k in range(3)}) == 3
    tasks = [t for t in every if t.variant == "base"]
    assert [t.customers for t in tasks] == [667, 667, 667]
    capacities = [
        clmlang.Policy.from_json(t.policy_json).channels[0].capacity_per_day for t in tasks
    ]
    assert sum(capacities) == 25 and max(capacities) - min(capacities) <= 1
    result = run_scenario(scenario, serial=True)
    base = result.runs[result.runs["variant"] == "base"]
    assert base["customers"].iloc[0] == 2001
    messages = base["messages"].iloc[0]
    assert 0 < messages <= 25 * 30


def test_dask_cluster_gives_the_same_results(scenario_file: Path):
    """A real scheduler and two workers on the loopback interface."""
    distributed = pytest.importorskip("distributed")
    scenario = load_scenario_file(scenario_file)
    serial = run_scenario(scenario, replications=2, serial=True)
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        on_dask = run_scenario(scenario, replications=2, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(serial.runs, on_dask.runs)


def test_report_is_self_contained(scenario_file: Path, tmp_path: Path):
    result = run_scenario(load_scenario_file(scenario_file), replications=2, serial=True)
    written = result.write(tmp_path / "out")
    assert sorted(p.name for p in written) == [
        "comparison.csv",
        "products.csv",
        "report.html",
        "summary.json",
    ]
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count(str(plotly_script())) == 1  # plotly.js inlined, once
    own = page.replace(str(plotly_script()), "")  # plotly.js has links, followed on a click
    assert not re.search(r"(src|href)=[\"']https?://", own)  # offline: nothing fetched
    assert page.count('<figure class="chart"') >= 8  # retention, money, stages, rules, sweep
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["verdicts"]) == {
        "no holdout",
        "same as base",
        "cap.sms.limit=1",
        "cap.sms.limit=3",
    }
    assert "revenue" in summary["verdicts"]["no holdout"]


SMALL = f"""[simulation]
spec = "{CLINIC}"
customers = 250
days = 120
seed = 4
replications = 2

[market.channels.sms]
response = 0.2

[[variant]]
name = "no holdout"
set = {{ "rule.keep_rhythm.holdout" = 0 }}

[[variant]]
name = "same as base"
set = {{ "rule.keep_rhythm.priority" = 0 }}

[[sweep]]
key = "channel.sms.cost"
values = [1, 30]
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> clmlang.Comparison:
    """A small scenario run once for the report's tests: a variant without the holdout, one
    equal to the base, a sweep of the SMS cost."""
    path = tmp_path_factory.mktemp("small") / "small.toml"
    path.write_text(SMALL)
    return run_scenario(load_scenario_file(path), serial=True)


def _chart(dom: str, name: str) -> str:
    """The DOM of one chart (its <figure>) after Plotly drew it."""
    start = dom.index(f'data-chart="{name}"')
    return dom[start : dom.index("</figure>", start)]


@needs_chromium
def test_report_renders_in_headless_chromium(small: clmlang.Comparison, tmp_path: Path):
    """Every section is there, every chart drew something, intervals are drawn, the base
    shows under a variant equal to it, and no raw key or missing value reaches the reader."""
    page = tmp_path / "report.html"
    page.write_text(small.files()["report.html"])
    seen = render(page)
    assert "Uncaught" not in seen.stderr, seen.stderr[-2000:]
    charts = seen.attribute("data-charts")
    assert charts is not None, seen.stderr[-2000:]  # the page's script ran to its end
    assert charts >= 8  # retention, 2 differences, stages, flows, rules, roles, sweep
    assert seen.attribute("data-charts-rendered") == charts
    assert seen.attribute("data-charts-empty") == 0
    for section in ("verdicts", "kpis", "retention", "money", "stages", "economics", "rules"):
        assert f'id="{section}"' in seen.dom, section
    assert 'id="sweeps"' in seen.dom
    text = seen.text()
    raw = [k for k in small.runs.columns if "_" in k] + ["scenario_variant"]
    assert [k for k in raw if re.search(rf"\b{k}\b", text)] == []
    assert not re.search(r"\b(None|nan|NaN|undefined|null)\b", text)
    # intervals: error bars on the rules chart (keep_rhythm has a holdout), bands around the
    # differences from the base (fills)
    assert 'class="xerror"' in _chart(seen.dom, "rules")
    assert "js-fill" in _chart(seen.dom, "profit_difference")
    # "same as base" changes nothing: the base is still seen, thick and solid, under its
    # dashed line
    retention = _chart(seen.dom, "retention")
    assert "same as base" in retention
    assert "stroke-width: 3.5px" in retention and "stroke-dasharray" in retention
    # the rules without a holdout are named (they fired, none has a holdout in any variant)
    fired = small.rules.groupby("rule")[["fired", "holdout"]].sum()
    without = fired[(fired["fired"] > 0) & (fired["holdout"] == 0)].index
    assert len(without) >= 2
    caption = re.search(r"Rules without a holdout, not drawn: ([^.]*)\.", text)
    assert caption and set(caption.group(1).split(", ")) == set(without)
    assert "Without a holdout in no holdout: keep_rhythm" in text
    shot = screenshot(page, tmp_path / "report.png", height=4000)
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one


def test_report_is_small_and_the_same_for_a_seed(small: clmlang.Comparison):
    """Same seed, same bytes; plotly.js is inlined once, the rest stays small."""
    page = small.files()["report.html"]
    assert page == small.files()["report.html"]
    assert page.count(str(plotly_script())) == 1  # plotly.js, once for every chart
    rest = len(page.encode()) - len(plotly_script().encode())
    assert rest < 250_000, rest
    assert 'id="chart-retention"' in page and 'id="chart-sweep"' in page


def test_comparison_in_a_notebook(small: clmlang.Comparison):
    """_repr_html_: the verdicts and the KPI table with intervals; plot(): the report's
    charts by name."""
    shown = small._repr_html_()
    assert "<table>" in shown and "same as base" in shown
    assert "the same as the base in every run" in shown
    revenue = small.comparison.set_index(["variant", "kpi"]).loc[("base", "revenue")]
    assert f"{revenue['low']:,.0f} to {revenue['high']:,.0f}" in shown
    figures = small.plot()
    assert list(figures)[:4] == ["retention", "revenue_difference", "profit_difference", "stages"]
    assert {"flows", "rules", "roles", "sweep"} <= set(figures)
    assert small.plot("rules") is not None
    with pytest.raises(KeyError, match="retention"):
        small.plot("no such chart")


def test_retention_by_age_is_kaplan_meier():
    """Worked by hand (100 days, churn window 30, 20 customers of each kind): first and last
    purchase 0/0 and 0/10 and 0/50 have left (last purchase before day 70); 80/80 and 60/90 are
    still buying, censored at spans 0 and 30. At 0: 100 at risk, 20 leave: 0.8; at 10: 60 at
    risk, 20 leave: 0.8 * 2/3; at 50 the last 20 leave. The plain rolling retention at 31 days
    would be 20/80, the censored customer counted as gone."""
    first = np.repeat([0.0, 0.0, 0.0, 80.0, 60.0], 20)
    last = np.repeat([0.0, 10.0, 50.0, 80.0, 90.0], 20)
    ages = np.array([0, 10, 11, 31, 50, 51])
    share, at_risk = retention_by_age(first, last, 100, 30.0, ages)
    expected = [0.8, 0.8, 0.8 * 2 / 3, 0.8 * 2 / 3, 0.8 * 2 / 3, np.nan]
    np.testing.assert_allclose(share, expected)
    assert list(at_risk) == [60, 60, 40, 20, 20, 0]  # 51 days: nobody seen that long


def test_report_retention_does_not_fall_to_zero_at_the_horizon(small: clmlang.Comparison):
    """Customers acquired late cannot have come back yet: the censored curve stays level
    where the plain one fell to 0."""
    base = small.retention[small.retention["variant"] == "base"]
    curve = base.groupby("age_days")["retention"].mean().dropna()
    assert curve.index.max() >= 90  # followed most of the 120 days
    assert curve.iloc[-1] > 0.5 * curve.iloc[0]
    assert (base["at_risk"].dropna() >= 0).all()


def test_every_frame_names_the_scenario_variant_variant(small: clmlang.Comparison):
    """`variant` is the scenario's variant in every table; a rule's A/B arm is `arm`."""
    names = set(small.variant_names())
    for frame in (small.runs, small.series, small.retention, small.rules, small.products):
        assert set(frame["variant"]) == names
    assert "scenario_variant" not in small.rules.columns
    assert set(small.rules["arm"]) == {"-"}  # the clinic's rules have no A/B variants
    moved = small.transitions.groupby(["variant", "replication"])["customers"].sum()
    assert (moved > 0).all()


def test_cli_run_writes_every_output(scenario_file: Path, tmp_path: Path):
    done = clm(
        "run",
        str(scenario_file),
        "--replications",
        "2",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "o"),
    )
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "comparison.csv",
        "products.csv",
        "summary.json",
        "report.html",
    }
    assert "no holdout" in done.stdout


def test_cli_run_bad_override_is_a_diagnostic(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text(
        f'[simulation]\nspec = "{CLINIC}"\ncustomers = 100\ndays = 10\n'
        '[[variant]]\nname = "typo"\nset = { "rule.keep_rhytm.holdout" = 0.2 }\n'
    )
    done = clm("run", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 1
    assert f"{path}:7:" in done.stderr and "did you mean `keep_rhythm`" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "simulations").glob("*.toml")), ids=lambda p: p.stem
)
def test_example_scenarios_are_valid(path: Path):
    from clmlang.market.scenario import load_scenario

    data = path.read_text()
    if "[[variant]]" in data or "[[sweep]]" in data or "spec =" in data:
        scenario = load_scenario_file(path)
        tasks = plan(scenario, replications=1)  # every variant compiles
        assert tasks
    else:
        load_scenario(path)
