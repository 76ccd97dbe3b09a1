"""`clm diff --simulate`'s paired KPI differences when a KPI has no value in some replications
(`retention_90d` with fewer than 20 customers observed 90 days): a pair counts only when both
runs have a value, the percentage is of the old policy's mean over those same pairs, and the
output says how many pairs there were."""

from __future__ import annotations

import math

import numpy as np
import pytest

import clmlang
from clmlang.core.statistics import paired_difference
from clmlang.market.model import Market
from clmlang.testing import impact as impact_module
from clmlang.testing.changes import Change
from clmlang.testing.diffview import render_changes
from clmlang.testing.impact import simulate_impact

from .conftest import ROOT

NAN = math.nan
T1 = 12.7062  # Student's t quantile (97.5%, 1 degree of freedom), from a table


def test_paired_difference_uses_the_same_pairs_throughout():
    """Pairs 0 and 3 have both values (differences 0.06 and 0.04): the mean 0.05, its t(1)
    interval, the % of the base's mean over those two pairs (0.6, not 0.7 over its three)."""
    base = np.array([0.5, 0.9, NAN, 0.7])
    new = np.array([0.56, NAN, 0.5, 0.74])
    d = paired_difference(new, base)
    half = T1 * math.sqrt((0.01**2 + 0.01**2) / 1) / math.sqrt(2)
    assert d.pairs == 2
    assert d.diff == pytest.approx(0.05, rel=1e-9)
    assert (d.low, d.high) == pytest.approx((0.05 - half, 0.05 + half), rel=1e-4)
    assert d.pct == pytest.approx(100 * 0.05 / 0.6, rel=1e-9)
    assert d.pct_high == pytest.approx(100 * (0.05 + half) / 0.6, rel=1e-4)
    none = paired_difference(np.array([NAN, 1.0]), np.array([1.0, NAN]))
    assert none.pairs == 0 and math.isnan(none.diff) and math.isnan(none.pct)
    zero = paired_difference(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    assert zero.diff == pytest.approx(1.5) and math.isnan(zero.pct)  # no % of a base of 0


def test_simulate_impact_pairs_and_reports_them(monkeypatch):
    """Each replication's summaries are set (old then new): retention_90d is missing on the
    old side in replication 1 and on the new side in replication 2, so 2 of 4 pairs count."""
    old_r = [0.5, NAN, 0.6, 0.7]
    new_r = [0.55, 0.8, NAN, 0.74]
    values = iter(x for pair in zip(old_r, new_r, strict=True) for x in pair)

    class _Fake:
        def __init__(self, value: float) -> None:
            self.summary = {"retention_90d": None if math.isnan(value) else value}

    monkeypatch.setattr(impact_module, "forecast", lambda run: _Fake(next(values)))
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    result = simulate_impact(
        policy, policy, Market(), customers=50, days=10, replications=4, seed=1
    )
    row = result.kpis.set_index("kpi").loc["retention_90d"]
    assert row["pairs"] == 2
    assert row["diff"] == pytest.approx((0.05 + 0.04) / 2, rel=1e-9)
    assert row["diff_pct"] == pytest.approx(100 * 0.045 / 0.6, rel=1e-9)
    assert row["old"] == pytest.approx((0.5 + 0.6 + 0.7) / 3, rel=1e-9)  # its own runs
    assert result.kpis.set_index("kpi").loc["revenue", "pairs"] == 0  # no value on either side
    text = render_changes([_change()], result, ("a", "b"), "text")
    assert "(2 of 4 pairs)" in text
    rows = {r["kpi"]: r for r in result.to_dict()["kpis"]}
    assert rows["retention_90d"]["pairs"] == 2 and rows["revenue"]["diff"] is None


def _change() -> Change:
    return Change("rule", "x", "~")
