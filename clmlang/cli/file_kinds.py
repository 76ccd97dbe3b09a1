"""The kind of input file a command expects, told from its name: a spec (`.clm`), a scenario
or market file (`.toml`), a test file (`.test.toml`), a purchase history (`.csv`, Parquet).

A spec given where a scenario is read would be parsed as TOML and fail at its first line with
a TOML syntax error that says nothing of the mix-up (and the other way round, a `[` the spec
grammar does not know); telling the kinds apart first gives a usage error that says what the
file is and which command takes it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HISTORY", "HISTORY_HINT", "SCENARIO", "SPEC", "TEST", "kind_problem"]

SPEC, SCENARIO, TEST, HISTORY = "spec", "scenario", "test", "history"

HISTORY_HINT = (
    "a purchase history is a CSV file with a header line (customer_id,date,amount) and a line"
    " per purchase (docs/calibration.md)"
)

_WHAT = {
    SPEC: "a spec (.clm)",
    SCENARIO: "a scenario or market file (TOML)",
    TEST: "a test file (.test.toml)",
    HISTORY: "a purchase history",
}


def _kind(path: Path) -> str | None:
    """The kind of file `path` names by its suffix, or None when the name does not say."""
    name = path.name.lower()
    if name.endswith(".test.toml"):
        return TEST
    if name.endswith(".toml"):
        return SCENARIO
    if name.endswith(".clm"):
        return SPEC
    if name.endswith((".csv", ".parquet", ".pq")):
        return HISTORY
    return None


def _hint(path: Path, expected: str, found: str) -> str:
    """Which command takes a file of kind `found`."""
    if found == TEST:
        return f"run its tests with `clm test {path}`"
    if found == HISTORY:
        return f"a purchase history goes to `clm calibrate {path}` or `clm forecast --history`"
    if found == SCENARIO:
        return f"run it with `clm run {path}`, or give it to `clm simulate --scenario {path}`"
    if expected == TEST:  # a spec: its tests live beside it
        tests = path.with_name(path.name[: -len(".clm")] + ".test.toml")
        if tests.is_file():
            return f"its tests are in {tests}: `clm test {tests}`"
        return f"write its tests in {tests} (docs/testing.md)"
    if expected == HISTORY:
        return HISTORY_HINT
    return (
        f"a spec is a command's SPEC argument, not an option's value (`clm COMMAND {path}`);"
        " scenario and market files are TOML (docs/scenarios.md)"
    )


def kind_problem(path: Path, expected: str) -> tuple[str, str] | None:
    """(what is wrong, a hint) when `path`'s name says it is another kind of file than the
    `expected` one (SPEC, SCENARIO, TEST or HISTORY); None when it fits or cannot be told."""
    found = _kind(path)
    if found is None or found == expected or (expected == TEST and found == SCENARIO):
        return None  # a test file may be called anything.toml
    return f"it is {_WHAT[found]}, not {_WHAT[expected]}", _hint(path, expected, found)
