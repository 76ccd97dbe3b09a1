"""Running a scenario: every variant, R replications, common random numbers, on any executor.

Each run is a pure function of (variant's policy, market, customers, days, seed, shard), so
the results are the same whether runs go serially, to a local process pool or to a Dask
cluster. Replication r uses the r-th child of the scenario's seed for *every* variant
(common random numbers): differences between variants are paired, run by run.

A very large population is split into `shards` of customers, each simulated on its own
(possibly on another worker) with its own child seed, then merged before the metrics. A
channel's daily capacity is shared between shards in proportion to their customers (the
remainder to the first shards), so the whole never exceeds it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..core.extras import require
from ..market.model import Market, MarketError
from ..market.overrides import OverrideError, apply_overrides
from ..market.scenario import SCHEDULER_ENV, Scenario, Variant
from ..simulation.engine import simulate_policy
from ..simulation.engine.memory import size_problem
from ..simulation.logs import write_outputs
from ..simulation.metrics import forecast
from .allocator import roomy_allocator
from .results import RunResult, paired_differences, variant_logs
from .results import forecasts as results_forecasts

__all__ = ["Comparison", "Task", "plan", "run_scenario", "run_task", "variant_policy"]


@dataclass(frozen=True)
class Task:
    """One simulation: a variant's replication (and shard), with everything it needs."""

    variant: str
    replication: int
    shard: int
    shards: int
    policy_json: str
    market_json: str
    customers: int
    days: int
    seed: tuple[int, ...]  # a SeedSequence's entropy and spawn key, flattened
    logs: bool = False  # keep this run's purchases and messages logs


def plan(scenario: Scenario, replications: int | None = None, logs: bool = False) -> list[Task]:
    """Every task of a scenario, in a fixed order; raises MarketError for a bad variant.
    `logs`: the first replication of each variant keeps its event logs."""
    settings = scenario.settings
    reps = replications or settings.replications
    tasks = []
    for variant in scenario.all_variants():
        policy, market = variant_policy(scenario, variant)
        shards = _shard_sizes(settings.customers, settings.shards)
        if len(shards) > 1 and market.prospects.active:
            # the sources and referrals feed one base: split, each shard would get them all
            raise MarketError(
                scenario.path,
                [("simulation.shards", "a market with prospects runs as one shard (shards = 1)")],
            )
        for r in range(reps):
            for k, size in enumerate(shards):
                # replication r (and shard k) has the same seed in every variant
                key = (r, k) if len(shards) > 1 else (r,)
                shard_seed = np.random.SeedSequence(settings.seed, spawn_key=key)
                shard_policy = _share_capacity(policy, k, shards)
                tasks.append(
                    Task(
                        variant=variant.name,
                        replication=r,
                        shard=k,
                        shards=len(shards),
                        policy_json=shard_policy.to_json(indent=None),
                        market_json=market.model_dump_json(),
                        customers=size,
                        days=settings.days,
                        seed=(int(shard_seed.entropy), *shard_seed.spawn_key),
                        logs=logs and r == 0,
                    )
                )
    return tasks


def variant_policy(scenario: Scenario, variant: Variant) -> tuple[Policy, Market]:
    """The policy and market of one variant (the base is `Variant(name="base")`), checked
    against each other; raises MarketError for an override or a name that does not fit."""
    try:
        policy, market = apply_overrides(scenario.spec_path(variant), variant.set, scenario.market)
    except OverrideError as error:
        where = "simulation.spec" if variant.name == "base" else f"{variant.name}: {error.key}"
        raise MarketError(scenario.path, [(where, str(error))]) from None
    scenario.check_names(market, policy)
    return policy, market


def _shard_sizes(customers: int, shards: int) -> list[int]:
    shards = max(1, min(shards, customers))
    base, extra = divmod(customers, shards)
    return [base + (1 if k < extra else 0) for k in range(shards)]


def _share_capacity(policy: Policy, shard: int, sizes: list[int]) -> Policy:
    """A channel's daily capacity split between shards in proportion to their customers:
    each gets the floor of its share, the first ones one more until the whole is used."""
    if len(sizes) == 1:
        return policy
    total = sum(sizes)
    channels = []
    for c in policy.channels:
        if c.capacity_per_day is None:
            channels.append(c)
            continue
        floors = [c.capacity_per_day * s // total for s in sizes]
        left = c.capacity_per_day - sum(floors)
        mine = floors[shard] + (1 if shard < left else 0)
        channels.append(c.model_copy(update={"capacity_per_day": mine}))
    return policy.model_copy(update={"channels": tuple(channels)})


def run_task(task: Task) -> RunResult:
    """Run one task (in a worker process, or on a Dask worker)."""
    policy = Policy.from_json(task.policy_json)
    market = Market.model_validate_json(task.market_json)
    return _run(task, (policy, market))


def run_shipped(task: Task, shipped: tuple[Policy, Market]) -> RunResult:
    """Run one task whose policy and market came on their own (`shipped`, compiled: a Dask
    cluster gets each variant's once, not with every task), with the allocator a Dask worker
    needs for the engine's arrays (whatif.allocator)."""
    with roomy_allocator():
        return _run(task, shipped)


def _run(task: Task, shipped: tuple[Policy, Market]) -> RunResult:
    policy, market = shipped
    entropy, *key = task.seed
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=tuple(key)))
    run = simulate_policy(
        policy, market, customers=task.customers, days=task.days, rng=rng, logs=task.logs
    )
    if task.shards > 1:
        return RunResult(task.variant, task.replication, task.shard, run, None)
    measured = forecast(run, logs=task.logs)
    return RunResult(task.variant, task.replication, task.shard, None, measured)


# ---- comparing ---------------------------------------------------------------------------


@dataclass
class Comparison:
    """A scenario's results: per-run KPIs, per-variant means with 95% intervals, paired
    differences against the base, and the series the report draws. In every table `variant`
    is the scenario's variant (`base` first); a rule's own A/B variant is its `arm`."""

    scenario: Scenario
    runs: pd.DataFrame  # one row per (variant, replication): every numeric KPI
    comparison: pd.DataFrame  # one row per (variant, KPI)
    series: pd.DataFrame  # per (variant, replication, day): revenue, profit, active, stages
    # per (variant, replication, age_days): Kaplan-Meier retention and customers at risk
    retention: pd.DataFrame
    rules: pd.DataFrame  # per (variant, replication, rule, arm): rules.csv's rows
    replications: int
    event_logs: dict[str, pd.DataFrame] | None = None  # run with logs: replication 0 of each
    # per (variant, replication): products.csv's rows (by product, line, role; monthly, total)
    products: pd.DataFrame | None = None
    # per (variant, replication, from, to): customers moved between stages (transitions.csv)
    transitions: pd.DataFrame | None = None

    def logs(self) -> dict[str, pd.DataFrame]:
        """The `purchases` and `messages` logs of the first replication of every variant,
        one table each with the scenario's variant first (`variant`); raises
        ValueError when the scenario was run without logs."""
        if self.event_logs is None:
            raise ValueError("this comparison has no logs: run it with logs=True (clm --logs)")
        return self.event_logs

    def variant_names(self) -> list[str]:
        """The scenario's variants in its order, `base` first."""
        return list(dict.fromkeys(self.runs["variant"]))

    def plot(self, name: str | None = None):
        """The report's interactive chart `name` (a plotly Figure; `retention`,
        `revenue_difference`, `profit_difference`, `stages`, `flows`, `rules`, `roles`,
        `sweep`...), or all of them by name when `name` is None; raises KeyError (with the
        names there are) for a chart this comparison does not have."""
        from ..core.charts import pick
        from .charts import figures  # downstream of this module: deferred

        return pick(figures(self), name)

    def _repr_html_(self) -> str:
        """In a notebook: the verdicts and the KPI table with intervals."""
        from .report import notebook_summary

        return notebook_summary(self)

    def files(self) -> dict[str, str]:
        """`comparison.csv`, `summary.json`, `report.html` as text (the report is downstream:
        its import is deferred)."""
        from .report import output_files

        return output_files(self)

    def write(
        self, folder: str | Path, *, logs: bool = False, log_format: str = "auto"
    ) -> list[Path]:
        """Build every file in memory, then write each atomically into `folder`; `logs`:
        also the purchases and messages logs (CSV, or Parquet past a size: `log_format`)."""
        return write_outputs(folder, self.files(), self.logs() if logs else None, log_format)


def _executor(scheduler: str | None, workers: int | None) -> tuple[object, Callable[[], None]]:
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV)
    if scheduler:
        distributed = require("distributed", "running replications on a Dask scheduler")
        client = distributed.Client(scheduler, set_as_default=False)
        return client, client.close
    pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)


def _results(tasks: list[Task], executor: object) -> Iterator[RunResult]:
    if executor is None:
        for task in tasks:
            yield run_task(task)
        return
    if isinstance(executor, Executor):
        futures = [executor.submit(run_task, t) for t in tasks]
        for future in as_completed(futures):
            yield future.result()
        return
    # a Dask client: each variant's compiled policy and market go to every worker once, then
    # every task is submitted at once, without them; results are taken as they finish (the
    # comparison orders them) and released on the workers
    client = executor
    shipped: dict[tuple[str, str], object] = {}
    for t in tasks:
        if (t.policy_json, t.market_json) not in shipped:
            pair = (Policy.from_json(t.policy_json), Market.model_validate_json(t.market_json))
            [future] = client.scatter([pair], broadcast=True, hash=False)  # type: ignore[attr-defined]
            shipped[(t.policy_json, t.market_json)] = future
    futures = [
        client.submit(  # type: ignore[attr-defined]
            run_shipped,
            dataclasses.replace(t, policy_json="", market_json=""),
            shipped[(t.policy_json, t.market_json)],
            pure=False,
        )
        for t in tasks
    ]
    distributed = require("distributed", "running replications on a Dask scheduler")
    try:
        for future in distributed.as_completed(futures, loop=client.loop):  # type: ignore[attr-defined]
            yield future.result()
            future.release()
    finally:
        for future in futures:
            future.cancel()


def run_scenario(
    scenario: Scenario,
    *,
    replications: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Callable[[int, int], None] | None = None,
    logs: bool = False,
) -> Comparison:
    """Run every variant of `scenario` `replications` times and compare them with the base.

    Runs go to a local process pool (`workers` processes, default one per core), or with
    `scheduler` (or the CLM_SCHEDULER environment variable) to that Dask cluster; `serial`
    runs them in this process. `progress(done, total)` is called as runs finish. `logs`: the
    first replication of each variant keeps its purchases and messages logs
    (`Comparison.logs()`); no random draw depends on it.
    """
    tasks = plan(scenario, replications, logs)
    if not serial and (scheduler or os.environ.get(SCHEDULER_ENV)):
        _check_memory(scenario, tasks, 0, logs)  # a cluster's memory is its own; logs are here
    else:
        at_once = 1 if serial else min(workers or os.cpu_count() or 1, len(tasks))
        _check_memory(scenario, tasks, at_once, logs)
    total = len(tasks)
    done = 0
    collected: list[RunResult] = []
    executor, close = (None, lambda: None) if serial else _executor(scheduler, workers)
    try:
        for result in _results(tasks, executor):
            collected.append(result)
            done += 1
            if progress is not None:
                progress(done, total)
    finally:
        close()
    return _compare(scenario, collected, replications or scenario.settings.replications)


def _check_memory(scenario: Scenario, tasks: list[Task], at_once: int, logs: bool = False) -> None:
    """Refuse, before any run starts, a scenario whose runs (`at_once` side by side, and the
    shards of split populations, kept here until merged) need more memory than there is;
    with `logs`, each variant's logged run is counted once more (its logs are kept here)."""
    copies = at_once + (len(tasks) if scenario.settings.shards > 1 else 0)
    if logs:
        copies += len({task.variant for task in tasks})
    names = {
        "customers": "simulation.customers",
        "days": "simulation.days",
        "copies": "--workers" if scenario.settings.shards == 1 else "simulation.shards",
    }
    seen = set()
    for task in tasks:
        if task.variant in seen:
            continue
        seen.add(task.variant)
        policy = Policy.from_json(task.policy_json)
        market = Market.model_validate_json(task.market_json)
        problem = size_problem(
            policy, market, task.customers, task.days, copies=copies, names=names, logs=logs
        )
        if problem:
            key = "simulation.customers"
            if "`market.acquisition" in problem:
                key = "market.acquisition.per_day"
            elif "`market.prospects." in problem:
                key = problem.split("`market.prospects.", 1)[1].split("`", 1)[0]
                key = "market.prospects." + key
            raise MarketError(scenario.path, [(key, problem)])


def _compare(scenario: Scenario, results: list[RunResult], reps: int) -> Comparison:
    forecasts = results_forecasts(results)
    order = [v.name for v in scenario.all_variants()]
    keys = sorted(forecasts, key=lambda k: (order.index(k[0]), k[1]))
    runs_rows, series, retention, rules, products, moves = [], [], [], [], [], []
    for variant, rep in keys:
        f, curve = forecasts[(variant, rep)]
        numeric = {
            k: v
            for k, v in f.summary.items()
            if isinstance(v, int | float) and k not in ("days", "churn_days")
        }
        runs_rows.append({"variant": variant, "replication": rep, **numeric})
        daily = f.daily[["day", "revenue", "gross_profit", "profit", "active", "customers"]].copy()
        for column in f.stages.columns[1:]:
            daily[f"stage:{column}"] = f.stages[column].to_numpy()
        daily.insert(0, "replication", rep)
        daily.insert(0, "variant", variant)
        series.append(daily)
        curve = curve.copy()
        curve.insert(0, "replication", rep)
        curve.insert(0, "variant", variant)
        retention.append(curve)
        table = f.rules.copy()
        table.insert(0, "replication", rep)
        table.insert(0, "variant", variant)
        rules.append(table)
        moved = f.transitions.rename_axis(index="from", columns="to").stack()
        moved = moved[moved > 0].rename("customers").reset_index()
        moved.insert(0, "replication", rep)
        moved.insert(0, "variant", variant)
        moves.append(moved)
        if f.products is not None:
            economics = f.products.copy()
            economics.insert(0, "replication", rep)
            economics.insert(0, "variant", variant)
            products.append(economics)
    runs = pd.DataFrame(runs_rows)
    return Comparison(
        scenario=scenario,
        runs=runs,
        comparison=paired_differences(runs, order),
        series=pd.concat(series, ignore_index=True),
        retention=pd.concat(retention, ignore_index=True),
        rules=pd.concat(rules, ignore_index=True),
        replications=reps,
        event_logs=variant_logs(forecasts, order),
        products=pd.concat(products, ignore_index=True) if products else None,
        transitions=pd.concat(moves, ignore_index=True),
    )
