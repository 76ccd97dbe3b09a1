"""A file of one kind given where a command reads another (a scenario as the spec, a spec as
the scenario or the tests, a spec as the history): a usage error that says what the file is
and which command takes it, not a syntax error at its first line."""

from __future__ import annotations

import pytest

from .conftest import clm

SPEC = "specs/clinic.clm"
SCENARIO = "simulations/clinic.toml"


@pytest.mark.parametrize("command", ["compile", "explain", "simulate"])
def test_a_scenario_given_as_the_spec(command: str):
    """`clm compile simulations/clinic.toml`: the scenario file is named as one, with `clm run`."""
    result = clm(command, SCENARIO)
    assert result.returncode == 2, result.stderr
    assert (
        f"error: {SCENARIO}: it is a scenario or market file (TOML), not a spec (.clm)"
        in result.stderr
    )
    assert f"hint: run it with `clm run {SCENARIO}`" in result.stderr
    assert "CLM001" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("run", SPEC),
        ("simulate", SPEC, "--scenario", SPEC),
        ("explain", SPEC, "--scenario", SPEC),
        ("diff", SPEC, "specs/clinic_promotions.clm", "--simulate", "--scenario", SPEC),
    ],
)
def test_a_spec_given_as_the_scenario(args: tuple[str, ...]):
    """A .clm read as TOML failed with CLM200 `Expected '='` at `program`: now a usage error
    (exit 1 for `clm diff`, whose 2 means "changed")."""
    result = clm(*args)
    assert result.returncode == (1 if args[0] == "diff" else 2), result.stderr
    assert f"{SPEC}: it is a spec (.clm), not a scenario or market file (TOML)" in result.stderr
    assert (
        f"hint: a spec is a command's SPEC argument, not an option's value (`clm COMMAND {SPEC}`)"
        in result.stderr
    )
    assert "clm simulate" not in result.stderr  # not every command that reads a scenario
    assert "CLM200" not in result.stderr


def test_a_spec_given_to_clm_test_points_at_its_tests():
    """`clm test specs/clinic.clm`: the tests beside it are named."""
    result = clm("test", SPEC)
    assert result.returncode == 2, result.stderr
    assert "it is a spec (.clm), not a test file (.test.toml)" in result.stderr
    assert "hint: its tests are in specs/clinic.test.toml: `clm test specs/clinic.test.toml`" in (
        result.stderr
    )


@pytest.mark.parametrize("command", ["check", "fmt"])
def test_a_scenario_given_to_check_or_fmt(command: str):
    """`clm check simulations/clinic.toml` was CLM001 at its `[simulation]`."""
    result = clm(command, SCENARIO)
    assert result.returncode == 2, result.stderr
    assert "it is a scenario or market file (TOML), not a spec (.clm)" in result.stderr


def test_a_spec_given_as_the_history():
    """`clm calibrate specs/clinic.clm` was a pandas tokenizing error."""
    result = clm("calibrate", SPEC, "--calibration-end", "1997-09-30")
    assert result.returncode == 2, result.stderr
    assert f"error: {SPEC}: it is a spec (.clm), not a purchase history" in result.stderr
    assert "a CSV file with a header line (customer_id,date,amount)" in result.stderr


def test_a_spec_given_as_the_market_of_a_forecast(tmp_path):
    """--market takes a market file (what `clm calibrate -o` writes), not a spec."""
    result = clm(
        "forecast", "--history", "tests/data/cdnow_sample.csv", "--calibration-end",
        "1997-09-30", "--until", "1998-06-30", "--market", SPEC, "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"--market {SPEC}: it is a spec (.clm), not a scenario or market file" in result.stderr
