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
    assert f"error: {SCENARIO}: it is a scenario file (TOML), not a spec (.clm)" in result.stderr
    assert f"hint: run it with `clm run {SCENARIO}`" in result.stderr
    assert "CLM001" not in result.stderr
