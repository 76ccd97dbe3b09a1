"""The public Python API: `load`, `loads`, `analyse`, `explain`, and `__all__` as documented."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import clmlang

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8
stage new when purchases <= 1
stage repeat when purchases >= 2
rule thanks { on purchase of tee send email "Thanks" }
"""


def test_all_matches_documented_api():
    """`clmlang.__all__` lists exactly the names documented in docs/api.md."""
    documented = set(re.findall(r"^\| `(\w+)", DOC.read_text(), re.MULTILINE))
    assert set(clmlang.__all__) == documented
    for name in clmlang.__all__:
        assert hasattr(clmlang, name)


def test_public_names_are_imported_on_first_use():
    """`clmlang/__init__` imports lazily: every name of `__all__` resolves, nothing else does."""
    assert set(clmlang._EXPORTS) == set(clmlang.__all__) - {"__version__"}
    for name in clmlang.__all__:
        assert getattr(clmlang, name) is not None
    assert clmlang.simulation is importlib.import_module("clmlang.simulation")  # a subpackage
    assert callable(clmlang.explain) and clmlang.explain.__module__ == "clmlang.api"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = clmlang.nothing_here


def test_loads_returns_policy():
    """`loads` compiles text into a policy."""
    policy = clmlang.loads(SPEC)
    assert [s.name for s in policy.stages] == ["new", "repeat"]
    assert policy.rule("thanks").trigger.event.product == "tee"


def test_load_reads_a_file(tmp_path: Path):
    """`load` reads a path; spans name that file."""
    path = tmp_path / "shop.clm"
    path.write_text(SPEC)
    policy = clmlang.load(path)
    assert policy.stages[0].span.file == str(path)


def test_errors_raise_with_every_diagnostic():
    """A spec with two errors raises ClmError carrying both, rendered with carets."""
    text = SPEC.replace("purchase of tee", "purchase of tea").replace("send email", "send mail")
    with pytest.raises(clmlang.ClmError) as caught:
        clmlang.loads(text, "shop.clm")
    errors = sorted(d.code for d in caught.value.diagnostics if d.is_error)
    assert errors == ["CLM100", "CLM100"]
    assert "shop.clm:6:" in str(caught.value) and "^" in str(caught.value)


def test_strict_turns_warnings_into_errors():
    """With `strict`, a warning is enough to raise."""
    text = SPEC + "segment unused when purchases > 5\n"
    clmlang.loads(text)
    with pytest.raises(clmlang.ClmError):
        clmlang.loads(text, strict=True)


def test_analyse_does_not_raise():
    """`analyse_text` returns diagnostics instead of raising."""
    analysis = clmlang.analyse_text(SPEC.replace("<= 1", "<="))
    assert analysis.policy is None and analysis.failed()
    assert analysis.diagnostics[0].code == "CLM001"


def test_explain_from_python(tmp_path: Path):
    """`explain` takes a path and a dict and tells stage and rule verdicts."""
    path = tmp_path / "shop.clm"
    path.write_text(SPEC)
    result = clmlang.explain(path, {"purchases": 3, "days_since_purchase": 10})
    assert result.stage == "repeat"
    assert [v.rule for v in result.rules if v.fires] == ["thanks"]
    assert clmlang.explain(path, "purchases=1").stage == "new"
