"""Condition rules that read time run on wake-ups (engine/wakeups.py): they fire on the days
the purchase log says they should, and every example gives the same run as re-evaluating
every customer every day."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import clmlang
from clmlang.market.model import Market
from clmlang.market.scenario import load_scenario_file
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.engine import simulation as engine_simulation
from clmlang.simulation.engine.wakeups import Wakeups

from .conftest import check_firing_days

ROOT = Path(__file__).resolve().parents[1]

SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8 every 30 days
stage prospect when purchases == 0
stage one when purchases == 1
stage more when purchases >= 2
rule silent_regular {
  in stage more
  when days_since_purchase >= 25 days
  send email "We miss you"
}
rule cadence {
  when days_since_first_purchase >= 40 days and days_since_purchase > 10 days
  reentry once per 30 days
  send email "Still here"
}
rule fortnight {
  when days_since_purchase in 15..20 days
  send email "Two weeks already"
}
"""
DAYS = 300


def _holds(rule: str, days: list[int], d: int) -> bool:
    """Whether `rule`'s condition holds on day `d` for a customer who bought on `days`."""
    before = [p for p in days if p <= d]
    if not before:
        return False
    since_last, since_first = d - max(before), d - min(before)
    if rule == "silent_regular":
        return len(before) >= 2 and since_last >= 25
    if rule == "cadence":
        return since_first >= 40 and since_last > 10
    return 15 <= since_last <= 20


def _expected(rule: str, days: list[int]) -> list[int]:
    """The firing days by hand: an edge (false the day before, true today), or for the
    cadence, any day it holds at least 30 days after the last firing."""
    fired: list[int] = []
    for d in range(DAYS):
        if not _holds(rule, days, d):
            continue
        if rule == "cadence":
            if not fired or d - fired[-1] >= 30:
                fired.append(d)
        elif d == 0 or not _holds(rule, days, d - 1):
            fired.append(d)
    return fired


@functools.cache
def _run():
    policy = clmlang.loads(SPEC)
    return simulate_policy(policy, Market(), customers=400, days=DAYS, rng=np.random.default_rng(3))


@pytest.mark.parametrize("r, rule", list(enumerate(["silent_regular", "cadence", "fortnight"])))
def test_firing_days_are_those_the_purchase_log_implies(r: int, rule: str):
    """Each customer's firing days of a time-driven rule, recomputed day by day from their
    purchase days, are the days the engine fired it (it only looked at them on wake-ups)."""
    run = _run()
    total = check_firing_days(run, r, lambda days: _expected(rule, days))
    assert total > 50  # the rule does fire, many times


def _examples() -> list[tuple[str, Path, Path | None]]:
    found = [(p.stem, p, None) for p in sorted((ROOT / "specs").glob("*.clm"))]
    for path in sorted((ROOT / "simulations").glob("*.toml")):
        scenario = load_scenario_file(path)
        if scenario.settings.spec:
            found.append((path.stem, scenario.spec_path(scenario.all_variants()[0]), path))
    return found


def _simulate(spec: Path, scenario: Path | None, wakeups: bool, monkeypatch) -> object:
    if not wakeups:  # every condition rule re-evaluated for everyone every day
        monkeypatch.setattr(
            engine_simulation,
            "Wakeups",
            lambda policy, growing, driven: Wakeups(policy, growing, [False] * len(driven)),
        )
    market, seed = Market(), 1
    if scenario is not None:
        loaded = load_scenario_file(scenario)
        market, seed = loaded.market, loaded.settings.seed or 1
    run = simulate_policy(
        clmlang.load(spec),
        market,
        customers=120,
        days=160,
        rng=np.random.default_rng(seed),
        logs=True,  # the per-firing and per-message logs, compared row by row
    )
    monkeypatch.undo()
    return run


@pytest.mark.parametrize("name, spec, scenario", _examples(), ids=lambda v: str(v))
def test_every_example_runs_the_same_with_wakeups(name, spec, scenario, monkeypatch):
    """Wake-ups change when rules look at customers, never what happens: the logs and the
    counters are identical to a run that re-evaluates everyone every day."""
    fast = _simulate(spec, scenario, True, monkeypatch)
    slow = _simulate(spec, scenario, False, monkeypatch)
    for log in ("rule_events", "purchases", "messages"):
        a, b = getattr(fast.recorder, log).arrays(), getattr(slow.recorder, log).arrays()
        for key in a:
            assert np.array_equal(a[key], b[key]), (log, key)
    for key, values in fast.recorder.daily.items():
        assert np.array_equal(values, slow.recorder.daily[key]), key
    for key, values in fast.recorder.arm_counters.items():
        assert np.array_equal(values, slow.recorder.arm_counters[key]), key
