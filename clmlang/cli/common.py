"""The command line's shared parts: the Typer app, exit codes, output helpers.

Exit codes: 0 ok, 1 problems found, 2 usage error (bad arguments, unreadable input),
3 internal error (a bug in clmlang: the message says how to get the traceback).
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path

import typer

from ..api import Analysis, analyse
from ..compile.policy import Policy
from ..core.diagnostics import Diagnostic, Severity, render_text
from ..market.model import Market, MarketError, Settings, load_scenario

app = typer.Typer(
    name="clm",
    help="clmlang: write customer lifecycle strategies, check, compile and simulate them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

OK, PROBLEMS, USAGE, INTERNAL = 0, 1, 2, 3


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _color(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def _out(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text if text.endswith("\n") else text + "\n")


def _usage_error(message: str) -> typer.Exit:
    _out(f"error: {message}", err=True)
    return typer.Exit(USAGE)


def _summary(diagnostics: list[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    noun = "file" if files == 1 else "files"
    if not errors and not warnings:
        return f"{files} {noun} checked: no problems."
    return f"{files} {noun} checked: {errors} error(s), {warnings} warning(s)."


def _compile_or_exit(spec: Path) -> tuple[Policy, Analysis]:
    if not spec.exists():
        raise _usage_error(f"no such file: {spec}")
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
        if not scenario.exists():
            raise _usage_error(f"no such file: {scenario}")
        settings, market = load_scenario(scenario)
    problems = market.problems(policy)
    if problems:
        raise MarketError(str(scenario or "<defaults>"), problems)
    return settings, market
