"""The command line's shared parts: the Typer app, exit codes, output helpers.

Exit codes: 0 ok, 1 problems found, 2 usage error (bad arguments, unreadable input),
3 internal error (a bug in clmlang: the message says how to get the traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..api import Analysis, analyse
from ..compile.policy import Policy
from ..core.diagnostics import Diagnostic, Severity, render_text
from ..core.files import file_problem, folder_problem, write_atomic
from ..market.model import Market, MarketError
from ..market.scenario import Settings, load_scenario_file
from .file_kinds import SCENARIO, SPEC, kind_problem

# Help is plain text: rich markup would swallow literal `[simulation]` and `[market]`, and
# plain help reads the same in a terminal, a pipe and a CI log.
app = typer.Typer(
    name="clm",
    help="clmlang: write customer lifecycle strategies, check, compile and simulate them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

OK, PROBLEMS, USAGE, INTERNAL = 0, 1, 2, 3


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        _out(__version__)
        raise typer.Exit(OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the clmlang version and exit.",
        ),
    ] = False,
) -> None:
    """clmlang: write customer lifecycle strategies, check, compile and simulate them."""


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _color(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def _console() -> Console:
    """A console for tables on stdout: the terminal's width in a terminal; in a pipe or a CI
    log, wide enough that no cell is cut or folded (COLUMNS is ignored there)."""
    if sys.stdout.isatty():
        return Console(highlight=False, soft_wrap=True)
    return Console(highlight=False, soft_wrap=True, width=_PIPE_WIDTH)


_PIPE_WIDTH = 10_000


def _out(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text if text.endswith("\n") else text + "\n")


def _usage_error(message: str, hint: str | None = None, code: int = USAGE) -> typer.Exit:
    """Print a usage error (and its hint); the exit to raise."""
    _out(f"error: {message}" + (f"\n  hint: {hint}" if hint else ""), err=True)
    return typer.Exit(code)


def output_path(option: str) -> Callable[[str], Path]:
    """The parser of an option naming where an output goes (`parser=output_path("--out")`).
    An empty path is a usage error: `--out "$DIR"` with DIR unset would otherwise write into
    the current folder (`Path("")` is `.`)."""
    return _given_path(option, "file or folder", USAGE)


def out_option(help: str) -> Any:
    """A `--out FOLDER` option (checked by `output_path`)."""
    return typer.Option(help=help, parser=output_path("--out"), metavar="<path>")


def input_path(name: str, code: int = USAGE) -> Callable[[str], Path]:
    """The parser of an argument or option naming an input (`parser=input_path("SPEC")`): an
    empty path is a usage error (exit `code`), not the current folder ("." is a folder)."""
    return _given_path(name, "file", code)


def _given_path(name: str, what: str, code: int) -> Callable[[str], Path]:
    def parse(text: str | Path) -> Path:
        if isinstance(text, Path):  # a default
            return text
        if not text:
            raise _usage_error(
                f'{name} "": an empty path names no {what}',
                "give a path (a shell variable that is not set gives an empty one)",
                code,
            )
        return Path(text)

    parse.__name__ = "path"  # shown in the help as `<path>`, as a plain Path's type is
    return parse


def _input_file(path: Path, option: str = "", code: int = USAGE, kind: str | None = None) -> Path:
    """`path` if it is a readable file (of the `kind` expected, file_kinds.py, when given);
    else a usage error naming it (`option` names the argument, e.g. "--scenario")."""
    where = f"{option} " if option else ""
    if not path.exists():
        raise _usage_error(f"{where}{path}: no such file", "check the path", code)
    if path.is_dir():
        raise _usage_error(f"{where}{path} is a folder, not a file", "name a file in it", code)
    if not (path.is_file() or path.is_fifo() or path.is_char_device()):  # <(...) is a FIFO
        raise _usage_error(f"{where}{path} is not a file", "give a file saved on disk", code)
    if not os.access(path, os.R_OK):
        raise _usage_error(f"{where}{path} is not readable", "check its permissions", code)
    problem = kind_problem(path, kind) if kind else None
    if problem:
        raise _usage_error(f"{where}{path}: {problem[0]}", problem[1], code)
    return path


def _output_folder(path: Path, option: str) -> Path:
    """`path` if output files can be written in it (checked before the work starts)."""
    problem = folder_problem(path)
    if problem:
        raise _usage_error(f"{option} {path}: {problem}", "choose a folder you can write to")
    return path


def _output_file(path: Path | None, option: str) -> Path | None:
    """`path` if it can be written as an output file (checked before the work starts)."""
    if path is not None:
        problem = file_problem(path)
        if problem:
            where = f"{option} " if option else ""
            raise _usage_error(f"{where}{path}: {problem}", "choose a file you can write")
    return path


def _write(path: Path, text: str) -> None:
    """Write an output file; a failure of the disk (full, gone) is an error, not a bug."""
    try:
        write_atomic(path, text)
    except OSError as error:
        raise _usage_error(f"cannot write {path}: {error.strerror or error}") from None


def _write_all(write: Callable[[Path], list[Path]], folder: Path) -> list[Path]:
    """Run a result's `write(folder)`; a failure of the disk is an error, not a bug."""
    try:
        return write(folder)
    except OSError as error:
        raise _usage_error(f"cannot write to {folder}: {error.strerror or error}") from None


def _summary(diagnostics: list[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    noun = "file" if files == 1 else "files"
    if not errors and not warnings:
        return f"{files} {noun} checked: no problems."
    return f"{files} {noun} checked: {errors} error(s), {warnings} warning(s)."


def _compile_or_exit(spec: Path) -> tuple[Policy, Analysis]:
    _input_file(spec, kind=SPEC)
    analysis = analyse(spec)
    if analysis.policy is None:
        _out(
            render_text(analysis.diagnostics, analysis.sources, color=_color(sys.stderr)), err=True
        )
        raise typer.Exit(PROBLEMS)
    return analysis.policy, analysis


def _market_failure(error: MarketError, code: int = PROBLEMS) -> typer.Exit:
    """Print a scenario or market problem as diagnostics; the exit to raise."""
    found, sources = error.diagnostics()
    _out(render_text(found, sources, color=_color(sys.stderr)), err=True)
    return typer.Exit(code)


def _scenario_for(
    policy: Policy, scenario: Path | None, default: Settings | None = None
) -> tuple[Settings, Market]:
    """The settings and market of a scenario file (or the defaults), checked against the
    policy's names; raises MarketError."""
    settings, market = default or Settings(), Market()
    if scenario is not None:
        _input_file(scenario, "--scenario", kind=SCENARIO)
        loaded = load_scenario_file(scenario, policy)
        loaded.check_names(loaded.market, policy)  # placed in the file (or include) that wrote it
        given = loaded.settings
        settings = Settings(customers=given.customers, days=given.days, seed=given.seed)
        market = loaded.market
    problems = market.problems(policy)
    if problems:
        raise MarketError(str(scenario or "<defaults>"), problems)
    return settings, market


def _note_log_formats(logs: dict) -> None:
    """A note for each log written as CSV where Parquet would have been chosen."""
    from ..simulation.logs import log_format  # the simulation loads only for commands that run

    for name, frame in logs.items():
        note = log_format(len(frame))[1]
        if note:
            _out(f"note: {name}: {note}", err=True)
