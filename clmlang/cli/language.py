"""Commands on specs: check, compile, schema, fmt, explain, version."""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..api import analyse, explain, find_specs
from ..compile.explanation import CustomerError
from ..compile.policy import Policy
from ..core.diagnostics import Diagnostic, render_json, render_text
from ..core.source import Source
from ..language.formatter import format_source
from ..market.model import MarketError
from .common import (
    OK,
    PROBLEMS,
    OutputFormat,
    _color,
    _compile_or_exit,
    _console,
    _input_file,
    _market_failure,
    _out,
    _output_file,
    _summary,
    _usage_error,
    _write,
    app,
    input_path,
    output_path,
)
from .file_kinds import SCENARIO, SPEC


@app.command()
def check(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Spec files or folders (recursed).", parser=input_path("PATHS")),
    ],
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """Check specs and report every problem: file:line:col, the line, a caret, a hint."""
    for path in paths:
        if not path.is_dir():
            _input_file(path, kind=SPEC)
    files = list(find_specs(paths))
    if not files:
        raise _usage_error("no .clm files found in " + ", ".join(map(str, paths)))
    diagnostics: list[Diagnostic] = []
    sources: dict[str, Source] = {}
    failed = False
    seen: set[tuple[object, ...]] = set()
    modules: list[Path] = []
    for path in files:
        analysis = analyse(path, compile_policy=False, allow_module=True)
        new = [d for d in analysis.diagnostics if _problem(d) not in seen]
        seen.update(map(_problem, new))
        diagnostics.extend(new)
        sources.update(analysis.sources)
        failed = failed or analysis.failed(strict)
        modules += [path] if analysis.module else []
    if format is OutputFormat.json:
        _out(render_json(diagnostics))
    else:
        if diagnostics:
            _out(render_text(diagnostics, sources, color=_color(sys.stdout)) + "\n")
        for module in modules:
            _out(f"{module}: module, names checked through the specs that use it")
        _out(_summary(diagnostics, len(files)))
    raise typer.Exit(PROBLEMS if failed else OK)


def _problem(d: Diagnostic) -> tuple[object, ...]:
    """A module's problem found alone and again through a spec that uses it (which may
    name the file `../common/lib.clm`) is one problem: the same code and text, same place."""
    where = (os.path.realpath(d.span.file), d.span.start, d.span.end) if d.span else None
    return (d.code, d.message, where)


def _output_option() -> Any:
    """`-o/--output FILE`: where `compile` and `schema` write (else stdout)."""
    return typer.Option(
        "-o", "--output", help="Write here, not stdout.", parser=output_path("--output"),
        metavar="<path>",
    )  # fmt: skip


@app.command(name="compile")
def compile_(
    spec: Annotated[Path, typer.Argument(help="The spec to compile.", parser=input_path("SPEC"))],
    output: Annotated[Path | None, _output_option()] = None,
) -> None:
    """Compile a spec into its executable policy (JSON)."""
    _output_file(output, "--output")
    policy, _ = _compile_or_exit(spec)
    if output is None:
        _out(policy.to_json())
    else:
        _write(output, policy.to_json() + "\n")
    raise typer.Exit(OK)


@app.command()
def schema(
    output: Annotated[Path | None, _output_option()] = None,
) -> None:
    """Print the JSON Schema of compiled policies."""
    _output_file(output, "--output")
    text = Policy.json_schema() + "\n"
    if output is None:
        _out(text)
    else:
        _write(output, text)


@app.command()
def fmt(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Spec files or folders (recursed).", parser=input_path("PATHS")),
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a file would change.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what would change; change nothing.")
    ] = False,
) -> None:
    """Rewrite specs in the one canonical layout, comments kept."""
    files = [p for raw in paths for p in (sorted(raw.rglob("*.clm")) if raw.is_dir() else [raw])]
    if not files:
        raise _usage_error("no .clm files found in " + ", ".join(map(str, paths)))
    for path in files:
        _input_file(path, kind=SPEC)
        if not (check or diff):
            _output_file(path, "")
    changed, broken = [], False
    for path in files:
        try:
            source = Source.from_path(path)
        except OSError as error:
            raise _usage_error(f"cannot read {path}: {error.strerror}") from None
        result = format_source(source)
        if result.text is None:
            _out(
                render_text(result.diagnostics, {source.name: source}, color=_color(sys.stderr)),
                err=True,
            )
            broken = True
            continue
        if result.text == source.text:
            continue
        changed.append(path)
        if diff:
            lines = difflib.unified_diff(
                source.text.splitlines(keepends=True),
                result.text.splitlines(keepends=True),
                f"{path} (original)",
                f"{path} (formatted)",
            )
            _out("".join(lines))
        elif check:
            _out(f"would reformat {path}")
        else:
            _write(path, result.text)
            _out(f"reformatted {path}")
    if broken:
        raise typer.Exit(PROBLEMS)
    raise typer.Exit(PROBLEMS if changed and (check or diff) else OK)


@app.command(name="explain")
def explain_(
    spec: Annotated[Path, typer.Argument(help="The spec.", parser=input_path("SPEC"))],
    customer: Annotated[
        str,
        typer.Option(help='The customer, e.g. "purchases=4, days_since_purchase=80, owns=facial".'),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="A scenario file whose market's buying parameters the predictions (p_alive,"
            " expected_purchases, predicted_value) use; the default market's without one.",
            parser=input_path("--scenario"),
            metavar="<path>",
        ),
    ] = None,
) -> None:
    """Show a customer's stage and segments, and for each rule whether they are eligible
    and whether its trigger can come for them."""
    _, analysis = _compile_or_exit(spec)
    if scenario is not None:
        _input_file(scenario, "--scenario", kind=SCENARIO)
    try:
        result = explain(analysis, customer, scenario)
    except CustomerError as error:
        raise _usage_error(f"--customer: {error}") from None
    except MarketError as error:
        raise _market_failure(error, PROBLEMS) from None
    if as_json:
        _out(json.dumps({"program": analysis.policy.program, **result.to_dict()}, indent=2))
        return
    console = _console()
    # names and values come from the user: escaped, so that `[` in them is not rich markup
    who = escape(customer or "(all defaults)")
    console.print(f"[bold]{escape(analysis.policy.program)}[/]: customer {who}")
    goal = f" (goal: return within {escape(result.goal)})" if result.goal else ""
    console.print(f"stage: [bold]{escape(result.stage or 'none')}[/]{goal}")
    member = [name for name, hit in result.segments if hit]
    console.print(f"segments: {escape(', '.join(member)) if member else 'none'}")
    if result.predictions:
        console.print(f"predictions: {escape(result.predictions_text())}")
        console.print(f"  (under {escape(result.model or '')})")
    table = Table()
    for header in ("rule", "eligible", "trigger", "can come", "why not / notes"):
        table.add_column(header, overflow="fold")  # a long name wraps, never cut to `...`
    for verdict in result.rules:
        why = [*verdict.reasons]
        if verdict.trigger_blocked:
            why.append(f"the trigger cannot come: {verdict.trigger_blocked}")
        if not why:
            why = list(verdict.notes)
        table.add_row(
            escape(verdict.rule),
            _yes_no(verdict.eligible),
            escape(verdict.trigger),
            _yes_no(verdict.trigger_can_come),
            escape("; ".join(why)),
        )
    console.print(table)


def _yes_no(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]no[/]"


@app.command()
def version() -> None:
    """Print the clmlang version."""
    _out(__version__)
