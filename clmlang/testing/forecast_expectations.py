"""`[[forecast]]` tests: a KPI of a scenario's forecast (or of the default market's) that
should be at least or at most a value, judged with the interval over replications, so that
simulation noise alone does not fail a test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..compile.policy import Policy
from ..core.files import beside
from ..core.names import did_you_mean
from ..core.statistics import interval
from ..market.model import Market, MarketError
from ..market.scenario import load_scenario
from ..simulation.engine import simulate_policy
from ..simulation.engine.memory import size_problem
from ..simulation.metrics import forecast
from .testfile import ForecastExpectation, TestFile

__all__ = ["check_forecast", "kpi_problems"]


def kpi_problems(test_file: TestFile, policy: Policy) -> list[tuple[str, str]]:
    """Each `[[forecast]]` whose `kpi` the policy's forecast does not have, as the test file's
    validation gives its problems ((dotted key, message): placed on the file's line), before
    any of its runs: the KPIs are the numeric figures of a one-customer, one-day forecast of
    the policy (the stage goals' figures depend on the spec; a few hundredths of a second)."""
    if not test_file.forecast:
        return []
    run = simulate_policy(policy, Market(), customers=1, days=1, rng=np.random.default_rng(0))
    summary = forecast(run).summary
    names = [k for k, v in summary.items() if v is None or isinstance(v, int | float)]
    return [
        (f"forecast.{i}.kpi", f"no KPI `{fc.kpi}`" + did_you_mean(fc.kpi, names))
        for i, fc in enumerate(test_file.forecast)
        if fc.kpi not in names
    ]


def check_forecast(
    fc: ForecastExpectation, policy: Policy, test_file: TestFile, seed: int
) -> tuple[str, str]:
    """What the forecast got wrong ("" when the interval allows the expectation) and the rule
    to point at (none: a forecast is the whole policy's)."""
    market, customers, days = Market(), 5000, 365
    if fc.scenario:
        cfg, market = load_scenario(beside(Path(test_file.path), Path(fc.scenario)))
        customers, days, seed = cfg.customers, cfg.days, cfg.seed
    customers = customers if fc.customers is None else fc.customers
    days = days if fc.days is None else fc.days
    problems = market.problems(policy)
    if problems:
        raise MarketError("<market>", problems)
    # one run at a time: each is dropped once its summary is taken
    problem = size_problem(policy, market, customers, days)
    if problem:
        raise ValueError(problem)
    values = []
    for r in range(fc.replications):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
        run = simulate_policy(policy, market, customers=customers, days=days, rng=rng)
        summary = forecast(run).summary
        del run
        value = summary.get(fc.kpi)
        if value is None and fc.kpi not in summary:
            raise ValueError(f"no KPI `{fc.kpi}`" + did_you_mean(fc.kpi, list(summary)))
        values.append(np.nan if value is None else float(value))
    mean, low, high = interval(np.array(values))
    shown = f"{fc.kpi} = {mean:.4g} [{low:.4g}, {high:.4g}]"
    if fc.at_least is not None and not (high >= fc.at_least):
        return f"expected {fc.kpi} >= {fc.at_least}; forecast {shown}", ""
    if fc.at_most is not None and not (low <= fc.at_most):
        return f"expected {fc.kpi} <= {fc.at_most}; forecast {shown}", ""
    return "", ""
