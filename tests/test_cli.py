"""The `clm` command run as a real subprocess: exit codes, output, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import clm

GOOD = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8
stage new when purchases <= 1
stage repeat when purchases >= 2 goal return within 60 days
rule thanks {
  on purchase of tee
  send email "Thanks" offer tee discount 10%
}
"""


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.clm"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.clm"
    path.write_text(GOOD.replace("offer tee", "offer tea").replace("stage new", "stage new\n  xx"))
    return path


def test_check_ok(good: Path):
    """A good spec: exit 0 and a one-line summary."""
    run = clm("check", str(good))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no problems" in run.stdout


def test_check_reports_with_caret_and_hint(tmp_path: Path):
    """A bad spec: exit 1; file:line:col, the line, a caret, the hint."""
    path = tmp_path / "typo.clm"
    path.write_text(GOOD.replace("offer tee", "offer tea"))
    run = clm("check", str(path))
    assert run.returncode == 1
    assert f"{path}:8:" in run.stdout and "error[CLM100]" in run.stdout
    lines = run.stdout.splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip().startswith("^"))
    assert "offer tea" in lines[caret - 1]
    assert "did you mean `tee`?" in run.stdout


def test_check_json(tmp_path: Path):
    """`--format json` prints machine-readable diagnostics."""
    path = tmp_path / "typo.clm"
    path.write_text(GOOD.replace("offer tee", "offer tea"))
    run = clm("check", "--format", "json", str(path))
    assert run.returncode == 1
    (first, *_) = json.loads(run.stdout)
    assert first["code"] == "CLM100" and first["span"]["line"] == 8


def test_check_folder_recurses(tmp_path: Path, good: Path):
    """A folder is checked recursively; one bad file makes the run fail."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.clm").write_text("stage s when\n")
    run = clm("check", str(tmp_path))
    assert run.returncode == 1
    assert "2 files checked" in run.stdout


def test_check_usage_errors_exit_2(tmp_path: Path):
    """No files found, or an unknown option: exit 2."""
    assert clm("check", str(tmp_path)).returncode == 2
    assert clm("check", "--no-such-option", str(tmp_path)).returncode == 2


def test_compile_writes_policy(good: Path, tmp_path: Path):
    """`compile -o` writes the policy JSON; the same spec gives the same bytes."""
    out = tmp_path / "out" / "policy.json"
    assert clm("compile", str(good), "-o", str(out)).returncode == 0
    first = out.read_bytes()
    assert json.loads(first)["format_version"] == "1.4"
    assert clm("compile", str(good), "-o", str(out)).returncode == 0
    assert out.read_bytes() == first
    assert [p.name for p in out.parent.iterdir()] == ["policy.json"]  # no temporary files left


def test_compile_failure_writes_nothing(tmp_path: Path):
    """A spec with errors: exit 1, diagnostics on stderr, no output file."""
    path = tmp_path / "typo.clm"
    path.write_text(GOOD.replace("offer tee", "offer tea"))
    out = tmp_path / "policy.json"
    run = clm("compile", str(path), "-o", str(out))
    assert run.returncode == 1 and "CLM100" in run.stderr
    assert not out.exists()


def test_schema_is_json_schema():
    """`clm schema` prints a JSON Schema of the policy."""
    run = clm("schema")
    schema = json.loads(run.stdout)
    assert run.returncode == 0 and schema["title"] == "Policy"
    assert "rules" in schema["properties"]


def test_fmt_check_and_write(tmp_path: Path):
    """`fmt --check` exits 1 on an unformatted file and changes nothing; `fmt` rewrites it."""
    path = tmp_path / "messy.clm"
    messy = GOOD.replace("channel email cost 0.1", "channel   email    cost 0.1")
    path.write_text(messy)
    run = clm("fmt", "--check", str(path))
    assert run.returncode == 1 and "would reformat" in run.stdout
    assert path.read_text() == messy
    assert clm("fmt", str(path)).returncode == 0
    assert "channel email cost 0.1" in path.read_text()
    assert clm("fmt", "--check", str(path)).returncode == 0


def test_fmt_diff(tmp_path: Path):
    """`fmt --diff` shows a unified diff and changes nothing."""
    path = tmp_path / "messy.clm"
    path.write_text(GOOD.replace("cost 8", "cost   8"))
    run = clm("fmt", "--diff", str(path))
    assert run.returncode == 1
    assert "-product tee role profit price 20 cost   8" in run.stdout
    assert "+product tee role profit price 20 cost 8" in run.stdout


def test_fmt_refuses_broken_file(tmp_path: Path):
    """A file that does not parse is reported and left alone."""
    path = tmp_path / "broken.clm"
    path.write_text("stage s when\n")
    run = clm("fmt", str(path))
    assert run.returncode == 1 and "CLM001" in run.stderr
    assert path.read_text() == "stage s when\n"


def test_explain(good: Path):
    """`explain` shows the stage and why a rule would not fire."""
    run = clm("explain", str(good), "--customer", "purchases=3, days_since_purchase=10 days")
    assert run.returncode == 0, run.stderr
    assert "stage: repeat" in run.stdout
    assert "thanks" in run.stdout


def test_explain_bad_customer_is_usage_error(good: Path):
    """An unknown field in --customer is exit 2 with a suggestion."""
    run = clm("explain", str(good), "--customer", "purchses=3")
    assert run.returncode == 2
    assert "did you mean `purchases`?" in run.stderr


def test_missing_spec_is_usage_error(tmp_path: Path):
    """Compiling a file that does not exist is exit 2."""
    assert clm("compile", str(tmp_path / "nope.clm")).returncode == 2


def test_internal_error_is_reported_without_traceback(monkeypatch, capsys, tmp_path):
    """A bug inside clmlang exits 3 with a one-line message, not a traceback."""
    from clmlang import cli

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    spec = tmp_path / "shop.clm"
    spec.write_text(GOOD)
    monkeypatch.setattr(cli.language, "analyse", broken)
    monkeypatch.setattr(sys, "argv", ["clm", "check", str(spec)])
    monkeypatch.delenv("CLM_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == cli.INTERNAL
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


def test_the_command_line_loads_the_simulator_only_when_a_command_needs_it():
    """`clm check` and `clm fmt` start without the simulator, what-if runs, fitting or
    plotly: a strategist's save hook and the language server start in under a second."""
    code = (
        "import sys, clmlang.cli; "
        "heavy = ['clmlang.simulation.engine', 'clmlang.whatif.experiment', "
        "'clmlang.forecasting.calibration', 'clmlang.whatif.report', "
        "'clmlang.testing.policytest', 'plotly', 'scipy.stats', 'pandas']; "
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
