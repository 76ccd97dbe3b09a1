"""`clm test --coverage`: what there is to cover is what the spec writes."""

from __future__ import annotations

import clmlang
from clmlang.testing.coverage import Coverage, cover_policy

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
