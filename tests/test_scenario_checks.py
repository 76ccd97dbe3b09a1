"""A scenario file's problems on the command line: every one in one run, each placed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, clm_here

CLINIC = ROOT / "specs" / "clinic.clm"

# An unknown key (line 5) and a market name the clinic spec does not declare (line 7, col 18).
BOTH = f"""[simulation]
spec = "{CLINIC.as_posix()}"
customers = 100
days = 30
bogus = 3

[market.channels.smss]
response = 0.1
"""


def _places(stderr: str) -> list[tuple[str, str]]:
    """(line:col, key) of each diagnostic, in the order printed."""
    return re.findall(r"\.toml:(\d+:\d+): error\[CLM200\]: ([\w.]+):", stderr)


@pytest.mark.parametrize(
    "command",
    [
        ["simulate", "--scenario", "{file}", "--out", "{out}"],
        ["simulate", str(CLINIC), "--scenario", "{file}", "--out", "{out}"],
        ["run", "{file}", "--out", "{out}"],
    ],
)
def test_an_unknown_key_and_an_undeclared_name_come_in_one_run(tmp_path: Path, command):
    file = tmp_path / "both.toml"
    file.write_text(BOTH, encoding="utf-8")
    args = [a.format(file=file, out=tmp_path / "out") for a in command]
    result = clm_here(*args)
    assert result.returncode == 1
    assert _places(result.stderr) == [
        ("5:1", "simulation.bogus"),
        ("7:18", "market.channels.smss"),
    ]
    assert "unknown key" in result.stderr
    assert "did you mean `sms`?" in result.stderr  # the hint of the name
    assert "   7 | [market.channels.smss]\n                        ^^^^" in result.stderr  # caret
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_spec_with_errors_leaves_the_file_problems_alone(tmp_path: Path):
    """No compiled spec, no names to check: the file's own problems, and only those."""
    spec = tmp_path / "broken.clm"
    spec.write_text("program broken {\n", encoding="utf-8")
    file = tmp_path / "both.toml"
    file.write_text(BOTH.replace(CLINIC.as_posix(), spec.as_posix()), encoding="utf-8")
    result = clm_here("simulate", "--scenario", str(file), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert _places(result.stderr) == [("5:1", "simulation.bogus")]
    assert "Traceback" not in result.stderr


def test_names_alone_are_still_reported(tmp_path: Path):
    file = tmp_path / "names.toml"
    file.write_text(BOTH.replace("bogus = 3\n", ""), encoding="utf-8")
    result = clm_here("simulate", "--scenario", str(file), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert _places(result.stderr) == [("6:18", "market.channels.smss")]
