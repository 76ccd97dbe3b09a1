"""`clm test`: examples, invariants with minimal counterexamples, forecasts, coverage, JUnit,
the pytest plugin, and the example specs' own tests."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from clmlang.testing.policytest import run_tests

from .conftest import ROOT, clm

SHOP = """program "Shop" currency USD
channel sms cost 0.05
cap 3 per 7 days
product tee role profit price 20 cost 8
stage new when purchases <= 1
stage regular when purchases >= 2
rule daily_deal { on schedule daily when days_since_purchase >= 2 days send sms "Deal of the day" offer tee discount 10% }
"""
SHOP_TESTS = """
[[example]]
name = "a deal for a customer who bought two days ago"
customer = "purchases=1, days_since_purchase=2"
stage = "new"
fires = ["daily_deal"]
sends = [{ rule = "daily_deal", channel = "sms", offer = "tee discount 10%" }]

[[invariant]]
name = "no more than 3 messages a week"
kind = "max_messages"
limit = 3
days = 7
"""


def write(tmp_path: Path, spec: str, tests: str) -> Path:
    (tmp_path / "shop.clm").write_text(spec)
    path = tmp_path / "shop.test.toml"
    path.write_text(tests)
    return path


def test_example_specs_pass_their_tests():
    done = clm("test", "specs/", "--examples", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout
    assert len(list((ROOT / "specs").glob("*.test.toml"))) >= 6


def test_removing_the_cap_is_caught_with_a_minimal_counterexample(tmp_path: Path):
    good = write(tmp_path, SHOP, SHOP_TESTS)
    assert not run_tests([good], seed=3).failed
    broken = write(tmp_path, SHOP.replace("cap 3 per 7 days\n", ""), SHOP_TESTS)
    (failure,) = run_tests([broken], seed=3).failed
    assert failure.name == "no more than 3 messages a week"
    assert re.search(r"customer \d+ got 4 messages within 7 days", failure.message)
    assert "--customers 20 " in failure.message  # shrunk to the smallest population searched
    assert "daily_deal" in failure.where
    # the printed replay, pasted into the test file, fails until the cap is back
    pasted = failure.message.split("ready to paste into shop.test.toml:\n", 1)[1]
    pasted = pasted.split("Watch the customer")[0]
    assert pasted.startswith("[[replay]]") and "customers = 20" in pasted
    broken.write_text(SHOP_TESTS.split("[[invariant]]")[0] + pasted)
    (replayed,) = run_tests([broken], seed=3).failed
    assert replayed.kind == "replay" and "got 4 messages within 7 days" in replayed.message
    fixed = write(tmp_path, SHOP, SHOP_TESTS.split("[[invariant]]")[0] + pasted)
    assert not run_tests([fixed], seed=3).failed


BROKEN_RULE = """program "Shop" currency USD
channel sms cost 0.05
product tee role profit price 20 cost 8
stage new when purchases <= 2
stage regular when purchases >= 3
rule winback { in stage regular when days_since_purchase >= 60 days send sms "We miss you" }
"""


def test_state_invariant_counterexample_is_minimal_and_replays(tmp_path: Path):
    tests = """
[[invariant]]
name = "winback only after 90 silent days"
kind = "fires_only_when"
rule = "winback"
when = "days_since_purchase >= 90 days"
"""
    path = write(tmp_path, BROKEN_RULE, tests)
    (failure,) = run_tests([path], seed=0).failed
    pasted = failure.message.split("ready to paste into shop.test.toml:\n", 1)[1]
    history = re.search(r"history = \[(.*)\]", pasted).group(1)
    assert history.count("day =") == 3  # three purchases: the fewest that make a regular
    day = int(re.search(r"^day = (\d+)", pasted, re.MULTILINE).group(1))
    last = max(int(d) for d in re.findall(r"day = (\d+)", history))
    assert 60 <= day - last < 90
    # the counterexample, pasted as an example test, fails the same way
    path.write_text(tests + "\n" + pasted)
    failures = run_tests([path], seed=0).failed
    assert any(f.kind == "example" and "not to fire" in f.message for f in failures)


def test_same_seed_same_run_and_junit(tmp_path: Path):
    path = write(tmp_path, SHOP.replace("cap 3 per 7 days\n", ""), SHOP_TESTS)
    first = [(o.name, o.passed, o.message) for o in run_tests([path], seed=5).outcomes]
    again = [(o.name, o.passed, o.message) for o in run_tests([path], seed=5).outcomes]
    assert first == again
    junit = tmp_path / "junit.xml"
    done = clm("test", str(path), "--junit", str(junit), "--seed", "5")
    assert done.returncode == 1
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"


def test_coverage_threshold_and_unknown_names(tmp_path: Path):
    spec = SHOP + 'rule never { on first purchase when total_spent > 1000000 send sms "Wow" }\n'
    path = write(tmp_path, spec, SHOP_TESTS.split("[[invariant]]")[0])
    done = clm("test", str(path), "--coverage", "--threshold", "90")
    assert done.returncode == 1
    assert "never exercised: never" in done.stdout
    assert "below the threshold" in done.stderr
    bad = write(
        tmp_path,
        SHOP,
        '[[example]]\nname = "typo"\ncustomer = "purchases=1"\nfires = ["daily_dael"]\n',
    )
    done = clm("test", str(bad))
    assert done.returncode == 1 and "did you mean `daily_deal`" in done.stdout


def test_forecast_expectation_uses_its_interval(tmp_path: Path):
    tests = '[[forecast]]\nkpi = "survival_rate"\nat_least = 0.99\ncustomers = 800\ndays = 60\nreplications = 2\n'
    path = write(tmp_path, SHOP, tests)
    (failure,) = run_tests([path]).failed
    assert "expected survival_rate >= 0.99; forecast survival_rate = " in failure.message


def test_pytest_collects_policy_tests(tmp_path: Path):
    path = write(tmp_path, SHOP, SHOP_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout
    assert "2 passed" in done.stdout


def test_a_test_file_without_its_spec_says_which_spec_is_missing(tmp_path: Path):
    """`shop.test.toml` with no `shop.clm` beside it said "the spec has errors: run `clm
    check` on it"; it names the missing spec and where a test file looks for it."""
    path = tmp_path / "shop.test.toml"
    path.write_text('[[example]]\nname = "x"\ncustomer = "purchases=3"\nstage = "loyal"\n')
    result = clm("test", str(path))
    assert result.returncode == 1
    assert f"no spec {tmp_path / 'shop.clm'}: a test file tests NAME.clm beside it" in (
        result.stdout
    )
    assert "has errors" not in result.stdout


def test_a_test_file_not_called_name_test_toml_must_name_its_spec(tmp_path: Path):
    """`checks.toml` without `spec = ...` looked for `checks.toml.clm`."""
    path = tmp_path / "checks.toml"
    path.write_text('[[example]]\nname = "x"\ncustomer = "purchases=3"\nstage = "loyal"\n')
    result = clm("test", str(path))
    assert result.returncode == 1
    assert (
        'names no spec: a test file not called NAME.test.toml says which spec it tests (`spec = "NAME.clm"`)'
        in result.stdout
    )
    assert "checks.toml.clm:" not in result.stdout


def test_a_scenario_given_to_clm_test_is_named_as_one(tmp_path: Path):
    """A scenario file is not a test file: one problem that says so and names `clm run`,
    not an "unknown key" for each of its tables."""
    path = tmp_path / "clinic.toml"
    path.write_text('[simulation]\nspec = "clinic.clm"\ndays = 30\n\n[market.buying]\nr = 1\n')
    result = clm("test", str(path))
    assert result.returncode == 2
    assert result.stderr.count("error[CLM200]") == 1, result.stderr
    assert (
        "clinic.toml:1:1: error[CLM200]: simulation: a scenario or market file's table"
        in result.stderr
    )
    assert f"run a scenario with `clm run {path}`" in result.stderr
    assert "unknown key" not in result.stderr


def test_a_bad_key_in_a_test_file_points_at_the_testing_docs(tmp_path: Path):
    """A test file's CLM200 sent the reader to docs/scenarios.md and docs/model.md."""
    (tmp_path / "shop.clm").write_text('program "x"\nstage all when purchases >= 0\n')
    path = tmp_path / "shop.test.toml"
    path.write_text('[[exampel]]\nname = "x"\n')
    result = clm("test", str(path))
    assert result.returncode == 2
    assert "shop.test.toml:1:1: error[CLM200]: exampel: unknown key" in result.stderr
    assert "hint: see docs/testing.md for test files" in result.stderr
    assert "docs/scenarios.md" not in result.stderr


def test_a_kpi_the_forecast_lacks_is_a_test_file_problem_found_before_any_run(tmp_path: Path):
    """`kpi = "revenu"` failed after every other test and the forecast's runs ("cannot run:
    no KPI"); it is placed on the test file's line with the file's other checks, and no test
    runs (no PASS line, not the first forecast's runs)."""
    (tmp_path / "shop.clm").write_text(SHOP)
    path = tmp_path / "shop.test.toml"
    path.write_text(
        '[[example]]\nname = "x"\ncustomer = "purchases=1"\n\n'
        '[[forecast]]\nkpi = "revenue"\nat_least = 0\ncustomers = 20000\n\n'
        '[[forecast]]\nkpi = "revenu"\nat_least = 1000\n'
    )
    result = clm("test", str(path))
    assert result.returncode == 2, result.stdout
    assert (
        f"{path}:11:1: error[CLM200]: forecast.1.kpi: no KPI `revenu` (did you mean `revenue`?)"
        in result.stderr
    )
    assert "PASS" not in result.stdout and "FAIL" not in result.stdout


def test_a_missing_spec_reports_no_coverage(tmp_path: Path):
    """With the spec missing the last line said "coverage 100%": nothing was covered."""
    path = tmp_path / "shop.test.toml"
    path.write_text('[[example]]\nname = "x"\ncustomer = "purchases=3"\n')
    result = clm("test", str(path), "--coverage", "--threshold", "50")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "0 passed, 1 failed"
    assert "coverage" not in result.stdout + result.stderr
