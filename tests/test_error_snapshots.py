"""Snapshots of the diagnostics for a corpus of bad specs, one or more per diagnostic code.

Each `tests/fixtures/errors/CODE_name.clm` must produce its code; its rendered diagnostics are
compared with `CODE_name.expected`. After a deliberate change, regenerate with
`CLM_UPDATE_SNAPSHOTS=1 pytest tests/test_error_snapshots.py` and review the diff by eye.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import clmlang
from clmlang.core.diagnostics import CODES, render_json, render_text

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "errors").glob("*.clm"))
UPDATE = os.environ.get("CLM_UPDATE_SNAPSHOTS") == "1"


def _render(path: Path) -> tuple[str, list[str]]:
    relative = path.relative_to(ROOT)
    analysis = clmlang.analyse(relative)
    return render_text(analysis.diagnostics, analysis.sources) + "\n", [
        d.code for d in analysis.diagnostics
    ]


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_snapshot(path: Path):
    """The fixture produces its own code, and the rendering matches the reviewed snapshot."""
    text, codes = _render(path)
    assert path.stem.split("_")[0] in codes
    expected = path.with_suffix(".expected")
    if UPDATE:
        expected.write_text(text)
    assert text == expected.read_text()


def test_every_code_has_a_fixture():
    """Each diagnostic code is exercised by at least one fixture."""
    covered = {p.stem.split("_")[0] for p in FIXTURES}
    assert set(CODES) <= covered, sorted(set(CODES) - covered)


def test_every_code_is_documented():
    """docs/diagnostics.md has a section for every code, with an example."""
    doc = (ROOT / "docs" / "diagnostics.md").read_text()
    for code in CODES:
        section = re.search(rf"^## {code}\b(.*?)(?=^## |\Z)", doc, re.MULTILINE | re.DOTALL)
        assert section, f"{code} is not documented"
        assert "```" in section.group(1), f"{code} has no example"


def test_json_rendering_has_places():
    """`--format json` gives code, severity and a 1-based place for each diagnostic."""
    analysis = clmlang.analyse(Path("tests/fixtures/errors/CLM100_undefined_name.clm"))
    import json

    (first,) = json.loads(render_json(analysis.diagnostics))
    assert first["code"] == "CLM100" and first["severity"] == "error"
    assert first["span"]["line"] == 5 and first["hint"] == "did you mean `tee`?"
