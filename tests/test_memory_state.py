"""The engine's per-customer state stays small: bytes per customer of its arrays, from their
dtypes, for every shipped spec (issue 19: at most 1 KiB per customer for the whole command).

A run holds, per customer, the engine's state arrays (one row each), a year of logs
(purchases, items, rule firings as runs: 220-650 B per customer over 365 days on the shipped
specs at the default market) and, at the end, the metrics' working copies of those logs. The
state's share of the 1 KiB is at most 400 bytes (STATE_BOUND; the shipped specs take 180-371,
ecommerce_cdp the most: its 34 rules and 25 flow steps waiting for success).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmlang.api import load
from clmlang.market.model import Market
from clmlang.simulation.engine.simulation import _Simulation

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.clm"))
STATE_BOUND = 400  # bytes per customer (see the module docstring)
CUSTOMERS, DAYS = 2000, 30


def _row_bytes(obj, n: int, seen: set[int], found: dict[int, int]) -> None:
    """The arrays with one row per customer (`n` rows) that `obj` reaches, by id: the engine's
    objects, their dicts, lists and tuples, not the recorder's logs (they grow with the days,
    and are measured by benchmarks/bench_memory.py)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        owner = obj if obj.base is None else obj.base
        if isinstance(owner, np.ndarray) and owner.ndim and owner.shape[0] == n:
            found[id(owner)] = owner.nbytes  # a view counts its whole array, once
        return
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, list | tuple):
        items = list(obj)
    elif type(obj).__module__.startswith("clmlang") and hasattr(obj, "__dict__"):
        items = [v for k, v in vars(obj).items() if k != "recorder"]
    else:
        return
    for value in items:
        _row_bytes(value, n, seen, found)


def state_bytes(spec: Path) -> tuple[float, _Simulation]:
    """Bytes per customer of the engine's per-customer arrays after a short run of `spec`."""
    sim = _Simulation(load(spec), Market(), CUSTOMERS, DAYS, np.random.default_rng(1), None)
    sim.run()
    found: dict[int, int] = {}
    _row_bytes(sim, sim.n, set(), found)
    return sum(found.values()) / sim.n, sim


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_the_state_of_every_spec_takes_at_most_400_bytes_per_customer(spec: Path) -> None:
    per_customer, sim = state_bytes(spec)
    # the State's own fields alone take 160 B (20 arrays of 1-8 B): the walk finds them
    assert per_customer >= 160
    assert per_customer <= STATE_BOUND, f"{spec.stem}: {per_customer:.0f} B per customer"
    # a rule keeps the day each customer last fired it only when its re-entry reads it
    once = [r for r, rule in enumerate(sim.policy.rules) if rule.reentry.kind == "once"]
    assert sorted(sim.memory.last_fired) == once


def test_the_message_log_counts_the_messages_in_a_window_from_two_byte_days() -> None:
    """messages(D) counts a customer's messages on days after today - D (at most RING of
    them), whatever the window: fractional, reaching before day 0, or longer than any run."""
    from types import SimpleNamespace

    from clmlang.simulation.engine.columns import RING, MessageLog

    log = MessageLog(SimpleNamespace(columns=["messages:30"]), 3)
    sent = {0: [0, 5, 29, 30, 31], 1: list(range(0, 40)), 2: []}  # customer: days messaged
    for day in range(40):
        log.record("sms", np.array([c for c, days in sent.items() if day in days]), day)
    assert log.logs["*"][0].dtype == np.uint16
    for today in (0, 30, 31, 39, 40, 36_000):
        for window in (0.5, 1.0, 2.5, 30.0, 31.0, 1000.0, np.inf):
            got = log.count("*", np.arange(3), today, window)
            want = [  # the log keeps the last RING messages: older ones are forgotten
                sum(today - window < d for d in days[-RING:]) for days in sent.values()
            ]
            assert got.tolist() == want, (today, window)


def test_success_deadlines_read_back_as_float_days_from_two_bytes() -> None:
    from clmlang.simulation.engine.components import Deadlines

    until = Deadlines(6)
    assert until.days.itemsize == 2
    until[np.array([1, 3])] = 40  # waiting until day 40
    until[4] = 0  # until day 0 (a deadline is at least a day away, but day 0 is a day)
    until[np.array([5])] = np.array([36_600.0])
    got = until[np.arange(6)]
    assert got.dtype == np.float32
    assert np.array_equal(got, [np.nan, 40, np.nan, 40, 0, 36_600], equal_nan=True)
    assert (until[np.arange(6)] >= 40).tolist() == [False, True, False, True, False, True]
    until[np.array([3])] = np.nan  # succeeded: no longer waiting
    assert np.isnan(until[np.array([3])]).all()
    assert until[slice(0, 2)].tolist()[1] == 40


def test_last_firings_read_back_as_float_days_from_two_bytes() -> None:
    from clmlang.simulation.engine.components import FiredDays

    last = FiredDays(5)
    assert last.days.itemsize == 2
    last[np.array([0, 2])] = 7
    last[slice(3, 5)] = np.array([-400.0, np.nan])  # a base's firing before day 0; never
    assert np.array_equal(np.asarray(last), [7, np.nan, 7, -400, np.nan], equal_nan=True)
    assert np.isfinite(last).tolist() == [True, False, True, True, False]
    assert last.days.itemsize == 2
    last[np.array([1])] = np.array([-40_000.5])  # does not fit: float32 days from now on
    assert last.days.dtype == np.float32
    got = last[np.arange(5)]
    assert np.array_equal(got, [7, -40_000.5, 7, -400, np.nan], equal_nan=True)


@pytest.mark.parametrize("fractional", [False, True])
def test_reentry_allows_those_never_fired_or_fired_at_least_a_period_ago(fractional) -> None:
    """`reentry once per P days` on day 50: last firings on days 10, 40 and -400 are 40, 10
    and 450 days ago; `reentry once` lets only the never-fired in. The same answers once the
    days are kept as float32 (a history's fractional day written elsewhere)."""
    from clmlang.simulation.engine.components import FiredDays

    last = FiredDays(6)
    last[np.array([1, 2, 3])] = np.array([10.0, 40.0, -400.0])
    if fractional:
        last[np.array([5])] = np.array([0.5])
        assert last.days.dtype == np.float32
    ids = np.arange(5)
    assert last.allows(ids, 50, 10).tolist() == [0, 1, 2, 3, 4]
    assert last.allows(ids, 50, 10.5).tolist() == [0, 1, 3, 4]
    assert last.allows(ids, 50, 41).tolist() == [0, 3, 4]
    assert last.allows(ids, 50, None).tolist() == [0, 4]
    assert last.allows(ids, 50, 1e6).tolist() == [0, 4]  # longer than any run: never again
    last[np.array([0])] = 50  # fired today
    assert last.allows(ids, 50, 10).tolist() == [1, 2, 3, 4]
