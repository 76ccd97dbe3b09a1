"""The public Python API, modelled on the `json` module: `load(path)` and `loads(text)`.

    >>> import clmlang
    >>> policy = clmlang.load("specs/clinic.clm")
    >>> [stage.name for stage in policy.stages]

Problems in a spec raise `ClmError`, which carries every diagnostic, not only the first.
`analyse` is the non-raising form the CLI uses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..compile.analysis import Analysis, analyse, analyse_text, is_module
from ..compile.explanation import Explanation, parse_customer
from ..compile.explanation import explain as _explain
from ..compile.policy import Policy
from ..core.diagnostics import ClmError
from ..core.file_kinds import SCENARIO, wrong_kind
from ..language.symbols import Symbols
from ..market.model import MAX_CUSTOMERS, MAX_DAYS, Market, MarketError

if TYPE_CHECKING:  # the simulator and what-if runs load numpy, scipy and pandas: on first use
    from ..market.scenario import Scenario
    from ..simulation.metrics import Forecast
    from ..whatif.experiment import Comparison

NO_POLICY = 'program "No policy"\nstage everyone when purchases >= 0\n'

__all__ = [
    "Analysis",
    "analyse",
    "analyse_text",
    "explain",
    "find_specs",
    "forecast_history",
    "is_module",
    "load",
    "loads",
    "run_scenario",
    "simulate",
]


def _policy_or_raise(analysis: Analysis, strict: bool) -> Policy:
    if analysis.failed(strict) or analysis.policy is None:
        raise ClmError(analysis.diagnostics, analysis.sources)
    return analysis.policy


def _scenario_file(path: str | Path, hint: str, policy: Policy | None = None) -> Scenario:
    """The scenario file at `path`; a `MarketError` saying what the file is instead when its
    name says it is another kind (a spec, a test file, a history: core/file_kinds.py), rather
    than TOML's "Expected '='" at its first line. `policy`: the spec to run, when known (its
    undeclared names are reported with the file's other problems)."""
    from ..market.scenario import load_scenario_file

    problem = wrong_kind(path, SCENARIO)
    if problem is not None:
        raise MarketError(str(path), [("(file)", f"{problem}; {hint}")])
    return load_scenario_file(path, policy)


def load(path: str | Path, *, strict: bool = False) -> Policy:
    """Load, check and compile a `.clm` spec; raise `ClmError` with every problem found.

    With `strict`, warnings count as errors (as `clm check --strict` does).
    """
    return _policy_or_raise(analyse(path), strict)


def loads(text: str, name: str = "<string>", *, strict: bool = False) -> Policy:
    """`load` for a spec given as text; `use` paths resolve against the current directory."""
    return _policy_or_raise(analyse_text(text, name), strict)


def explain(
    spec: str | Path | Analysis,
    customer: Mapping[str, object] | str,
    market: Market | Scenario | str | Path | None = None,
) -> Explanation:
    """What the spec does with one customer: stage, segments, and a verdict per rule.

    `customer` is a mapping of state fields (`{"purchases": 4, "owns": ["facial"]}`) or the
    same as text (`"purchases=4, owns=facial"`). The buying model's predictions (`p_alive`,
    ...) use `market`'s buying and spend parameters (a `Market`, a scenario or its file), the
    default market's without one. Raises `ClmError` when the spec has errors,
    `explain.CustomerError` (a ValueError) when the customer cannot be read and
    `MarketError` for a bad scenario file.
    """
    from ..market.scenario import Scenario

    analysis = spec if isinstance(spec, Analysis) else analyse(spec)
    policy = _policy_or_raise(analysis, strict=False)
    values = parse_customer(customer) if isinstance(customer, str) else customer
    source = "the default market"
    if isinstance(market, str | Path):
        source = f"the market of {market}"
        market = _scenario_file(market, "`market` is a scenario or market file", policy)
    if isinstance(market, Scenario):
        source = "the scenario's market" if source.startswith("the default") else source
        market = market.market
    elif market is not None:
        source = "the given market"
    model = (market or Market()).buying_model()
    symbols = Symbols.from_spec(analysis.spec)
    return _explain(policy, symbols, analysis.sources, values, model, source)


def find_specs(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand paths: files as given, folders recursively to their `*.clm` files, sorted.

    Files named `*.test.clm` are policy tests, not specs, and are skipped inside folders.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*.clm")):
                if not found.name.endswith(".test.clm"):
                    yield found
        else:
            yield path


def simulate(
    policy: Policy | str | Path | None = None,
    market: Market | Scenario | str | Path | None = None,
    *,
    customers: int | None = None,
    days: int | None = None,
    rng: np.random.Generator | int | None = None,
    variant: str | None = None,
    trace: int | None = None,
    progress: Callable[[int], None] | None = None,
    logs: bool = False,
    workers: int | None = None,
    blocks: int | None = None,
    scheduler: str | None = None,
) -> Forecast:
    """Forecast what `policy` does to `customers` customers of `market` over `days` days.

    `policy`: a compiled policy, a spec's path, or None for the spec the scenario names.
    `market`: a `Market`, a scenario (any scenario file, or a `Scenario`), or None for the
    documented defaults. A scenario's `[simulation]` gives `customers`, `days` and the seed
    when they are not passed; its base is simulated once (`variant` names one of its variants
    or sweep values instead); replications are for `run_scenario`. Without a scenario the
    defaults are 10,000 customers, 365 days and a fresh random seed. `rng`: a
    `numpy.random.Generator` (or a seed); the same seed gives the same forecast. `logs`: keep
    every purchase and every message as tables (`Forecast.logs()`, and `Forecast.write(folder,
    logs=True)` for purchases.csv and messages.csv); they cost memory as they grow. `workers`:
    blocks of customers (`blocks`) in that many processes, or on the Dask cluster at
    `scheduler`, merged: the same forecast for any number (docs/engine.md). Raises
    `ClmError` for a bad spec, `MarketError` for a bad scenario file or a market that names
    stages, channels or products the spec does not declare, and `ValueError` for a missing
    spec or an unknown variant, sizes out of bounds, or a run that needs more memory than is
    available.
    """
    from ..market.scenario import Scenario

    scenario = None
    if isinstance(market, Scenario) or (market is not None and not isinstance(market, Market)):
        scenario = (
            market
            if isinstance(market, Scenario)
            else _scenario_file(
                market, "a spec goes as `policy`, a scenario or market file as `market`"
            )
        )
        policy, market = _scenario_policy(scenario, policy, variant)
    else:
        if variant is not None:
            raise ValueError("a variant is one of a scenario's: pass the scenario as `market`")
        if policy is None:
            raise ValueError("no policy: pass a `Policy` or a spec's path")
        if not isinstance(policy, Policy):
            policy = load(policy)
        market = market or Market()
        problems = market.problems(policy)
        if problems:
            raise MarketError("<market>", problems)
    settings = scenario.settings if scenario is not None else None
    if customers is None:  # 0 is a value to refuse below, not "the default"
        customers = settings.customers if settings else 10_000
    if days is None:
        days = settings.days if settings else 365
    if rng is None and settings is not None:
        rng = settings.seed
    from ..simulation.engine.memory import size_problem
    from ..simulation.metrics import forecast, forecast_of
    from ..simulation.partials import measure_block

    for name, value, top in (("customers", customers, MAX_CUSTOMERS), ("days", days, MAX_DAYS)):
        if isinstance(value, bool) or not isinstance(value, Integral) or not 1 <= value <= top:
            raise ValueError(f"{name}: a whole number from 1 to {top:,}, not {value!r}")
    problem = size_problem(policy, market, customers, days, logs=logs)
    if problem:
        raise ValueError(problem)
    if not isinstance(rng, np.random.Generator):
        try:
            rng = np.random.default_rng(rng)
        except (TypeError, ValueError) as error:  # numpy's own says nothing of what it takes
            raise type(error)(
                f"rng: a numpy.random.Generator or a seed (a whole number from 0), not {rng!r}"
            ) from None
    from ..whatif.cluster import simulate_blocks  # one block without workers nor scheduler

    if logs:  # the logs come back whole: the blocks' runs, merged
        run = simulate_blocks(
            policy, market, customers, days, rng, trace, progress, logs, workers, blocks, scheduler
        )
        return forecast(run, logs=logs)
    # each block measured where it ran (simulation.partials), its customers freed there
    measure = functools.partial(measure_block, customers=customers)
    parts = simulate_blocks(
        policy, market, customers, days, rng, trace, progress, logs, workers, blocks, scheduler,
        measure,
    )  # fmt: skip
    return forecast_of(parts)


def _scenario_policy(
    scenario: Scenario, policy: Policy | str | Path | None, variant: str | None
) -> tuple[Policy, Market]:
    """The policy and market a scenario's base (or `variant`) simulates; `policy`, when given,
    replaces the spec the file names."""
    if isinstance(policy, Policy):
        if variant is not None:
            raise ValueError("a variant's overrides apply to a spec: pass the spec's path")
        scenario.check_names(scenario.market, policy)
        return policy, scenario.market
    if policy is not None:
        scenario = scenario.with_spec(policy)
    elif scenario.settings.spec is None:
        raise ValueError(f"{scenario.path} names no spec: pass one as `policy`")
    try:
        chosen = scenario.variant(variant or "base")
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    if chosen.name == "base":
        base = load(scenario.spec_path(chosen))
        scenario.check_names(scenario.market, base)
        return base, scenario.market
    from ..whatif.experiment import variant_policy

    return variant_policy(scenario, chosen)


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    replications: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Callable[[int, int], None] | None = None,
    spec: str | Path | None = None,
    logs: bool = False,
) -> Comparison:
    """Run a what-if scenario (a file or a `Scenario`): every variant `replications` times
    with common random numbers, compared with the base. `spec` replaces the base spec the
    file names (a file with no variants is a what-if of the base alone).

    Runs go to a local process pool (`workers`, default one per core), to the Dask cluster at
    `scheduler` (or CLM_SCHEDULER), or with `serial` into this process; the results are the
    same for the same seed. Returns a `Comparison` (DataFrames `runs`, `comparison`, `series`,
    `retention`, `rules`; `write(folder)` for comparison.csv, summary.json and report.html).
    `logs`: the first replication of each variant keeps every purchase and message
    (`Comparison.logs()`, with the scenario's variant in `variant`; `write(folder, logs=True)`
    adds purchases.csv and messages.csv). Raises `MarketError` for a bad scenario file or
    override, or for runs that need more memory than is available.
    """
    from ..market.scenario import Scenario
    from ..whatif.experiment import run_scenario as _run_scenario

    if not isinstance(scenario, Scenario):
        scenario = _scenario_file(
            scenario, "a spec goes as `spec`, with a scenario file to run it in"
        )
    if spec is not None:
        scenario = scenario.with_spec(spec)
    return _run_scenario(
        scenario,
        replications=replications,
        scheduler=scheduler,
        workers=workers,
        serial=serial,
        progress=progress,
        logs=logs,
    )


from .history import forecast_history  # noqa: E402  (it loads specs with load/loads above)
