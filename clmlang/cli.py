"""The `clm` command line: parses arguments, calls the library, renders results.

Exit codes: 0 ok, 1 problems found, 2 usage error (bad arguments, unreadable input),
3 internal error (a bug in clmlang: the message says how to get the traceback).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .api import Analysis, analyse, analyse_text, explain, find_specs, loads
from .api import simulate as api_simulate
from .calibration import calibrate
from .changes import diff_policies
from .diagnostics import Diagnostic, Severity, render_json, render_text
from .diffview import render_changes
from .experiment import SCHEDULER_ENV, Comparison, run_scenario
from .explain import CustomerError
from .files import write_atomic
from .forecasting import forecast_base
from .formatter import format_source
from .history import HistoryError, load_history
from .impact import simulate_impact
from .market import Market, MarketError, Settings, load_scenario
from .metrics import Forecast
from .policy import Policy
from .policytest import run_tests
from .scenario import load_scenario_file
from .source import Source

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


@app.command()
def check(
    paths: Annotated[list[Path], typer.Argument(help="Spec files or folders (recursed).")],
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """Check specs and report every problem: file:line:col, the line, a caret, a hint."""
    files = list(find_specs(paths))
    if not files:
        raise _usage_error("no .clm files found in " + ", ".join(map(str, paths)))
    diagnostics: list[Diagnostic] = []
    sources: dict[str, Source] = {}
    failed = False
    for path in files:
        analysis = analyse(path, compile_policy=False, allow_module=True)
        new = [d for d in analysis.diagnostics if d not in diagnostics]
        diagnostics.extend(new)
        sources.update(analysis.sources)
        failed = failed or analysis.failed(strict)
    if format is OutputFormat.json:
        _out(render_json(diagnostics))
    else:
        if diagnostics:
            _out(render_text(diagnostics, sources, color=_color(sys.stdout)) + "\n")
        _out(_summary(diagnostics, len(files)))
    raise typer.Exit(PROBLEMS if failed else OK)


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


@app.command(name="compile")
def compile_(
    spec: Annotated[Path, typer.Argument(help="The spec to compile.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Compile a spec into its executable policy (JSON)."""
    policy, _ = _compile_or_exit(spec)
    if output is None:
        _out(policy.to_json())
    else:
        write_atomic(output, policy.to_json() + "\n")
    raise typer.Exit(OK)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of compiled policies."""
    text = Policy.json_schema() + "\n"
    if output is None:
        _out(text)
    else:
        write_atomic(output, text)


@app.command()
def fmt(
    paths: Annotated[list[Path], typer.Argument(help="Spec files or folders (recursed).")],
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
        raise _usage_error("no .clm files found")
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
            write_atomic(path, result.text)
            _out(f"reformatted {path}")
    if broken:
        raise typer.Exit(PROBLEMS)
    raise typer.Exit(PROBLEMS if changed and (check or diff) else OK)


@app.command(name="explain")
def explain_(
    spec: Annotated[Path, typer.Argument(help="The spec.")],
    customer: Annotated[
        str,
        typer.Option(help='The customer, e.g. "purchases=4, days_since_purchase=80, owns=facial".'),
    ] = "",
) -> None:
    """Show a customer's stage and segments, and which rules would fire and why not."""
    _, analysis = _compile_or_exit(spec)
    try:
        result = explain(analysis, customer)
    except CustomerError as error:
        raise _usage_error(f"--customer: {error}") from None
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{analysis.policy.program}[/]: customer {customer or '(all defaults)'}")
    console.print(f"stage: [bold]{result.stage or 'none'}[/]")
    member = [name for name, hit in result.segments if hit]
    console.print(f"segments: {', '.join(member) if member else 'none'}")
    table = Table("rule", "eligible", "fires", "why not / notes")
    for verdict in result.rules:
        why = "; ".join(verdict.reasons) if verdict.reasons else "; ".join(verdict.notes)
        mark = "[green]yes[/]" if verdict.fires else "[red]no[/]"
        table.add_row(verdict.rule, mark, verdict.trigger, why)
    console.print(table)


@app.command()
def simulate(
    spec: Annotated[Path, typer.Argument(help="The spec whose policy to run.")],
    scenario: Annotated[
        Path | None, typer.Option(help="A scenario file: [simulation] settings and [market].")
    ] = None,
    customers: Annotated[int | None, typer.Option(min=1, help="Customers on day 0.")] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Days to simulate.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the output files.")] = None,
    trace: Annotated[
        int | None, typer.Option(help="Print this customer's whole journey (a customer id).")
    ] = None,
) -> None:
    """Forecast what the spec's policy does to a population of customers."""
    policy, _ = _compile_or_exit(spec)
    settings, market = Settings(), Market()
    try:
        if scenario is not None:
            if not scenario.exists():
                raise _usage_error(f"no such file: {scenario}")
            settings, market = load_scenario(scenario)
        problems = market.problems(policy)
        if problems:
            raise MarketError(str(scenario or "<defaults>"), problems)
    except MarketError as error:
        found, sources = error.diagnostics()
        _out(render_text(found, sources, color=_color(sys.stderr)), err=True)
        raise typer.Exit(PROBLEMS) from None
    n = customers or settings.customers
    horizon = days or settings.days
    rng = np.random.default_rng(settings.seed if seed is None else seed)
    if trace is not None and trace >= n:
        raise _usage_error(f"--trace: customer ids run from 0 to {n - 1}")
    out = out or Path("build") / spec.stem
    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not _color(sys.stderr),
    ) as bar:
        task = bar.add_task("days", total=horizon)
        result = api_simulate(
            policy,
            market,
            customers=n,
            days=horizon,
            rng=rng,
            trace=trace,
            progress=lambda day: bar.update(task, completed=day + 1),
        )
    written = result.write(out)
    _print_kpis(result, policy)
    if result.trace is not None:
        _print_trace(result.trace, trace, policy)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


_KPIS = (
    ("customers", "customers", "{:,.0f}"),
    ("purchases", "purchases", "{:,.0f}"),
    ("revenue", "revenue", "{:,.0f}"),
    ("gross_profit", "gross profit", "{:,.0f}"),
    ("marketing_cost", "marketing cost", "{:,.0f}"),
    ("marketing_roi", "marketing ROI", "{:.2f}"),
    ("ltv", "LTV (gross profit per customer)", "{:,.0f}"),
    ("arppu", "ARPPU", "{:,.0f}"),
    ("survival_rate", "survival rate (bought again)", "{:.1%}"),
    ("churn_rate", "churn rate (no purchase in 90 days)", "{:.1%}"),
    ("retention_90d", "retention at 90 days", "{:.1%}"),
    ("retention_180d", "retention at 180 days", "{:.1%}"),
    ("messages", "messages sent", "{:,.0f}"),
    ("unsubscribes", "unsubscribes", "{:,.0f}"),
)


def _print_kpis(result: Forecast, policy: Policy) -> None:
    console = Console(highlight=False, soft_wrap=True)
    table = Table("KPI", "forecast", title=f"{policy.program}: {result.summary['days']} days")
    for key, label, fmt in _KPIS:
        value = result.summary.get(key)
        table.add_row(label, "-" if value is None else fmt.format(value))
    console.print(table)


def _print_trace(lines: list[tuple[float, str, str]], customer: int | None, policy: Policy) -> None:
    _out(f"journey of customer {customer}:")
    for day, kind, detail in lines:
        _out(f"  day {day:7.2f}  {kind:<8} {detail}")
    if not lines:
        _out("  (nothing happened)")
    touched = {detail.split(" ", 1)[0] for _, kind, detail in lines if kind in ("rule", "message")}
    never = [rule for rule in policy.rules if rule.name not in touched]
    for rule in never:
        _out(f"  never triggered: {rule.name} ({rule.span}), {_trigger_words(rule)}")


def _trigger_words(rule) -> str:
    trig = rule.trigger
    if trig.kind == "condition":
        return "its filters never became true for this customer"
    return f"its trigger ({trig.kind}) never came while the customer was eligible"


@app.command(name="run")
def run_(
    scenario: Annotated[Path, typer.Argument(help="A scenario file (simulations/*.toml).")],
    replications: Annotated[
        int | None, typer.Option(min=1, help="Runs per variant (default: the file's).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help=f"A Dask scheduler's address (or set {SCHEDULER_ENV})."),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the outputs.")] = None,
) -> None:
    """Run a what-if scenario: every variant, with replications, compared with the base."""
    if not scenario.exists():
        raise _usage_error(f"no such file: {scenario}")
    try:
        loaded = load_scenario_file(scenario)
        console = Console(stderr=True, highlight=False)
        with Progress(
            TextColumn("running"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("runs"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not _color(sys.stderr),
        ) as bar:
            task = bar.add_task("runs", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_scenario(
                loaded,
                replications=replications,
                scheduler=scheduler,
                workers=workers,
                progress=tick,
            )
    except MarketError as error:
        found, sources = error.diagnostics()
        _out(render_text(found, sources, color=_color(sys.stderr)), err=True)
        raise typer.Exit(PROBLEMS) from None
    except OSError as error:  # a scheduler that cannot be reached
        raise _usage_error(f"--scheduler: {error}") from None
    out = out or Path("build") / scenario.stem
    written = result.write(out)
    _print_comparison(result)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


def _print_comparison(result: Comparison) -> None:
    from .report import HEADLINE, verdicts

    console = Console(highlight=False, soft_wrap=True)
    table = Table(
        "KPI",
        *result.variant_names(),
        title=f"{result.scenario.path}: {result.replications} replication(s)",
    )
    rows = result.comparison
    for kpi, label in HEADLINE[:6]:
        cells = []
        for variant in result.variant_names():
            row = rows[(rows["variant"] == variant) & (rows["kpi"] == kpi)]
            if row.empty:
                cells.append("-")
                continue
            row = row.iloc[0]
            text = f"{row['mean']:,.4g}" if abs(row["mean"]) < 1 else f"{row['mean']:,.0f}"
            if variant != "base" and np.isfinite(row["diff_pct"]):
                text += f" ({row['diff_pct']:+.1f}%{'*' if row['significant'] else ''})"
            cells.append(text)
        table.add_row(label, *cells)
    console.print(table)
    console.print("* significant at 95% (paired against the base)")
    for variant, text in verdicts(result).items():
        console.print(f"[bold]{variant}[/]: {text}")


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


DIFF_SAME, DIFF_ERROR, DIFF_CHANGED = 0, 1, 2


def _diff_fail(message: str) -> typer.Exit:
    _out(f"error: {message}", err=True)
    return typer.Exit(DIFF_ERROR)


def _policy_from(path: Path, text: str | None, label: str) -> Policy:
    """Compile a spec file, or its text at a git revision (its `use` files come from the
    working tree)."""
    if text is None:
        if not path.exists():
            raise _diff_fail(f"no such file: {path}")
        analysis = analyse(path)
    else:
        with contextlib.chdir(path.parent if str(path.parent) else Path(".")):
            analysis = analyse_text(text, label)
    if analysis.policy is None:
        _out(
            render_text(analysis.diagnostics, analysis.sources, color=_color(sys.stderr)), err=True
        )
        raise typer.Exit(DIFF_ERROR)
    return analysis.policy


def _git_text(path: Path, rev: str) -> str:
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path.parent or ".",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        relative = path.resolve().relative_to(Path(top).resolve())
        shown = subprocess.run(
            ["git", "show", f"{rev}:{relative.as_posix()}"], cwd=top, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError, ValueError) as error:
        raise _diff_fail(f"--git: {path} is not in a git repository ({error})") from None
    if shown.returncode != 0:
        raise _diff_fail(f"--git {rev}: {shown.stderr.strip()}")
    return shown.stdout


@app.command(name="diff")
def diff_(
    old: Annotated[Path, typer.Argument(help="The old spec (or, with --git, the spec).")],
    new: Annotated[Path | None, typer.Argument(help="The new spec.")] = None,
    git: Annotated[
        str | None, typer.Option("--git", help="Diff the spec against its version at REV.")
    ] = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Forecast the KPI impact of the change.")
    ] = False,
    scenario: Annotated[
        Path | None, typer.Option(help="Market and settings for --simulate.")
    ] = None,
    customers: Annotated[int | None, typer.Option(min=1)] = None,
    days: Annotated[int | None, typer.Option(min=1)] = None,
    replications: Annotated[int, typer.Option(min=1)] = 5,
    output_format: Annotated[DiffFormat, typer.Option("--format")] = DiffFormat.text,
) -> None:
    """What changed between two specs: exit 0 no change, 1 error, 2 changes."""
    if git is not None:
        if new is not None:
            raise _diff_fail("give one spec with --git, or two without it")
        old_policy = _policy_from(old, _git_text(old, git), f"{git}:{old}")
        new_policy = _policy_from(old, None, str(old))
        labels = (f"{old} at {git}", str(old))
    else:
        if new is None:
            raise _diff_fail("give two specs, or one with --git REV")
        old_policy, new_policy = _policy_from(old, None, ""), _policy_from(new, None, "")
        labels = (str(old), str(new))
    changes = diff_policies(old_policy, new_policy)
    impact = None
    if simulate and changes:
        settings, market = Settings(customers=5000), Market()
        try:
            if scenario is not None:
                settings, market = load_scenario(scenario)
            problems = market.problems(new_policy)
            if problems:
                raise MarketError(str(scenario or "<defaults>"), problems)
        except MarketError as error:
            found, sources = error.diagnostics()
            _out(render_text(found, sources, color=_color(sys.stderr)), err=True)
            raise typer.Exit(DIFF_ERROR) from None
        impact = simulate_impact(
            old_policy,
            new_policy,
            market,
            customers=customers or settings.customers,
            days=days or settings.days,
            replications=replications,
            seed=settings.seed,
        )
    _out(render_changes(changes, impact, labels, output_format.value))
    raise typer.Exit(DIFF_CHANGED if changes else DIFF_SAME)


def _test_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.test.toml")))
        elif path.exists():
            found.append(path)
        else:
            raise _usage_error(f"no such file or folder: {path}")
    return found


@app.command(name="test")
def test_(
    paths: Annotated[list[Path], typer.Argument(help="Test files (*.test.toml) or folders.")],
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report here.")] = None,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="List rules, variants, branches never exercised.")
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Fail when coverage is below this percent."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the search: same seed, same run.")] = 0,
    examples: Annotated[int, typer.Option(min=1, help="Generated histories per invariant.")] = 200,
) -> None:
    """Run policy tests: examples, invariants and forecast expectations."""
    files = _test_files(paths)
    if not files:
        raise _usage_error("no *.test.toml files found")
    try:
        report = run_tests(files, seed=seed, examples=examples)
    except MarketError as error:
        found, sources = error.diagnostics()
        _out(render_text(found, sources, color=_color(sys.stderr)), err=True)
        raise typer.Exit(USAGE) from None
    for o in report.outcomes:
        mark = "PASS" if o.passed else "FAIL"
        _out(f"{mark} {o.file} {o.kind}: {o.name} ({o.seconds:.2f}s)")
        if not o.passed:
            for line in o.message.splitlines():
                _out(f"    {line}")
            if o.where:
                _out(f"    rule: {o.where}")
    share = report.coverage.share
    _out(
        f"{len(report.outcomes) - len(report.failed)} passed, {len(report.failed)} failed; "
        f"coverage {share:.0%} of rules, variants and follow-up branches"
    )
    if coverage:
        for item in report.coverage.missing():
            _out(f"  never exercised: {item}")
    if junit is not None:
        write_atomic(junit, report.junit())
    below = threshold is not None and share * 100 < threshold
    if below:
        _out(f"coverage {share:.0%} is below the threshold of {threshold:g}%", err=True)
    raise typer.Exit(PROBLEMS if report.failed or below else OK)


@app.command(name="calibrate")
def calibrate_(
    history: Annotated[str, typer.Argument(help="A CSV or Parquet file, or a SQLAlchemy URL.")],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Fit on purchases up to this date.")
    ],
    customer_col: Annotated[str, typer.Option("--customer-col")] = "customer_id",
    date_col: Annotated[str, typer.Option("--date-col")] = "date",
    amount_col: Annotated[str, typer.Option("--amount-col")] = "amount",
    query: Annotated[str | None, typer.Option(help="SQL selecting the rows (databases).")] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the market here (TOML).")
    ] = None,
) -> None:
    """Fit the buying and spend models to a purchase history; write the market."""
    try:
        end = pd.Timestamp(calibration_end)
    except ValueError:
        raise _usage_error(f"--calibration-end: not a date: {calibration_end!r}") from None
    try:
        frame = load_history(
            history,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            query=query,
        )
        result = calibrate(frame, end.date().isoformat())
    except HistoryError as error:
        _out(f"error: {error}", err=True)
        raise typer.Exit(PROBLEMS) from None
    _out(result.report())
    if output is not None:
        write_atomic(output, result.to_toml())
        _out(f"wrote {output}")


NO_POLICY = 'program "No policy"\nstage everyone when purchases >= 0\n'


@app.command(name="forecast")
def forecast_(
    spec: Annotated[
        Path | None, typer.Argument(help="The policy in force (none: no policy).")
    ] = None,
    history: Annotated[str, typer.Option(help="The purchase history (CSV, Parquet or URL).")] = "",
    calibration_end: Annotated[str, typer.Option("--calibration-end")] = "",
    until: Annotated[str, typer.Option(help="Forecast up to this date.")] = "",
    market: Annotated[
        Path | None, typer.Option(help="A calibrated market (else: calibrate first).")
    ] = None,
    replications: Annotated[int, typer.Option(min=1)] = 20,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    customer_col: Annotated[str, typer.Option("--customer-col")] = "customer_id",
    date_col: Annotated[str, typer.Option("--date-col")] = "date",
    amount_col: Annotated[str, typer.Option("--amount-col")] = "amount",
    query: Annotated[str | None, typer.Option()] = None,
    out: Annotated[Path, typer.Option(help="Folder for forecast.json and customers.csv.")] = Path(
        "build/forecast"
    ),
) -> None:
    """Forecast the real customer base from the calibration end, under a policy or none."""
    for name, value in (
        ("--history", history),
        ("--calibration-end", calibration_end),
        ("--until", until),
    ):
        if not value:
            raise _usage_error(f"{name} is required")
    try:
        end = pd.Timestamp(calibration_end).date().isoformat()
        pd.Timestamp(until)
    except ValueError as error:
        raise _usage_error(f"not a date: {error}") from None
    policy = _compile_or_exit(spec)[0] if spec is not None else loads(NO_POLICY)
    try:
        frame = load_history(
            history,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            query=query,
        )
        cal = calibrate(frame, end)
        chosen = load_scenario(market)[1] if market is not None else cal.market
        result = forecast_base(
            cal, policy, chosen, until=until, replications=replications, seed=seed, actual=frame
        )
    except HistoryError as error:
        _out(f"error: {error}", err=True)
        raise typer.Exit(PROBLEMS) from None
    except MarketError as error:
        found, sources = error.diagnostics()
        _out(render_text(found, sources, color=_color(sys.stderr)), err=True)
        raise typer.Exit(PROBLEMS) from None
    except ValueError as error:
        raise _usage_error(str(error)) from None
    payload = dict(result.summary)
    payload["weekly"] = result.weekly.to_dict(orient="list")
    write_atomic(out / "forecast.json", json.dumps(payload, indent=2) + "\n")
    columns = ["customer_id", "predicted_transactions", "predicted_revenue", "p_alive"]
    write_atomic(
        out / "customers.csv", result.customers[columns].to_csv(index=False, float_format="%.6g")
    )
    for key in (
        "holdout_repeat_transactions",
        "holdout_revenue",
        "actual_repeat_transactions",
        "transactions_error",
        "revenue_error",
        "correlation",
        "rmse",
        "mae",
    ):
        if key in result.summary and result.summary[key] is not None:
            value = result.summary[key]
            _out(f"{key:<28} {value:,.4f}" if isinstance(value, float) else f"{key:<28} {value}")
    _out(f"wrote forecast.json, customers.csv to {out}/")


@app.command()
def version() -> None:
    """Print the clmlang version."""
    _out(__version__)


def main() -> None:
    """Entry point of the `clm` console script."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        _out("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # the last safety net: a bug must not look like bad input
        if os.environ.get("CLM_DEBUG"):
            raise
        _out(
            f"internal error: {type(error).__name__}: {error}\n"
            "  hint: this is a bug in clmlang, not in your input; run again with CLM_DEBUG=1 "
            "for the traceback and report it",
            err=True,
        )
        sys.exit(INTERNAL)
