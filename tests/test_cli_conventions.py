"""The command line's conventions: output files, destinations, Ctrl-C, help, exit codes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clmlang.core.files import write_atomic

from .conftest import ROOT, clm, clm_here

SPEC = str(ROOT / "specs" / "clinic.clm")
SCENARIO = str(ROOT / "simulations" / "clinic.toml")
HISTORY = str(ROOT / "tests" / "data" / "cdnow_sample.csv")
UGLY = 'program "x"\nchannel  sms cost 3\n'
SMALL = ("--customers", "200", "--days", "20")
FORECAST = ("--history", HISTORY, "--calibration-end", "1997-09-30", "--until", "1998-06-30")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- output files -------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o027, 0o640)])
def test_a_new_output_file_gets_the_mode_the_umask_allows(tmp_path: Path, umask: int, mode: int):
    """A new file is 0666 & ~umask, as `open` would make it, not always 0600."""
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "out.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "out.json") == mode


def test_fmt_keeps_the_mode_of_the_file_it_rewrites(tmp_path: Path):
    """`clm fmt` on a 0664 spec leaves it 0664."""
    spec = tmp_path / "ugly.clm"
    spec.write_text(UGLY)
    spec.chmod(0o664)
    run = clm("fmt", str(spec))
    assert run.returncode == 0, run.stderr
    assert "channel sms cost 3" in spec.read_text()
    assert _mode(spec) == 0o664


def test_fmt_through_a_symlink_formats_the_target_and_keeps_the_link(tmp_path: Path):
    """A symlinked spec stays a link; the file it points to is the one formatted."""
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "spec.clm"
    target.write_text(UGLY)
    link = tmp_path / "link.clm"
    link.symlink_to(target)
    run = clm("fmt", str(link))
    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and link.resolve() == target
    assert "channel sms cost 3" in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] != [] and sorted(
        p.name for p in (tmp_path / "real").iterdir()
    ) == ["spec.clm"]


def test_a_fifo_destination_is_written_in_place(tmp_path: Path):
    """`-o` naming a FIFO (like /dev/stdout) writes into it instead of renaming a file over
    it (which, as root, would replace the device). A FIFO in a temporary folder stands in for
    the device, so a regression cannot clobber the real one."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        run = clm("compile", SPEC, "-o", str(fifo))
        data = b""
        while chunk := os.read(reader, 65536):
            data += chunk
    except BlockingIOError:
        pass
    finally:
        os.close(reader)
    assert run.returncode == 0, run.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert b'"format_version"' in data


def test_a_failing_write_is_a_clean_error(tmp_path: Path, monkeypatch):
    """A disk that refuses the bytes is an error message and exit 2, not an internal error."""
    from typer.testing import CliRunner

    import clmlang.core.files
    from clmlang.cli import app

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clmlang.core.files.os, "fsync", full)
    out = tmp_path / "schema.json"
    result = CliRunner().invoke(app, ["schema", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"cannot write {out}: No space left on device" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


# --- destinations are checked before the work -----------------------------------------------


def _destination_cases(tmp: Path) -> list[tuple[str, ...]]:
    a_file = tmp / "a_file.txt"
    a_file.write_text("x")
    return [
        ("simulate", SPEC, *SMALL, "--out", str(a_file)),
        ("simulate", SPEC, *SMALL, "--out", "/proc/clm-out"),
        ("simulate", SPEC, *SMALL, "--out", str(a_file / "below")),
        ("run", SCENARIO, "--replications", "1", "--out", str(a_file)),
        ("compile", SPEC, "-o", str(tmp)),
        ("compile", SPEC, "-o", "/proc/clm.json"),
        ("compile", SPEC, "-o", str(a_file / "x.json")),
        ("schema", "-o", str(tmp)),
        ("test", str(ROOT / "specs"), "--junit", str(tmp)),
        ("test", str(ROOT / "specs"), "--junit", "/proc/junit.xml"),
        ("calibrate", HISTORY, "--calibration-end", "1997-09-30", "-o", str(tmp)),
        (
            "forecast",
            *("--history", HISTORY, "--calibration-end", "1997-09-30"),
            *("--until", "1998-06-30", "--out", str(a_file)),
        ),
        ("lsp", "--log", str(tmp)),
    ]


def test_every_output_option_checks_its_destination_first(tmp_path: Path):
    """A file where a folder is wanted, a folder where a file is, a place nothing can be
    created: a usage error naming the path and why, with a hint, before any work."""
    for args in _destination_cases(tmp_path):
        start = time.monotonic()
        run = clm_here(*args, input="")
        took = time.monotonic() - start
        assert run.returncode == 2, (args, run.stderr)
        bad = args[-1]
        assert f"{bad}:" in run.stderr and "hint:" in run.stderr, (args, run.stderr)
        assert "internal error" not in run.stderr and "Traceback" not in run.stderr
        assert run.stdout == "", (args, run.stdout)  # nothing ran: no table, no report
        assert took < 30, args


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", SPEC, *SMALL, "--out", ""),
        ("run", SCENARIO, "--replications", "1", "--out", ""),
        ("compile", SPEC, "-o", ""),
        ("compile", SPEC, "--output", ""),
        ("schema", "-o", ""),
        ("test", str(ROOT / "specs"), "--junit", ""),
        ("calibrate", HISTORY, "--calibration-end", "1997-09-30", "-o", ""),
        (
            "forecast",
            *("--history", HISTORY, "--calibration-end", "1997-09-30"),
            *("--until", "1998-06-30", "--out", ""),
        ),
        ("lsp", "--log", ""),
    ],
)
def test_an_empty_destination_is_a_usage_error(tmp_path: Path, args: tuple[str, ...]):
    """`--out ""` (an unset shell variable) is not the current folder: a usage error naming
    the option, with a hint, and nothing is written anywhere."""
    run = clm(*args, cwd=tmp_path, input="")
    assert run.returncode == 2, (args, run.stderr)
    option = "--output" if args[-2] == "-o" else args[-2]
    assert f'error: {option} "": an empty path' in run.stderr, run.stderr
    assert "hint:" in run.stderr and "internal error" not in run.stderr
    assert run.stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "name", "code"),
    [
        (("check", ""), "PATHS", 2),
        (("check", SPEC, ""), "PATHS", 2),
        (("fmt", "--check", ""), "PATHS", 2),
        (("compile", ""), "SPEC", 2),
        (("explain", ""), "SPEC", 2),
        (("simulate", "", *SMALL), "SPEC", 2),
        (("run", ""), "SCENARIO", 2),
        (("test", ""), "PATHS", 2),
        (("diff", "", SPEC), "OLD", 1),  # clm diff's usage errors are 1 (2: changes)
        (("diff", SPEC, ""), "NEW", 1),
        # the options naming an input file: not "--scenario . is a folder"
        (("simulate", SPEC, *SMALL, "--scenario", ""), "--scenario", 2),
        (("run", SCENARIO, "--spec", ""), "--spec", 2),
        (("explain", SPEC, "--customer", "purchases=1", "--scenario", ""), "--scenario", 2),
        (("diff", SPEC, SPEC, "--simulate", "--scenario", ""), "--scenario", 1),
        (("calibrate", HISTORY, "--calibration-end", "1997-09-30", "--policy", ""), "--policy", 2),
        (("forecast", *FORECAST, "--market", ""), "--market", 2),
        (("forecast", *FORECAST, "--current", "", SPEC), "--current", 2),
        (("forecast", *FORECAST, ""), "SPEC", 2),
    ],
)
def test_an_empty_input_path_is_a_usage_error(tmp_path: Path, args, name: str, code: int):
    """`clm check ""` said "no .clm files found in ." and `clm simulate ""` ". is a folder":
    an empty path is not the current folder."""
    (tmp_path / "x.clm").write_text(UGLY)  # what the current folder would have offered
    run = clm(*args, cwd=tmp_path, input="")
    assert run.returncode == code, (args, run.stderr)
    assert f'error: {name} "": an empty path names no file' in run.stderr, run.stderr
    assert "hint:" in run.stderr and run.stdout == ""
    assert (tmp_path / "x.clm").read_text() == UGLY


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_up_front(tmp_path: Path):
    """`--out` inside a read-only folder is a usage error, not a PermissionError at the end."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        run = clm("simulate", SPEC, *SMALL, "--out", str(locked / "out"))
    finally:
        locked.chmod(0o755)
    assert run.returncode == 2
    assert "cannot create files in" in run.stderr


# --- Ctrl-C -------------------------------------------------------------------------------


# The child runs `main()` as the `clm` script does and says `ready` from inside it, as main's
# guard starts loading the commands (typer, numpy and the rest are imported under it). A
# SIGINT before that hits CPython's own start-up or this harness's line, which no package can
# handle; on a loaded machine even the few bytecodes between a `ready` printed before `main()`
# and its `try` were enough for the signal to land outside it.
# Ctrl-C as in a terminal: a suite started in the background (`make test &`) hands its
# processes SIGINT ignored, which no user's `clm` has.
_READY_THEN_CLM = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "import sys; import clmlang.cli as cli; load = cli._load; "
    "cli._load = lambda: (print('ready', flush=True), load())[1]; "
    "sys.argv = ['clm', *sys.argv[1:]]; cli.main()"
)


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.5, 1.5, 3.0])
def test_ctrl_c_prints_one_line_and_exits_130(tmp_path: Path, delay: float):
    """SIGINT while importing, compiling or simulating: `interrupted` and exit 130."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _READY_THEN_CLM,
            "simulate",
            SPEC,
            "--customers",
            "50000",
            "--days",
            "3000",
            "--out",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout.readline() == "ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, "interrupted\n")


@pytest.mark.parametrize("module", ["typer", "numpy", "rich.table"])
def test_ctrl_c_during_the_imports_is_one_line_too(module: str):
    """A KeyboardInterrupt raised while a heavy module loads (made certain by an import
    hook, not left to timing) still prints `interrupted` and exits 130."""
    code = (
        "import sys, runpy\n"
        "class Stop:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r}:\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n"
        f"sys.argv = ['clm', 'simulate', {SPEC!r}]\n"
        "runpy.run_module('clmlang', run_name='__main__')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (130, "interrupted\n")


def test_ctrl_c_inside_a_kernel_call_still_interrupts():
    """A Ctrl-C that lands while numba's dispatcher returns from a kernel comes back as
    `SystemError: CPUDispatcher(...) returned a result with an exception set`, the
    KeyboardInterrupt its cause: it printed `internal error` and exit 3 (seen once in 31
    interrupts of a simulation on a loaded machine). Made certain here by a simulation whose
    engine raises that error."""
    code = (
        "import sys; import clmlang.cli as cli; load = cli._load\n"
        "def broken(*args, **kwargs):\n"
        "    try:\n"
        "        raise KeyboardInterrupt\n"
        "    except KeyboardInterrupt as stop:\n"
        "        raise SystemError('CPUDispatcher(compact) returned a result with an exception"
        " set') from stop\n"
        "def patched():\n"
        "    app = load()\n"
        "    import clmlang.simulation.engine.blocks as blocks\n"
        "    blocks.simulate_policy = broken\n"
        "    return app\n"
        "cli._load = patched\n"
        f"sys.argv = ['clm', 'simulate', {SPEC!r}, '--customers', '100']; cli.main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (run.returncode, run.stderr) == (130, "interrupted\n")


def test_ctrl_c_in_a_finaliser_still_interrupts():
    """A Ctrl-C that lands in a finaliser (or a garbage collector's callback) is one Python
    cannot raise: it would print "Exception ignored" and let the command run on to exit 0.
    Made certain here by a finaliser that raises KeyboardInterrupt while the command loads."""
    code = (
        "import sys; import clmlang.cli as cli; load = cli._load\n"
        "class Finaliser:\n"
        "    def __del__(self):\n"
        "        raise KeyboardInterrupt\n"
        "cli._load = lambda: (Finaliser(), load())[1]\n"
        f"sys.argv = ['clm', 'check', {SPEC!r}]; cli.main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (run.returncode, run.stderr) == (130, "interrupted\n")


# --- help, version, completion, tables ------------------------------------------------------


def _commands() -> dict:
    import typer.main

    from clmlang.cli import app

    return typer.main.get_command(app).commands


def test_version_flag():
    """`clm --version` prints the version and exits 0."""
    from clmlang import __version__

    run = clm("--version")
    assert (run.returncode, run.stdout.strip()) == (0, __version__)


def test_dash_h_works_on_the_root_and_every_command():
    """`-h` is `--help` on the root (a real run) and on every command (in process)."""
    from typer.testing import CliRunner

    from clmlang.cli import app

    run = clm("-h")
    assert run.returncode == 0 and run.stdout.startswith("Usage: clm [OPTIONS] COMMAND")
    for name in _commands():
        result = CliRunner().invoke(app, [name, "-h"], prog_name="clm")
        assert result.exit_code == 0, (name, result.output)
        assert result.output.startswith(f"Usage: clm {name} "), name


def test_help_shows_brackets_literally():
    """`[simulation]` and `[market]` survive into the help text."""
    run = clm("simulate", "--help")
    assert "[simulation] settings and" in run.stdout and "[market]" in run.stdout


def test_every_parameter_has_help_and_required_ones_say_so():
    """Walk the command tree: every argument and option explains itself."""
    missing = [
        f"{name} {param.name}"
        for name, command in _commands().items()
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert missing == []
    run = clm("forecast", "--help")
    assert "[required]" in run.stdout


def test_shell_completion_can_be_shown(monkeypatch: pytest.MonkeyPatch):
    """`--show-completion bash` prints the bash completion script. Typer detects the shell
    from the process's ancestors and ignores the name given, so under a parent that is no
    shell (pytest in the background, CI) it said "Shell  not supported"; with detection off
    (typer's own switch for tests) the option takes the shell's name, whatever runs the test."""
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    run = clm("--show-completion", "bash")
    assert run.returncode == 0, run.stderr
    assert "_clm_completion()" in run.stdout  # the bash function
    assert "complete -o default -F _clm_completion clm" in run.stdout
    assert "_CLM_COMPLETE=complete_bash" in run.stdout


@pytest.mark.parametrize("columns", [None, "40"])
def test_tables_are_not_cut_in_a_pipe(tmp_path: Path, columns: str | None):
    """Piped output keeps every digit and every word, whatever COLUMNS says."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = columns
    run = subprocess.run(
        [sys.executable, "-m", "clmlang", "simulate", SPEC, *SMALL, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    import json

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert f"{summary['revenue']:,.0f}" in run.stdout
    assert f"churn rate (no purchase in {summary['churn_days']:g} days)" in run.stdout
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "clmlang",
            "explain",
            SPEC,
            "--customer",
            "purchases=4, days_since_purchase=50",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert "(days_since_purchase=50)" in run.stdout and "…" not in run.stdout


# --- exit codes -----------------------------------------------------------------------------


def test_a_missing_input_file_is_a_usage_error_in_every_command(tmp_path: Path):
    """Every command given a file that does not exist exits 2 (`clm diff`: 1, its error)."""
    nope = str(tmp_path / "nope")
    cases = {
        ("check", nope): 2,
        ("compile", nope): 2,
        ("fmt", nope): 2,
        ("explain", nope): 2,
        ("simulate", nope): 2,
        ("simulate", SPEC, "--scenario", nope): 2,
        ("run", nope): 2,
        ("test", nope): 2,
        ("calibrate", nope, "--calibration-end", "1997-09-30"): 2,
        ("forecast", *("--history", nope, "--calibration-end", "1997-09-30", "--until", "1998")): 2,
        ("forecast", nope, "--history", HISTORY, "--calibration-end", "1997", "--until", "1998"): 2,
        (
            "forecast",
            *("--history", HISTORY, "--calibration-end", "1997", "--until", "1998"),
            *("--market", nope),
        ): 2,
        ("diff", nope, SPEC): 1,
        ("diff", SPEC, nope): 1,
    }
    for args, code in cases.items():
        run = clm_here(*args)
        assert run.returncode == code, (args, run.stderr)
        assert f"{nope}: no such file" in run.stderr, (args, run.stderr)


def test_a_folder_given_as_an_input_file_is_a_usage_error(tmp_path: Path):
    """A folder where a file is expected: exit 2 naming it, not a crash."""
    for args in [
        ("compile", str(tmp_path)),
        ("explain", str(tmp_path)),
        ("run", str(tmp_path)),
        ("simulate", SPEC, "--scenario", str(tmp_path)),
        ("calibrate", str(tmp_path), "--calibration-end", "1997-09-30"),
    ]:
        run = clm_here(*args)
        assert run.returncode == 2, (args, run.stderr)
        assert "is a folder, not a file" in run.stderr, (args, run.stderr)


@pytest.mark.parametrize(
    "args",
    [("--nope",), (), ("--customers", "many"), ("--format", "yaml"), ("--replications", "0")],
)
def test_diff_usage_errors_exit_1_not_2(args: tuple[str, ...]):
    """`clm diff` exits 2 for "changed": a typo in its options must not look like a change."""
    run = clm("diff", *([SPEC, SPEC] if args else []), *args)
    assert run.returncode == 1, run.stderr
    assert "Error" in run.stderr


def test_explain_refuses_a_key_given_twice():
    """`owns=a, owns=b` is an error naming the key, not a silent last-one-wins."""
    run = clm("explain", SPEC, "--customer", "owns=facial, owns=botox")
    assert run.returncode == 2
    assert "`owns` is given twice" in run.stderr and "owns=a+b" in run.stderr


@pytest.mark.parametrize(
    "args",
    [("simulate", SPEC, "--trace", "-5"), ("diff", SPEC, SPEC, "--days", "-1")],
)
def test_counts_refuse_values_below_their_minimum(args: tuple[str, ...]):
    """A negative customer id is a usage error before any work (exit 1 in `clm diff`)."""
    run = clm(*args)
    assert run.returncode == (1 if args[0] == "diff" else 2), run.stderr
    assert "Invalid value" in run.stderr


def test_explain_refuses_a_value_without_a_key():
    """`--customer "=3"` names the part with no key (it was reported as a repeated key)."""
    run = clm("explain", SPEC, "--customer", "=3, =4")
    assert run.returncode == 2
    assert "`=3` has no key before `=`" in run.stderr


def test_diff_refuses_an_empty_git_revision():
    """`--git ""` is an error (exit 1), not a diff against the git index that says "no
    changes"."""
    run = clm("diff", SPEC, "--git", "")
    assert run.returncode == 1
    assert "--git: give a revision" in run.stderr
