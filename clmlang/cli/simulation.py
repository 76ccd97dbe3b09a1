"""Commands that simulate: simulate (one run) and run (a what-if scenario)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..api import run_scenario
from ..api import simulate as api_simulate
from ..compile.policy import Policy
from ..market.model import MarketError
from ..market.scenario import SCHEDULER_ENV, load_scenario_file

if TYPE_CHECKING:
    from ..simulation.metrics import Forecast
    from ..whatif.experiment import Comparison

from .common import (
    PROBLEMS,
    _color,
    _compile_or_exit,
    _console,
    _input_file,
    _market_failure,
    _out,
    _output_folder,
    _scenario_for,
    _usage_error,
    _write_all,
    app,
)


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
        int | None,
        typer.Option(min=0, help="Print this customer's whole journey (a customer id)."),
    ] = None,
) -> None:
    """Forecast what the spec's policy does to a population of customers."""
    out = _output_folder(out or Path("build") / spec.stem, "--out")
    policy, _ = _compile_or_exit(spec)
    try:
        settings, market = _scenario_for(policy, scenario)
    except MarketError as error:
        raise _market_failure(error, PROBLEMS) from None
    n = customers or settings.customers
    horizon = days or settings.days
    rng = np.random.default_rng(settings.seed if seed is None else seed)
    if trace is not None and trace >= n:
        raise _usage_error(f"--trace: customer ids run from 0 to {n - 1}")
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
    written = _write_all(result.write, out)
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
    console = _console()
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
    _input_file(scenario)
    out = _output_folder(out or Path("build") / scenario.stem, "--out")
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
        raise _market_failure(error, PROBLEMS) from None
    except OSError as error:  # a scheduler that cannot be reached
        raise _usage_error(f"--scheduler: {error}") from None
    written = _write_all(result.write, out)
    _print_comparison(result)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


def _print_comparison(result: Comparison) -> None:
    from ..whatif.report import HEADLINE, verdicts  # matplotlib: only when there is a report

    console = _console()
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
