"""`clm simulate` names the rules that fired 0 times because their trigger never came."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import clmlang
from clmlang.market.model import Market

from .conftest import clm

SPEC = """program "Dealer" currency EUR
channel email cost 0.3
product car role profit price 100 cost 60 every 30 days
attribute delivery_date date
stage prospect when purchases == 0
stage owner when purchases >= 1
rule thanks { on purchase send email "Thanks" }
rule much_later { on 400 days after purchase send email "Still happy?" }
rule before_delivery { on 3 days before delivery_date send email "Almost here" }
rule rich { when total_spent >= 1000000 send email "Wow" }
"""


def test_rules_whose_trigger_never_came_are_named(tmp_path: Path):
    """400 days out in a 60-day run and before a date that is always past: both named;
    a rule that fired is not, nor a condition-triggered rule (its trigger is its filters)."""
    result = clmlang.simulate(
        clmlang.loads(SPEC), Market(), customers=300, days=60, rng=np.random.default_rng(1)
    )
    fired = result.rules.groupby("rule")["fired"].sum()
    assert fired["thanks"] > 0 and fired["much_later"] == 0 and fired["before_delivery"] == 0
    warnings = result.summary["warnings"]
    assert len(warnings) == 2
    assert "`much_later`" in warnings[0] and "400 days" in warnings[0] and "60-day" in warnings[0]
    assert "`before_delivery`" in warnings[1] and "`delivery_date`" in warnings[1]


def test_simulate_prints_them_and_writes_them(tmp_path: Path):
    """The warnings go to stderr and into summary.json; the exit code stays 0."""
    spec = tmp_path / "dealer.clm"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    run = clm("simulate", str(spec), "--customers", "200", "--days", "30", "--out", str(out))
    assert run.returncode == 0, run.stderr
    # each a diagnostic like the checker's: code, place of the rule's name, its line, a caret
    # under the name, a hint (line 8 is `rule much_later {`: the name starts at column 6)
    first = "dealer.clm:8:6: warning[CLM300]: rule `much_later` fired 0 times"
    assert first in run.stderr, run.stderr
    assert "   8 | rule much_later { on 400 days" in run.stderr
    assert "\n" + " " * 12 + "^" * len("much_later") + "\n" in run.stderr
    assert "dealer.clm:9:6: warning[CLM300]: rule `before_delivery`" in run.stderr
    assert run.stderr.count("hint: ") == 2
    assert "much_later" not in run.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [w.split("`")[1] for w in summary["warnings"]] == ["much_later", "before_delivery"]
