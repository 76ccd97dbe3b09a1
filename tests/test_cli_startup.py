"""The command line's start-up and exit: one command module imported, the exit functions run,
the exit codes kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from .conftest import ROOT

SPEC = str(ROOT / "specs" / "clinic.clm")


def test_each_command_is_found_in_the_module_that_registers_it():
    """`clm NAME` imports only the module `_MODULE_OF` names: it must be the one whose
    function is the command, and every command must be named (a new one too)."""
    from clmlang.cli import _MODULE_OF, _wanted, app

    commands = typer.main.get_command(app).commands
    assert set(commands) == set(_MODULE_OF)
    for name, command in commands.items():
        assert command.callback.__module__ == f"clmlang.cli.{_MODULE_OF[name]}", name
    assert _wanted(["--no-color", "simulate", "x.clm"]) == ("simulation",)
    assert _wanted(["--help"]) == _wanted(["simulat"]) == _wanted([])
    assert len(_wanted([])) == len(set(_MODULE_OF.values()))


def _clm(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """`clm ARGS` in a fresh interpreter that registered an exit function, which prints which
    command modules were imported."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('modules', sorted(m for m in sys.modules"
        " if m.startswith('clmlang.cli.'))))\n"
        "class Teardown:\n"  # a normal exit clears __main__'s names, and this prints
        "    def __del__(self): print('teardown')\n"
        "teardown = Teardown()\n"
        f"sys.argv = ['clm', *{args!r}]\n"
        "from clmlang.cli import main\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )


def test_a_command_imports_its_module_alone_and_its_exit_runs_the_exit_functions(tmp_path: Path):
    """`clm check` loads the language commands, not the forecasting's nor the simulation's;
    the quick exit still runs the exit functions (after the command's output) and keeps the
    exit codes: 0 for a clean spec, 2 for a missing file."""
    done = _clm(["check", SPEC], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("no problems.")
    assert (
        lines[-1]
        == "modules ['clmlang.cli.common', 'clmlang.cli.file_kinds', 'clmlang.cli.language']"
    )
    assert "teardown" not in done.stdout  # the interpreter's finalisation was skipped
    missing = _clm(["check", str(tmp_path / "missing.clm")], tmp_path)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr and missing.stdout.startswith("modules")


def test_main_called_in_process_raises_system_exit_and_the_caller_goes_on(monkeypatch):
    """Only the program's entry (`__main__`) ends the process at once: `main()` called from
    other code (a test, a notebook) raises SystemExit with the code, as Typer does."""
    from clmlang.cli import main

    monkeypatch.setattr(sys, "argv", ["clm", "check", SPEC])
    try:
        main()
    except SystemExit as done:
        assert done.code in (0, None)
    else:
        raise AssertionError("main() returned without SystemExit")
