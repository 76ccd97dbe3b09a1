"""Paired differences when a KPI has no value in some runs (`retention_Dd` with fewer than 20
customers observed that long): a pair counts only when both of its runs have a value, the
percentage is of the base over those same pairs, and the comparison says how many there were."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from clmlang.market.scenario import load_scenario_file
from clmlang.whatif.experiment import run_scenario
from clmlang.whatif.results import paired_differences

from .conftest import ROOT

NAN = math.nan
# Student's t quantile (97.5%, 1 degree of freedom), from a table
T1 = 12.7062


def _runs() -> pd.DataFrame:
    base = [0.5, 0.9, NAN, 0.7]  # replication 2: no value on the base's side
    mine = [0.56, NAN, 0.5, 0.74]  # replication 1: none on the variant's
    return pd.DataFrame(
        {
            "variant": ["base"] * 4 + ["v"] * 4,
            "replication": [0, 1, 2, 3] * 2,
            "retention_365d": base + mine,
        }
    )


def test_a_pair_counts_only_when_both_runs_have_a_value():
    """Pairs 0 and 3 (differences 0.06 and 0.04): the mean 0.05, t(1) x sd / sqrt(2), the %
    of the base over those pairs (0.6, not 0.7 over its three runs), and `pairs` = 2."""
    table = paired_differences(_runs(), ["base", "v"]).set_index(["variant", "kpi"])
    row = table.loc[("v", "retention_365d")]
    half = T1 * math.sqrt(((0.06 - 0.05) ** 2 + (0.04 - 0.05) ** 2) / 1) / math.sqrt(2)
    assert row["pairs"] == 2
    assert math.isclose(row["diff"], 0.05, rel_tol=1e-9)
    assert math.isclose(row["diff_low"], 0.05 - half, rel_tol=1e-4)
    assert math.isclose(row["diff_high"], 0.05 + half, rel_tol=1e-4)
    assert math.isclose(row["diff_pct"], 100 * 0.05 / 0.6, rel_tol=1e-9)
    assert math.isclose(row["diff_pct_low"], 100 * (0.05 - half) / 0.6, rel_tol=1e-4)
    # each arm's own level stays the mean of its runs with a value
    assert math.isclose(row["mean"], (0.56 + 0.5 + 0.74) / 3, rel_tol=1e-9)
    assert table.loc[("base", "retention_365d"), "pairs"] == 3  # the base's runs with a value


def test_one_pair_has_no_interval_and_none_has_no_difference():
    """One pair: its difference, no interval, not significant; no pair: no difference."""
    runs = _runs()
    runs.loc[(runs["variant"] == "v") & (runs["replication"] == 3), "retention_365d"] = NAN
    row = paired_differences(runs, ["base", "v"]).set_index("variant").loc["v"]
    assert row["pairs"] == 1 and math.isclose(row["diff"], 0.06, rel_tol=1e-9)
    assert math.isnan(row["diff_low"]) and not row["significant"]
    runs.loc[(runs["variant"] == "v") & (runs["replication"] == 0), "retention_365d"] = NAN
    row = paired_differences(runs, ["base", "v"]).set_index("variant").loc["v"]
    assert row["pairs"] == 0 and math.isnan(row["diff"]) and math.isnan(row["diff_pct"])


SMALL = f"""[simulation]
spec = "{ROOT / "specs" / "clinic.clm"}"
customers = 42
days = 480
seed = 3
replications = 4

[market]
include = "{ROOT / "simulations" / "markets" / "clinic.toml"}"

[market.population]
start = "new"

[[variant]]
name = "no reminders"
set = {{ "rule.second_visit.enabled" = false, "rule.keep_rhythm.enabled" = false, "rule.loyal_rhythm.enabled" = false }}
"""


def test_a_small_population_over_a_long_horizon(tmp_path: Path):
    """42 patients over 480 days: retention at 180 days has a value in some runs of one arm
    and not of the other; the comparison pairs exactly the replications where both have one,
    and comparison.csv and summary.json say how many."""
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    comparison = run_scenario(load_scenario_file(path), serial=True)
    runs = comparison.runs.pivot(index="replication", columns="variant", values="retention_180d")
    base, mine = runs["base"].to_numpy(), runs["no reminders"].to_numpy()
    both = np.isfinite(base) & np.isfinite(mine)
    assert (np.isfinite(base) != np.isfinite(mine)).any()  # the case: a one-sided replication
    assert both.sum() >= 2
    row = comparison.comparison.set_index(["variant", "kpi"]).loc[
        ("no reminders", "retention_180d")
    ]
    assert row["pairs"] == both.sum()
    assert math.isclose(row["diff"], float(np.mean(mine[both] - base[both])), abs_tol=1e-12)
    assert math.isclose(
        row["diff_pct"], 100 * row["diff"] / float(np.mean(base[both])), rel_tol=1e-9
    )
    files = comparison.files()
    summary = json.loads(files["summary.json"])
    assert summary["variants"]["no reminders"]["retention_180d"]["pairs"] == both.sum()
    assert summary["variants"]["no reminders"]["revenue"]["pairs"] == 4
    assert "pairs" in files["comparison.csv"].splitlines()[0].split(",")
