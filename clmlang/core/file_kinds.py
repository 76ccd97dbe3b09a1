"""The kind of input file a reader expects, told from its name: a spec (`.clm`), a scenario
or market file (`.toml`), a test file (`.test.toml`), a purchase history (`.csv`, Parquet).

A spec given where a scenario is read would be parsed as TOML and fail at its first line with
a TOML syntax error that says nothing of the mix-up (and the other way round, a `[` the spec
grammar does not know); telling the kinds apart first says what the file is. Shared by the
readers (the API's) and the command line, which adds the command that takes the file
(cli/file_kinds.py).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "HISTORY",
    "HISTORY_HINT",
    "SCENARIO",
    "SPEC",
    "TEST",
    "empty_history",
    "kind_of",
    "wrong_kind",
]

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


def kind_of(path: Path) -> str | None:
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


def wrong_kind(path: str | Path, expected: str) -> str | None:
    """What is wrong ("it is a spec (.clm), not ...") when `path`'s name says it is another
    kind of file than the `expected` one (SPEC, SCENARIO, TEST or HISTORY); None when it fits
    or cannot be told."""
    found = kind_of(Path(path))
    if found is None or found == expected or (expected == TEST and found == SCENARIO):
        return None  # a test file may be called anything.toml
    return f"it is {_WHAT[found]}, not {_WHAT[expected]}"


def empty_history(path: Path) -> tuple[str, str] | None:
    """(what is wrong, a hint) when `path` is a file with nothing in it, read as a history
    (pandas would say "No columns to parse from file"); None otherwise."""
    if path.is_file() and path.stat().st_size == 0:
        return "the file is empty", HISTORY_HINT
    return None
