"""The layout is the pipeline: the README's list, the folders and the import contract agree,
and the contract catches an import that points downstream."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

CONTRACT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LAYERS = CONTRACT["contracts"][0]["layers"]  # top first
LINT = Path(sys.executable).parent / "lint-imports"


def _readme_layout() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return [m.rstrip("/").removesuffix(".py") for m in re.findall(r"^- `([^`]+)`", section, re.M)]


def test_readme_lists_the_stages_in_the_contracts_order():
    """README's Layout section names every stage, bottom first, as the contract orders them."""
    assert _readme_layout() == list(reversed(LAYERS))


def test_every_module_of_the_package_belongs_to_a_stage():
    """Nothing lives at the top of `clmlang/` but the stages, the facade and the entry points."""
    top = {p.stem if p.suffix == ".py" else p.name for p in (ROOT / "clmlang").iterdir()}
    top -= {"__init__", "__main__", "__pycache__"}
    assert top == set(LAYERS)
    for stage in LAYERS:
        path = ROOT / "clmlang" / stage
        if path.is_dir():
            doc = (path / "__init__.py").read_text()
            assert doc.startswith('"""') and len(doc.split('"""')[1]) > 80, stage


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")
def test_the_contract_holds_and_catches_a_downstream_import(tmp_path: Path):
    """`lint-imports` passes on the package, and fails once a stage imports one below it."""
    shutil.copytree(ROOT / "clmlang", tmp_path / "clmlang", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def lint() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LINT), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    kept = lint()
    assert kept.returncode == 0, kept.stdout + kept.stderr
    files = tmp_path / "clmlang" / "core" / "files.py"
    files.write_text(files.read_text() + "\n\ndef _late():\n    from ..simulation import metrics\n")
    broken = lint()
    assert broken.returncode == 1
    assert "clmlang.core is not allowed to import clmlang.simulation" in broken.stdout
