"""Clock rules (engine/clockrules.py): wake-up rules of stages and clock thresholds, evaluated
together as (rule, customer) pairs, fire as re-evaluating every customer every day would,
with the compiled kernel and with its numpy twin."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.engine import simulation as engine_simulation
from clmlang.simulation.engine.clockrules import ClockRules, clock_terms
from clmlang.simulation.engine.wakeups import Wakeups

SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8 every 30 days
stage prospect when purchases == 0
stage one when purchases == 1
stage more when purchases >= 2
rule regular {
  in stage more
  when days_since_purchase >= 25 days
  send email "We miss you"
}
rule cadence {
  when days_since_first_purchase >= 40 days and days_since_purchase > 10 days
  reentry once per 30 days
  send email "Still here"
}
rule settled {
  in stage one, more
  when 12 < days_in_stage and days_since_purchase <= 50 days
  reentry once
  send email "Settled in"
}
rule late {
  in stage one
  when days_since_purchase >= 20 days
  active from 2025-03-01 until 2025-06-30
  reentry once per 15 days
  send email "Late"
}
rule window {
  when days_since_purchase in 15..20 days
  send email "Two weeks already"
}
"""


def _policy(extra: int = 0):
    """SPEC with `extra` more clock rules over the stages (thresholds 5..60 days)."""
    parts = [SPEC]
    for i in range(extra):
        stage = ("one", "more", "one, more")[i % 3]
        reentry = f"reentry once per {10 + i % 17} days" if i % 2 else ""
        parts.append(
            f"rule idle_{i} {{\n  in stage {stage}\n  when days_since_purchase >= "
            f'{5 + (i * 7) % 56} days\n  {reentry}\n  send email "Idle {i}"\n}}\n'
        )
    return clmlang.loads("\n".join(parts))


def _run(policy, monkeypatch, *, daily: bool = False, compiled: str = "0", existing=False):
    monkeypatch.setenv("CLM_NUMBA", compiled)
    if daily:  # every condition rule re-evaluated for everyone every day
        monkeypatch.setattr(
            engine_simulation,
            "Wakeups",
            lambda p, growing, driven: Wakeups(p, growing, [False] * len(driven)),
        )
    market = Market()
    if existing:
        market = market.model_copy(
            update={
                "population": market.population.model_copy(
                    update={"start": "existing", "recency_days": 90}
                )
            }
        )
    run = simulate_policy(
        policy, market, customers=200, days=150, rng=np.random.default_rng(7), logs=True
    )
    monkeypatch.undo()
    return run


def _same(a, b) -> None:
    for log in ("rule_events", "messages", "purchases"):
        x, y = getattr(a.recorder, log).arrays(), getattr(b.recorder, log).arrays()
        for key in x:
            assert np.array_equal(x[key], y[key]), (log, key)
    for key, values in a.recorder.arm_counters.items():
        assert np.array_equal(values, b.recorder.arm_counters[key]), key


def test_the_shapes_that_are_clock_rules():
    """A conjunction of clock comparisons with constants is a clock rule (the constant on
    either side); arithmetic, other columns and `or` are not."""
    rules = clmlang.loads(SPEC).rules
    assert clock_terms(rules[0].condition) == [(0, ">=", 25.0)]
    assert clock_terms(rules[2].condition) == [(2, ">", 12.0), (0, "<=", 50.0)]
    assert clock_terms(rules[4].condition) is None  # `in a..b`: rule by rule
    other = clmlang.loads(
        SPEC.replace("days_since_purchase >= 25 days", "days_since_purchase >= 25 or purchases > 3")
    )
    assert clock_terms(other.rules[0].condition) is None


@pytest.mark.parametrize("existing", [False, True])
def test_clock_rules_fire_as_daily_re_evaluation(existing, monkeypatch):
    """Clock rules together (numpy and compiled) give the logs and counters of re-evaluating
    every customer every day, windows and re-entry included, on a new and an existing base."""
    policy = _policy(extra=20)
    daily = _run(policy, monkeypatch, daily=True, existing=existing)
    twin = _run(policy, monkeypatch, existing=existing)
    kernel = _run(policy, monkeypatch, compiled="1", existing=existing)
    _same(twin, daily)
    _same(kernel, daily)
    assert kernel.recorder.triggered == twin.recorder.triggered
    assert daily.recorder.rule_events.arrays()["arm"].size > 1000  # they do fire, a lot


def test_a_day_with_only_re_entries_fires(monkeypatch):
    """A day on which nobody is touched or woken but a re-entry opens still fires the rule
    (the candidates are the holders whose re-entry opens)."""
    policy = clmlang.loads(
        """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8 every 400 days
stage all when purchases >= 0
rule nudge {
  when days_since_purchase >= 1 days
  reentry once per 7 days
  send email "Hello"
}
"""
    )
    run = _run(policy, monkeypatch, existing=True)
    events = run.recorder.rule_events.arrays()
    daily = _run(policy, monkeypatch, daily=True, existing=True).recorder.rule_events.arrays()
    assert np.array_equal(events["day"], daily["day"])
    # a customer who holds the condition from day 0 on and never buys fires every 7 days
    days = np.unique(events["day"])
    assert {0, 7, 14, 21} <= set(days.tolist())


def test_a_re_entry_day_is_kept_for_the_days_of_the_run_in_the_rules_window():
    """`ClockRules.reopen`: each customer's re-entry day (from a base's last firings, one day
    each; from today's firings, one day for all) is kept under that day as the key
    rule << 32 | customer, only from day 0 to the rule's last day within the run."""
    store = SimpleNamespace(days=100, reentries={})
    ids = np.array([5, 7, 9, 11, 13, 15], dtype=np.int64)
    days = np.array([-1.0, 10.0, 10.0, 60.0, 99.0, 100.0])
    ClockRules.reopen(store, 3, ids, days, 80)  # window until day 80
    assert sorted(store.reentries) == [10, 60]
    np.testing.assert_array_equal(store.reentries[10][0], [3 * 2**32 + 7, 3 * 2**32 + 9])
    np.testing.assert_array_equal(store.reentries[60][0], [3 * 2**32 + 11])
    store.reentries.clear()
    ClockRules.reopen(store, 3, ids, days, 1 << 40)  # no window: up to the run's last day
    assert sorted(store.reentries) == [10, 60, 99]
    ClockRules.reopen(store, 0, ids[:2].astype(np.int32), np.float64(60.0), 1 << 40)
    np.testing.assert_array_equal(store.reentries[60][1], [5, 7])  # rule 0: the ids
    ClockRules.reopen(store, 0, ids[:2], np.float64(100.0), 1 << 40)  # past the run
    assert 100 not in store.reentries
