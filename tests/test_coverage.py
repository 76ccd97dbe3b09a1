"""`clm test --coverage`: what there is to cover is what the spec writes."""

from __future__ import annotations

import numpy as np

import clmlang
from clmlang.compile.policy import Policy
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy
from clmlang.testing.coverage import Coverage, cover_policy, cover_run, node_paths

SPEC = """program "Shop" currency USD
channel email cost 0.1
stage all when purchases >= 0
rule plain { on purchase send email "a" success purchase within 7 days }
rule failing {
  on purchase
  send email "b"
  success purchase within 7 days
  on failure {
    send email "c"
    success purchase within 7 days
    on success send email "d"
  }
}
"""


def test_only_written_branches_are_listed():
    """A success test without `on success` / `on failure` has no branch to cover."""
    coverage = Coverage()
    cover_policy(coverage, clmlang.loads(SPEC))
    assert coverage.all_branches == {"failing:failure", "failing:failure/success"}
    assert coverage.missing() == [
        "failing",
        "plain",
        "failing:failure",
        "failing:failure/success",
    ]


def test_an_outcome_without_a_branch_does_not_count():
    """Coverage stays a share of what exists when a run reports outcomes with no branch."""
    coverage = Coverage()
    cover_policy(coverage, clmlang.loads(SPEC))
    coverage.rules |= {"plain", "failing"}
    coverage.branches |= {"plain:success", "plain:failure", "failing:failure"}
    assert coverage.share == 3 / 4


def test_a_variant_named_holdout_is_covered_by_a_trace_and_the_holdout_is_not():
    """A rule's holdout arm is labelled `holdout` in the run, as a variant could be named: the
    variant counted as the holdout and was never covered. The checker now refuses that name
    (CLM101), so the policy is renamed after compiling, as one read from JSON could be. Every
    customer buys on day 0 here (`on purchase`), so each arm, the 10% holdout included, gets
    some of 300 customers."""
    spec = """program "Shop" currency USD
channel email cost 0.1
stage all when purchases >= 0
rule pick {
  on purchase
  holdout 10%
  variant first 50% { send email "a" }
  variant other 50% { send email "b" }
}
"""
    written = clmlang.loads(spec).model_dump(mode="json")
    written["rules"][0]["variants"][0]["name"] = "holdout"
    policy = Policy.model_validate(written)
    run = simulate_policy(policy, Market(), customers=300, days=30, rng=np.random.default_rng(1))
    # the arms: the variants in order, then the holdout
    assert run.arms == [(0, "holdout"), (0, "other"), (0, "holdout")]
    fired = run.recorder.arm_counters["fired"]
    assert fired[0] > 0 and fired[1] > 0
    coverage = Coverage()
    cover_policy(coverage, policy)
    cover_run(coverage, run, policy, node_paths(policy))
    assert coverage.variants == {"pick/holdout", "pick/other"}
    assert coverage.missing() == []
