"""What `clm test` says: an example's `fires` needs both eligibility and a trigger that can
come, and an invariant's pass says how many histories it was tried on."""

from __future__ import annotations

import re
from pathlib import Path

from clmlang.testing.policytest import run_tests

from .conftest import clm

DEALER = """program "Dealer" currency EUR
channel email cost 0.1
product new_car role profit price 30000 cost 26000
product service role profit price 300 cost 150
stage prospect when purchases == 0
stage owner when purchases >= 1
rule maintenance {
  on 10 months after purchase of new_car
  send email "Time for maintenance"
}
rule regulars {
  in stage owner
  when purchases >= 3
  send email "Thanks for coming back"
}
"""


def write(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "dealer.clm").write_text(DEALER)
    path = tmp_path / "dealer.test.toml"
    path.write_text(tests)
    return path


def test_an_eligible_rule_whose_trigger_cannot_come_does_not_fire(tmp_path: Path):
    """A prospect meets the reminder's filters (it has none) but has no car to anchor it."""
    path = write(
        tmp_path,
        """
[[example]]
name = "a prospect gets the maintenance reminder"
customer = "purchases=0"
fires = ["maintenance"]

[[example]]
name = "a prospect does not"
customer = "purchases=0"
not_fires = ["maintenance"]

[[example]]
name = "a car owner does"
customer = "purchases=1, owns=new_car"
fires = ["maintenance"]
""",
    )
    outcomes = {o.name: o for o in run_tests([path]).outcomes}
    wrong = outcomes["a prospect gets the maintenance reminder"]
    assert not wrong.passed
    assert "it is eligible, but its trigger, 10 months after purchase of new_car" in wrong.message
    assert "they have not bought new_car" in wrong.message
    assert outcomes["a prospect does not"].passed
    assert outcomes["a car owner does"].passed


def test_a_pass_says_how_many_histories_were_tried(tmp_path: Path):
    """`--examples 30`: a stage invariant tried on 30 histories; a rule's invariant also says
    on how many of them the rule fired."""
    path = write(
        tmp_path,
        """
[[invariant]]
kind = "one_stage"

[[invariant]]
name = "regulars only after three purchases"
kind = "fires_only_when"
rule = "regulars"
when = "purchases >= 3"
""",
    )
    run = clm("test", str(path), "--examples", "30")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"PASS .* invariant: one_stage \(30 histories; ", run.stdout)
    found = re.search(r"regulars only after three purchases \(30 histories, (\d+) got", run.stdout)
    assert found, run.stdout
    assert 0 < int(found.group(1)) <= 30
