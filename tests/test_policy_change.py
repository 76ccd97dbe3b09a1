"""The change from the policy in force (`clm forecast NEW --current CURRENT`): both policies on
the same base with common random numbers, the paired difference with its 95% interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import clmlang

from .conftest import ROOT, clm

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
END, UNTIL = "1997-09-30", "1997-12-31"
HEAD = (
    'program "{name}" currency USD\nchannel email cost 0.1\nstage customers when purchases >= 0\n'
)
WELCOME = 'rule welcome {\n  on first purchase\n  send email "Welcome" transactional\n}\n'
WINBACK = (
    "rule winback {\n  when days_since_purchase >= 30 days\n  reentry once per 60 days\n"
    '  send email "We miss you: 20% off" offer discount 20%\n}\n'
)
CURRENT = HEAD.format(name="In force") + WELCOME
NEW = HEAD.format(name="Win-back") + WELCOME + WINBACK


def _change(new: str, current: str, replications: int, seed: int = 0) -> dict:
    result = clmlang.forecast_history(
        CDNOW,
        END,
        UNTIL,
        clmlang.loads(new),
        model="bgnbd",
        replications=replications,
        seed=seed,
        current=clmlang.loads(current),
    )
    return result.summary["change"]


def _row(change: dict, kpi: str) -> dict:
    return next(row for row in change["kpis"] if row["kpi"] == kpi)


def test_the_same_policy_changes_nothing_exactly():
    """CURRENT == NEW: the same random numbers give the same runs, a change of exactly zero."""
    change = _change(NEW, NEW, replications=3)
    for row in change["kpis"]:
        assert row["change"] == 0.0 and row["low"] == 0.0 and row["high"] == 0.0, row
        assert row["new"] == row["current"]


def test_a_discounted_win_back_raises_purchases_and_revenue():
    """A win-back rule on top of the policy in force adds purchases and revenue, costs
    messages, and the intervals exclude zero; its totals are the new policy's own forecast."""
    change = _change(NEW, CURRENT, replications=8)
    assert change["new_policy"] == "Win-back" and change["current_policy"] == "In force"
    for kpi in ("repeat_transactions", "revenue", "marketing_cost"):
        row = _row(change, kpi)
        assert row["low"] > 0, row
        assert row["new"] - row["current"] == pytest.approx(row["change"])
    alone = clmlang.forecast_history(
        CDNOW, END, UNTIL, clmlang.loads(NEW), model="bgnbd", replications=8
    ).summary
    # the same figures, summed in another order
    new_total = _row(change, "repeat_transactions")["new"]
    assert new_total == pytest.approx(alone["holdout_repeat_transactions"], rel=1e-12)
    assert _row(change, "revenue")["new"] == pytest.approx(alone["holdout_revenue"], rel=1e-12)


def test_the_interval_narrows_as_one_over_root_n():
    """The half-width is t * sd / sqrt(n): the sd implied by 6 and by 30 replications agree
    within an F test's 99.8% range, so the width falls as 1/sqrt(n)."""
    sizes = (6, 30)
    sds = []
    for n in sizes:
        row = _row(_change(NEW, CURRENT, replications=n, seed=1), "repeat_transactions")
        half = (row["high"] - row["low"]) / 2
        sds.append(half * np.sqrt(n) / stats.t.ppf(0.975, n - 1))
    ratio = (sds[0] / sds[1]) ** 2
    low, high = stats.f.ppf([0.001, 0.999], sizes[0] - 1, sizes[1] - 1)
    assert low < ratio < high, (sds, ratio)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


COMMON = ("--history", str(CDNOW), "--calibration-end", END, "--until", UNTIL, "--model", "bgnbd")


def test_cli_writes_the_change_block(tmp_path: Path):
    """`clm forecast NEW --current CURRENT` prints the change and writes it to forecast.json
    and the report, naming both policies."""
    new, current = _write(tmp_path, "new.clm", NEW), _write(tmp_path, "cur.clm", CURRENT)
    out = tmp_path / "fc"
    done = clm(
        "forecast",
        str(new),
        "--current",
        str(current),
        *COMMON,
        "--replications",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "change from 'In force' to 'Win-back'" in done.stdout
    change = json.loads((out / "forecast.json").read_text())["change"]
    assert [row["kpi"] for row in change["kpis"]] == [
        "repeat_transactions",
        "revenue",
        "profit",
        "marketing_cost",
        "unsubscribes",
    ]
    assert change["replications"] == 2
    report = (out / "report.html").read_text()
    assert "The change: Win-back against In force" in report


def test_cli_rejects_a_missing_or_broken_current(tmp_path: Path):
    """A missing --current file is a usage error (2); a --current spec with errors, 1."""
    new = _write(tmp_path, "new.clm", NEW)
    missing = clm("forecast", str(new), "--current", str(tmp_path / "nope.clm"), *COMMON)
    assert (
        missing.returncode == 2
        and "--current" in missing.stderr
        and "no such file" in (missing.stderr)
    )
    assert "Traceback" not in missing.stderr
    broken = _write(tmp_path, "broken.clm", CURRENT + "rule { nonsense\n")
    bad = clm("forecast", str(new), "--current", str(broken), *COMMON)
    assert bad.returncode == 1 and "broken.clm" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    alone = clm("forecast", "--current", str(new), *COMMON)
    assert alone.returncode == 2 and "--current" in alone.stderr
