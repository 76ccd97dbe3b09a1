"""Commands that simulate: simulate (one run) and run (a what-if scenario)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..api import run_scenario
from ..api import simulate as api_simulate
from ..compile.policy import Policy
from ..compile.triggers import describe_trigger
from ..market.model import MAX_CUSTOMERS, MAX_DAYS, MAX_REPLICATIONS, Market, MarketError
from ..market.scenario import SCHEDULER_ENV, Scenario, ScenarioSettings, load_scenario_file

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
    _note_log_formats,
    _out,
    _output_folder,
    _usage_error,
    _write_all,
    app,
)


@app.command()
def simulate(
    spec: Annotated[
        Path | None,
        typer.Argument(help="The spec whose policy to run (default: the one the scenario names)."),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="A scenario file (simulations/*.toml): its [simulation] settings and [market]."
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
    out: Annotated[Path | None, typer.Option(help="Folder for the output files.")] = None,
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
) -> None:
    """Forecast what the spec's policy does to a population of customers."""
    named = spec if spec is not None else scenario  # the outputs' default folder is named after it
    out = _output_folder(
        out or Path("build") / (named.stem if named is not None else "simulation"), "--out"
    )
    policy, market, settings, spec = _simulation_input(spec, scenario, variant)
    n = customers or settings.customers
    horizon = days or settings.days
    rng = np.random.default_rng(settings.seed if seed is None else seed)
    if trace is not None and trace >= n:
        raise _usage_error(f"--trace: customer ids run from 0 to {n - 1}")
    _check_size(policy, market, scenario, n, horizon, customers is not None, days is not None, logs)
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
            logs=logs,
        )
    written = _write_all(lambda folder: result.write(folder, logs=logs), out)
    if logs:
        _note_log_formats(result.logs())
    _print_kpis(result, policy)
    spans = {f"rule `{rule.name}` ": rule.span for rule in policy.rules}
    for warning in result.summary.get("warnings") or ():
        span = next((v for k, v in spans.items() if warning.startswith(k)), None)  # type: ignore[union-attr]
        where = f"{span.file}:{span.line}:{span.column}: " if span else ""
        _out(f"{where}warning: {warning}", err=True)
    if result.trace is not None:
        _print_trace(result.trace, trace, policy)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


def _simulation_input(
    spec: Path | None, scenario: Path | None, variant: str | None
) -> tuple[Policy, Market, ScenarioSettings, Path]:
    """What `clm simulate` runs: the policy, the market, the settings and the spec's path,
    from the arguments and any scenario file (whose spec an explicit SPEC replaces)."""
    if scenario is None:
        if variant is not None:
            raise _usage_error("--variant: variants belong to a scenario: add --scenario FILE")
        if spec is None:
            raise _usage_error(
                "give a spec (clm simulate SPEC), or a scenario file that names one "
                "(clm simulate --scenario FILE)"
            )
        policy, _ = _compile_or_exit(spec)
        return policy, Market(), ScenarioSettings(), spec
    _input_file(scenario, "--scenario")
    if spec is not None:  # a spec on the command line is the command line's problem, not the file's
        _input_file(spec)
    try:
        loaded = load_scenario_file(scenario)
    except MarketError as error:
        raise _market_failure(error, PROBLEMS) from None
    if spec is not None:
        loaded = loaded.with_spec(spec)
    elif loaded.settings.spec is None:
        raise _usage_error(
            f"{scenario} names no spec: give one (clm simulate SPEC --scenario {scenario})"
        )
    try:
        chosen = loaded.variant(variant or "base")
    except KeyError as error:
        raise _usage_error(f"--variant: {error.args[0]}") from None
    _note_ignored(loaded, scenario, chosen.name)
    try:
        if chosen.name != "base":
            from ..whatif.experiment import variant_policy  # scipy and pandas: only for a variant

            policy, market = variant_policy(loaded, chosen)
            return policy, market, loaded.settings, loaded.spec_path(chosen)
        path = spec if spec is not None else loaded.spec_path(chosen)  # checked: it exists
        policy, _ = _compile_or_exit(path)
        loaded.check_names(loaded.market, policy)
    except MarketError as error:
        raise _market_failure(error, PROBLEMS) from None
    return policy, loaded.market, loaded.settings, path


def _note_ignored(scenario: Scenario, path: Path, chosen: str) -> None:
    """One line on what a single simulation leaves out of a what-if file."""
    settings = scenario.settings
    left = []
    if settings.replications > 1:
        left.append(f"{settings.replications} replications")
    if settings.shards > 1:
        left.append(f"{settings.shards} shards")
    variants = sum(v.name != chosen for v in scenario.variants)
    if variants:
        left.append(f"{variants} variant(s)")
    values = sum(len(s.values) for s in scenario.sweeps)
    if chosen != "base" and chosen not in {v.name for v in scenario.variants}:
        values -= 1  # the chosen one is a sweep value
    if values:
        left.append(f"{values} sweep value(s)")
    if left:
        what = "the base" if chosen == "base" else f"variant `{chosen}`"
        _out(
            f"note: simulating {what} once; the file's {', '.join(left)} are for "
            f"`clm run {path}` (--variant NAME simulates one variant)",
            err=True,
        )


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
    if customers_flag or days_flag or not in_file:
        raise _usage_error(problem)
    key = "simulation.customers"
    if "`market.acquisition" in problem:
        key = "market.acquisition.per_day"
    elif "`market.prospects." in problem:
        key = problem.split("`market.prospects.", 1)[1].split("`", 1)[0]
        key = "market.prospects." + key
    raise _market_failure(MarketError(str(scenario), [(key, problem)]), PROBLEMS)


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
    ("churn_rate", "churn rate (no purchase in {churn_days:g} days)", "{:.1%}"),
    ("retention_90d", "retention at 90 days", "{:.1%}"),
    ("retention_180d", "retention at 180 days", "{:.1%}"),
    ("items_per_check", "items per check", "{:.2f}"),
    ("lifetime_days", "customer lifetime, days (Kaplan-Meier)", "{:,.0f}"),
    ("top_decile_check_share", "revenue from the top 10% of checks", "{:.1%}"),
    ("revenue_gini", "Gini of revenue per customer", "{:.2f}"),
    ("messages", "messages sent", "{:,.0f}"),
    ("unsubscribes", "unsubscribes", "{:,.0f}"),
)
# shown when the market has prospects (docs/model.md, "Prospects")
_FUNNEL_KPIS = (
    ("prospects", "prospects", "{:,.0f}"),
    ("conversions", "conversions (first purchases)", "{:,.0f}"),
    ("conversion_rate", "conversion rate", "{:.1%}"),
    ("cac", "CAC (acquisition cost per customer)", "{:,.0f}"),
)


def _print_kpis(result: Forecast, policy: Policy) -> None:
    console = _console()
    title = f"{escape(policy.program)}: {result.summary['days']} days"  # the user's text: no markup
    table = Table("KPI", "forecast", title=title)
    funnel = _FUNNEL_KPIS if "prospects" in result.summary else ()
    for key, label, fmt in (*_KPIS, *funnel):
        value = result.summary.get(key)
        label = label.format(churn_days=result.summary.get("churn_days") or 90)
        table.add_row(label, "-" if value is None else fmt.format(value))
    for label, value in _goal_rows(result.summary, policy):
        table.add_row(label, value)
    console.print(table)


def _goal_rows(summary: dict, policy: Policy) -> list[tuple[str, str]]:
    """A row per stage with a goal: the share of its windows met (stage_goals.py), with the
    early and late shares beside it."""
    rows = []
    for stage in policy.stages:
        if stage.goal_return_days is None:
            continue
        low = stage.goal_return_min_days
        goal = f"{low:g}..{stage.goal_return_days:g}" if low else f"{stage.goal_return_days:g}"
        met = summary.get(f"goal_met_{stage.name}")
        if met is None:
            rows.append((f"{escape(stage.name)}: back within {goal} days", "-"))
            continue
        early = summary.get(f"goal_early_{stage.name}")
        late = summary.get(f"goal_late_{stage.name}") or 0.0
        beside = f"early {early:.0%}, late {late:.0%}" if early is not None else f"late {late:.0%}"
        rows.append((f"{escape(stage.name)}: back within {goal} days", f"{met:.1%} ({beside})"))
    return rows


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
    scenario: Annotated[Path, typer.Argument(help="A scenario file (simulations/*.toml).")],
    spec: Annotated[
        Path | None, typer.Option(help="The base spec (default: the one the file names).")
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
    out: Annotated[Path | None, typer.Option(help="Folder for the outputs.")] = None,
    logs: Annotated[
        bool,
        typer.Option(
            "--logs",
            help="Also write every purchase and message of each variant's first replication"
            " (purchases.csv, messages.csv, with a scenario_variant column).",
        ),
    ] = False,
) -> None:
    """Run a what-if scenario: every variant, with replications, compared with the base."""
    _input_file(scenario)
    if spec is not None:
        _input_file(spec, "--spec")
    out = _output_folder(out or Path("build") / scenario.stem, "--out")
    try:
        loaded = load_scenario_file(scenario)
        if spec is not None:
            loaded = loaded.with_spec(spec)
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
    _print_comparison(result)
    _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


def _print_comparison(result: Comparison) -> None:
    from ..whatif.report import (  # matplotlib: only when there is a report
        HEADLINE,
        goal_headline,
        verdicts,
    )

    console = _console()
    table = Table(  # variant names and paths are the user's text: escaped, never markup
        "KPI",
        *(escape(name) for name in result.variant_names()),
        title=f"{escape(result.scenario.path)}: {result.replications} replication(s)",
    )
    rows = result.comparison
    for kpi, label in HEADLINE[:6] + goal_headline(result):
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
        console.print(f"[bold]{escape(variant)}[/]: {escape(text)}")
