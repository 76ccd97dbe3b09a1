"""The `clm` entry point as a real process: most tests run commands in the test's own process
(conftest.clm), so these check what only a new interpreter shows: the console script and
`python -m clmlang` start, exit codes reach the shell, and bad input is a diagnostic."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, clm_process


def test_console_script_prints_the_version():
    script = shutil.which("clm", path=str(Path(sys.executable).parent))
    assert script is not None, "the clm console script is not installed next to python"
    run = subprocess.run([script, "--version"], capture_output=True, text=True, cwd=ROOT)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.strip() == __import__("clmlang").__version__


def test_a_spec_checks_and_simulates_through_python_m_clmlang(tmp_path: Path):
    run = clm_process(
        "simulate", "specs/clinic.clm", "--customers", "300", "--days", "30",
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "summary.json").is_file()


def test_a_missing_file_is_a_usage_error_without_a_traceback():
    run = clm_process("simulate", "no/such/spec.clm")
    assert run.returncode == 2
    assert run.stderr.startswith("error: no/such/spec.clm: no such file")
    assert "hint:" in run.stderr and "Traceback" not in run.stderr
