"""Commands that simulate: simulate (one run) and run (a what-if scenario)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..api import run_scenario
from ..api import simulate as api_simulate
from ..compile.policy import Policy
from ..compile.triggers import describe_trigger
from ..market.model import MAX_CUSTOMERS, MAX_DAYS, MAX_REPLICATIONS, Market, MarketError
from ..market.scenario import SCHEDULER_ENV
from .common import (
    PROBLEMS,
    _color,
    _input_file,
    _market_failure,
    _note_log_formats,
    _out,
    _output_folder,
    _usage_error,
    _write_all,
    app,
    input_path,
    out_option,
)
from .file_kinds import SCENARIO, SPEC
from .scenarios import load_checked, simulation_input
from .tables import print_comparison, print_kpis, print_warnings


@app.command()
def simulate(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="The spec whose policy to run (default: the one the scenario names).",
            parser=input_path("SPEC"),
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="A scenario file (simulations/*.toml): its [simulation] settings and [market].",
            parser=input_path("--scenario"),
            metavar="<path>",
        ),
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Simulate this variant (or sweep value) of the scenario, not its base."),
    ] = None,
    customers: Annotated[
        int | None, typer.Option(min=1, max=MAX_CUSTOMERS, help="Customers on day 0.")
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, max=MAX_DAYS, help="Days to simulate.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, max=2**63 - 1, help="Random seed.")] = None,
    out: Annotated[Path | None, out_option("Folder for the output files.")] = None,
    trace: Annotated[
        int | None,
        typer.Option(min=0, help="Print this customer's whole journey (a customer id)."),
    ] = None,
    logs: Annotated[
        bool,
        typer.Option(
            "--logs",
            help="Also write every purchase and message (purchases.csv, messages.csv), and the"
            " behavioural events of a spec that declares them (events.csv).",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1024,
            help="Split the customers into blocks run by this many processes (the same"
            " output for any number).",
        ),
    ] = None,
    blocks: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1024,
            help="With --workers or --scheduler: this many blocks (default: one block per"
            " 500,000 customers).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Run the blocks on this Dask scheduler (an address, tcp://host:8786)."),
    ] = None,
) -> None:
    """Forecast what the spec's policy does to a population of customers."""
    named = spec if spec is not None else scenario  # the outputs' default folder is named after it
    out = _output_folder(
        out or Path("build") / (named.stem if named is not None else "simulation"), "--out"
    )
    policy, market, settings, spec = simulation_input(spec, scenario, variant)
    n = customers or settings.customers
    horizon = days or settings.days
    rng = np.random.default_rng(settings.seed if seed is None else seed)
    if trace is not None and trace >= n:
        raise _usage_error(f"--trace: customer ids run from 0 to {n - 1}")
    _check_size(policy, market, scenario, n, horizon, customers is not None, days is not None, logs)
    _check_blocks(policy, market, n, workers, blocks, scheduler)
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
        try:
            result = api_simulate(
                policy,
                market,
                customers=n,
                days=horizon,
                rng=rng,
                trace=trace,
                progress=lambda day: bar.update(task, completed=day + 1),
                logs=logs,
                workers=workers,
                blocks=blocks,
                scheduler=scheduler,
            )
        except OSError as error:  # a scheduler that cannot be reached
            if scheduler is None:
                raise
            raise _usage_error(f"--scheduler: {error}") from None
        except ValueError as error:  # a cluster too small for blocks in lockstep
            if scheduler is None:
                raise
            raise _usage_error(f"--scheduler: {error}") from None
    written = _write_all(lambda folder: result.write(folder, logs=logs), out)
    if logs:
        _note_log_formats(result.logs())
    print_kpis(result, policy)
    print_warnings(result.summary.get("warnings") or [], policy)  # type: ignore[arg-type]
    if result.trace is not None:
        _print_trace(result.trace, trace, policy)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


def _check_size(
    policy: Policy,
    market: Market,
    scenario: Path | None,
    customers: int,
    days: int,
    customers_flag: bool,
    days_flag: bool,
    logs: bool = False,
) -> None:
    """Refuse a run that needs more memory than there is, before it starts: a usage error
    when a flag set the size, else a diagnostic at the scenario file's key."""
    from ..simulation.engine.memory import (
        size_problem,  # the engine loads only for commands that run
    )

    in_file = scenario is not None
    names = {
        "customers": "simulation.customers" if in_file and not customers_flag else "--customers",
        "days": "simulation.days" if in_file and not days_flag else "--days",
    }
    problem = size_problem(policy, market, customers, days, names=names, logs=logs)
    if problem is None:
        return
    if logs and size_problem(policy, market, customers, days, names=names) is None:
        problem += " (or leave out `--logs`, which adds 3 bytes per customer and day)"
    if customers_flag or days_flag or not in_file:
        raise _usage_error(problem)
    key = "simulation.customers"
    if "`market.acquisition" in problem:
        key = "market.acquisition.per_day"
    elif "`market.prospects." in problem:
        key = problem.split("`market.prospects.", 1)[1].split("`", 1)[0]
        key = "market.prospects." + key
    raise _market_failure(MarketError(str(scenario), [(key, problem)]), PROBLEMS)


def _check_blocks(
    policy: Policy,
    market: Market,
    customers: int,
    workers: int | None,
    blocks: int | None,
    scheduler: str | None,
) -> None:
    """Usage errors of --workers, --blocks and --scheduler, before anything runs."""
    if workers is not None and scheduler is not None:
        raise _usage_error("--workers and --scheduler: give one (the cluster has its own workers)")
    if blocks is not None and workers is None and scheduler is None:
        raise _usage_error("--blocks: the blocks are for --workers N or --scheduler ADDRESS")
    if scheduler is not None:
        from ..whatif.cluster import scheduler_problem

        problem = scheduler_problem(scheduler)
        if problem:
            raise _usage_error(f"--scheduler: {problem}")
    if workers is None and scheduler is None:
        return
    from ..simulation.engine.blocks import BLOCK_CUSTOMERS, block_sizes, split_problem

    count = len(block_sizes(customers, blocks))
    problem = split_problem(market)
    if problem and count > 1:
        flag = "--scheduler" if scheduler is not None else "--workers"
        raise _usage_error(f"{flag}: {problem}: run it without {flag}")
    if workers is not None and workers > count:
        what = "one block" if count == 1 else f"{count} blocks"
        _out(
            f"note: {customers:,} customers make {what} (one block per"
            f" {BLOCK_CUSTOMERS:,}; --blocks K asks for K): {min(workers, count)} process(es)"
            " run them",
            err=True,
        )


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
    return f"its trigger ({describe_trigger(trig)}) never came while the customer was eligible"


@app.command(name="run")
def run_(
    scenario: Annotated[
        Path,
        typer.Argument(help="A scenario file (simulations/*.toml).", parser=input_path("SCENARIO")),
    ],
    spec: Annotated[
        Path | None,
        typer.Option(
            help="The base spec (default: the one the file names).",
            parser=input_path("--spec"),
            metavar="<path>",
        ),
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_REPLICATIONS, help="Runs per variant (default: the file's)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help=f"A Dask scheduler's address (or set {SCHEDULER_ENV})."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=1024, help="Local worker processes.")
    ] = None,
    out: Annotated[Path | None, out_option("Folder for the outputs.")] = None,
    logs: Annotated[
        bool,
        typer.Option(
            "--logs",
            help="Also write every purchase and message of each variant's first replication"
            " (purchases.csv, messages.csv, with a variant column).",
        ),
    ] = False,
) -> None:
    """Run a what-if scenario: every variant, with replications, compared with the base."""
    _input_file(scenario, kind=SCENARIO)
    if spec is not None:
        _input_file(spec, "--spec", kind=SPEC)
    out = _output_folder(out or Path("build") / scenario.stem, "--out")
    try:
        loaded = load_checked(scenario, spec)
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
                logs=logs,
            )
    except MarketError as error:
        raise _market_failure(error, PROBLEMS) from None
    except OSError as error:  # a scheduler that cannot be reached
        raise _usage_error(f"--scheduler: {error}") from None
    written = _write_all(lambda folder: result.write(folder, logs=logs), out)
    if logs:
        _note_log_formats(result.logs())
    print_comparison(result)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")
