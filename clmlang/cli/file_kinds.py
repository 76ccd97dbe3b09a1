"""The kind of input file a command expects (told from its name: core/file_kinds.py), as a
usage error that says what the file is and which command takes it."""

from __future__ import annotations

from pathlib import Path

from ..core.file_kinds import HISTORY, HISTORY_HINT, SCENARIO, SPEC, TEST, kind_of, wrong_kind

__all__ = ["HISTORY", "HISTORY_HINT", "SCENARIO", "SPEC", "TEST", "kind_problem"]


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
    """(what is wrong, a hint naming the command that takes it) when `path`'s name says it is
    another kind of file than the `expected` one (core/file_kinds.py); None when it fits or
    cannot be told."""
    problem = wrong_kind(path, expected)
    if problem is None:
        return None
    return problem, _hint(path, expected, kind_of(path))
