"""The specs the benchmarks generate are specs the checker accepts: a checker rule added
later (CLM130, a rule that can never fire) once made `make bench` stop at its first step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from clmlang.api import analyse_text

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _module(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("bench_compile", lambda m: m.generate(36)),  # every trigger x channel pairing
        ("bench_rules", lambda m: m.rules_spec(12)),
    ],
)
def test_generated_spec_has_no_errors(name, make):  # type: ignore[no-untyped-def]
    analysis = analyse_text(make(_module(name)), f"{name}.clm")
    errors = [d for d in analysis.diagnostics if d.is_error]
    assert not errors, errors[:3]
    assert analysis.policy is not None
