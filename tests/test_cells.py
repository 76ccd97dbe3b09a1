"""Cells (engine/cells.py): a grid rule's cells, whose filters are a stage and a segment, read
the segments' membership bits; they fire on the days the purchase log says they should, and
give the same run as the wake-up rules they replace and as re-evaluating everyone daily."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.engine import simulation as engine_simulation
from clmlang.simulation.engine.cells import Cells
from clmlang.simulation.engine.wakeups import Wakeups

from .conftest import check_firing_days

SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8 every 30 days
rfm {
  recency 10 days, 20 days, 45 days, 90 days
  frequency 2, 3, 5, 8
  monetary 30, 90, 200, 400
}
stage prospect when purchases == 0
stage one when purchases == 1
stage more when purchases >= 2
segment fresh when rfm.r >= 4
segment cooling when rfm.r == 3
rule touch "{stage}: {segment}" for each stage in one, more and each segment in fresh, cooling {
  send email "Hello"
}
rule keep {
  in stage more
  for cooling
  reentry once per 30 days
  send email "Still there?"
}
rule later "A window: evaluated on its own, everyone on its first day" {
  in stage more
  for fresh
  active from 2026-02-15
  send email "Welcome back"
}
rule filtered {
  in stage one
  for fresh
  when purchases >= 1
  send email "Not a cell: it has a `when`"
}
"""
DAYS = 240
RULES = ["touch[one,fresh]", "touch[one,cooling]", "touch[more,fresh]", "touch[more,cooling]"]


def _holds(rule: str, days: list[int], d: int) -> bool:
    """Whether a rule's filters hold on day `d` for a customer who bought on `days`: recency
    3 is at most 20 days since the last purchase, 2 more than 20 and at most 45; frequency 2
    is 2 or 3 purchases (cooling: at least 2, so only the stage `more` has members)."""
    before = [p for p in days if p <= d]
    if not before:
        return False
    since = d - max(before)
    stage = "one" if len(before) == 1 else "more"
    fresh, cooling = since <= 20, 20 < since <= 45
    if rule == "keep":
        return stage == "more" and cooling
    if rule == "later":
        return stage == "more" and fresh
    cell_stage, cell_segment = rule[len("touch[") : -1].split(",")
    return stage == cell_stage and (fresh if cell_segment == "fresh" else cooling)


def _expected(rule: str, days: list[int]) -> list[int]:
    """The firing days by hand: an edge (false the day before, true today); `keep` on any
    day it holds at least 30 days after its last firing; `later` from day 45 (2026-02-15),
    on which it fires for whoever holds it."""
    fired: list[int] = []
    first = 45 if rule == "later" else 0
    for d in range(first, DAYS):
        if not _holds(rule, days, d):
            continue
        if rule == "keep":
            if not fired or d - fired[-1] >= 30:
                fired.append(d)
        elif d == first or not _holds(rule, days, d - 1):
            fired.append(d)
    return fired


def _simulate(how: str, monkeypatch) -> object:
    """A run with cells, with the cells as wake-up rules, or every condition rule
    re-evaluated for everyone daily."""
    if how == "wakeups":
        monkeypatch.setattr(Cells, "of", classmethod(lambda cls, sim: cls({})))
    elif how == "daily":
        monkeypatch.setattr(
            engine_simulation,
            "Wakeups",
            lambda policy, growing, driven: Wakeups(policy, growing, [False] * len(driven)),
        )
    run = simulate_policy(
        clmlang.loads(SPEC),
        Market(),
        customers=300,
        days=DAYS,
        rng=np.random.default_rng(5),
        logs=True,
    )
    monkeypatch.undo()
    return run


@functools.cache
def _run():
    return simulate_policy(
        clmlang.loads(SPEC), Market(), customers=300, days=DAYS, rng=np.random.default_rng(5)
    )


def test_the_cells_are_the_rules_of_a_stage_and_a_segment(monkeypatch):
    """The grid's four cells, `keep` and `later` (a stage and a segment) are cells;
    `filtered` has a `when`, so it stays a wake-up rule."""
    found = []
    real = Cells.of.__func__
    monkeypatch.setattr(
        Cells, "of", classmethod(lambda cls, sim: found.append(real(cls, sim)) or found[-1])
    )
    policy = clmlang.loads(SPEC)
    simulate_policy(policy, Market(), customers=20, days=5, rng=np.random.default_rng(5))
    names = [rule.name for rule in policy.rules]
    assert {names[r]: k for r, k in found[0].segment.items()} == {
        "touch[one,fresh]": 0,
        "touch[one,cooling]": 1,
        "touch[more,fresh]": 0,
        "touch[more,cooling]": 1,
        "keep": 1,
        "later": 0,
    }


@pytest.mark.parametrize("rule", [*RULES, "keep", "later"])
def test_firing_days_are_those_the_purchase_log_implies(rule: str):
    """Each customer's firing days of a cell, recomputed day by day from their purchase
    days, are the days the engine fired it (it looked at them only on the days they were
    touched or moved in or out of a segment)."""
    run = _run()
    r = [x.name for x in clmlang.loads(SPEC).rules].index(rule)
    total = check_firing_days(run, r, lambda days: _expected(rule, days))
    assert total > 20  # the rule does fire


def test_cells_give_the_same_run_as_wakeups_and_daily_evaluation(monkeypatch):
    """Reading the bits changes when a cell looks at a customer, never what happens."""
    cells = _simulate("cells", monkeypatch)
    for how in ("wakeups", "daily"):
        other = _simulate(how, monkeypatch)
        for log in ("rule_events", "purchases", "messages"):
            a, b = getattr(cells.recorder, log).arrays(), getattr(other.recorder, log).arrays()
            for key in a:
                assert np.array_equal(a[key], b[key]), (how, log, key)
        for key, values in cells.recorder.arm_counters.items():
            assert np.array_equal(values, other.recorder.arm_counters[key]), (how, key)


@pytest.mark.parametrize("seed", range(12))
def test_the_cells_kernel_gives_numpys_edges_and_values(seed):
    """`cell_edges` against `Cells._edges` (its numpy twin) on random days of random cells,
    and both against the edges read cell by cell and row by row here: a cell's value is its
    stage's entry of the table and its segment's bit; an edge is false yesterday, true today."""
    from clmlang.core import compiled

    if not compiled.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(seed)
    n, cells, stages = 50, int(rng.integers(1, 9)), 6
    dtype = (np.uint8, np.uint16, np.uint32, np.uint64)[seed % 4]
    bits = np.iinfo(dtype).bits
    inside = rng.random((stages + 1, cells)) < 0.6
    bit = [1 << int(b) for b in rng.choice(bits, size=cells)]
    twins = [Cells({r: r for r in range(cells)}) for _ in range(2)]
    for twin in twins:
        twin.inside, twin.word, twin.bit = inside, [0] * cells, bit
    was = rng.random((n, cells)) < 0.4
    days = []
    for _ in range(4):
        rows = np.sort(rng.choice(n, size=int(rng.integers(0, n)), replace=False)).astype(np.int64)
        stage = rng.integers(-1, stages, size=rows.size).astype(np.int16)
        word = rng.integers(0, np.iinfo(dtype).max, size=rows.size, dtype=dtype, endpoint=True)
        days.append((rows, stage, word))
    for twin in twins:
        twin.was = was.copy()
    expected_was = was.copy()
    for rows, stage, word in days:
        expected = [[] for _ in range(cells)]
        for i, row in enumerate(rows.tolist()):
            for c in range(cells):
                now = bool(inside[stage[i] + 1, c]) and int(word[i]) & bit[c] != 0
                if now and not expected_was[row, c]:
                    expected[c].append(row)
                expected_was[row, c] = now
        got = []
        for twin, kernel in zip(twins, (False, True), strict=True):
            twin.rows, twin.stages, twin.words = rows, stage, {0: word}
            edges = twin._edges_compiled() if kernel else twin._edges()
            assert [e.tolist() for e in edges] == expected
            assert all(e.dtype == rows.dtype for e in edges)
            got.append(twin.was.copy())
        assert (got[0] == expected_was).all() and (got[1] == expected_was).all()
