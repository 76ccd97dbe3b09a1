"""Stages and segments that change with time through clocks are re-evaluated on the days a
clock crosses a threshold (engine/crossings.py): members and stages day by day are those the
purchase log implies, the examples run as when everyone is re-evaluated every day, and RFM
scores count the bounds as a binary search would."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import clmlang
from clmlang.language.conditions import Between, Compare, Const, Score, evaluate
from clmlang.language.scores import score
from clmlang.market.model import Market
from clmlang.simulation.engine import segments as engine_segments
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.engine import stages as engine_stages

SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8 every 30 days
rfm {
  recency 30 days, 60 days, 90 days, 120 days
  frequency 2, 3, 5, 8
  monetary 40, 100, 200, 400
}
stage prospect when purchases == 0
stage active when purchases >= 1 and days_since_purchase < 20 days
stage quiet when purchases >= 1 and days_since_purchase in 20..45 days
stage gone when purchases >= 1 and days_since_purchase > 45 days
segment fresh when rfm.r == 5
segment fading when rfm.r == 4 and purchases >= 2
segment week when days_since_purchase <= 7 days
rule nudge {
  on enter fading
  send email "We miss you"
}
"""
DAYS = 200


@functools.cache
def _run(crossings: bool = True):
    policy = clmlang.loads(SPEC)
    patch = pytest.MonkeyPatch()
    if not crossings:  # everyone re-evaluated every day, as before crossings.py
        patch.setattr(engine_segments, "wakes_by_clocks", lambda condition, growing: False)
        patch.setattr(engine_stages, "wakes_by_clocks", lambda condition, growing: False)
    try:
        return simulate_policy(
            policy, Market(), customers=300, days=DAYS, rng=np.random.default_rng(4), logs=True
        )
    finally:
        patch.undo()


def _last_purchase_days(run) -> list[list[int]]:
    purchases = run.recorder.purchases.arrays()
    days: list[list[int]] = [[] for _ in range(run.state.n)]
    for c, t in zip(purchases["customer"].tolist(), purchases["time"].tolist(), strict=True):
        days[c].append(int(np.floor(t)))
    return days


def test_members_and_stages_by_day_are_those_the_purchase_log_implies():
    """Each day's count of `week`, `fresh` and `fading` members and of each stage, recomputed
    from the purchase days alone (recency score 5 up to 30 days, 4 up to 60), is the
    engine's, which looked at most customers only when a clock crossed a threshold."""
    run = _run()
    bought = _last_purchase_days(run)
    seg, stage = run.recorder.segment_counts, run.recorder.stage_counts
    for d in range(DAYS):
        week = fresh = fading = active = quiet = gone = 0
        for days in bought:
            before = [p for p in days if p <= d]
            if not before:
                continue
            since = d - max(before)
            week += since <= 7
            fresh += since <= 30
            fading += 30 < since <= 60 and len(before) >= 2
            active += since < 20
            quiet += 20 <= since <= 45
            gone += since > 45
        assert seg[d].tolist() == [fresh, fading, week], d
        assert stage[d].tolist()[2:] == [active, quiet, gone], d
    assert seg[:, 1].max() > 5 and stage[:, 4].max() > 5  # the thresholds are crossed


def test_the_same_run_as_everyone_every_day():
    """Crossing days change when stages and segments are looked at, never what happens: the
    logs and the counters equal those of re-evaluating everyone every day."""
    fast, slow = _run(True), _run(False)
    for log in ("rule_events", "purchases", "messages"):
        a, b = getattr(fast.recorder, log).arrays(), getattr(slow.recorder, log).arrays()
        for key in a:
            assert np.array_equal(a[key], b[key]), (log, key)
    assert np.array_equal(fast.recorder.segment_counts, slow.recorder.segment_counts)
    assert np.array_equal(fast.recorder.stage_counts, slow.recorder.stage_counts)
    assert np.array_equal(fast.recorder.transitions, slow.recorder.transitions)


@pytest.mark.parametrize("spec", ["ecommerce_cdp", "ecommerce_rfm", "car_dealer"])
def test_examples_run_the_same_as_everyone_every_day(spec, monkeypatch):
    """The examples whose stages or segments change with time: the same counters and logs."""
    runs = []
    for crossings in (True, False):
        if not crossings:
            monkeypatch.setattr(engine_segments, "wakes_by_clocks", lambda c, g: False)
            monkeypatch.setattr(engine_stages, "wakes_by_clocks", lambda c, g: False)
        runs.append(
            simulate_policy(
                clmlang.load(f"specs/{spec}.clm"),
                Market(),
                customers=100,
                days=130,
                rng=np.random.default_rng(2),
                logs=True,
            )
        )
    fast, slow = runs
    for log in ("rule_events", "purchases", "messages"):
        a, b = getattr(fast.recorder, log).arrays(), getattr(slow.recorder, log).arrays()
        for key in a:
            assert np.array_equal(a[key], b[key]), (log, key)
    for key, values in fast.recorder.daily.items():
        assert np.array_equal(values, slow.recorder.daily[key]), key
    assert np.array_equal(fast.recorder.segment_counts, slow.recorder.segment_counts)
    assert np.array_equal(fast.recorder.transitions, slow.recorder.transitions)


@pytest.mark.parametrize("descending", [True, False])
def test_scores_count_the_bounds_passed(descending):
    """Recency: bounds + 1 - (bounds below the value), no value scoring 1; frequency and
    monetary: 1 + (bounds at or below the value)."""
    expr = Score.model_construct(op="score", key="x", bounds=(30.0, 60.0), descending=descending)
    values = np.array([0.0, 30.0, 30.5, 60.0, 61.0, np.nan, np.inf])
    expected = [3, 3, 2, 2, 1, 1, 1] if descending else [1, 2, 2, 3, 3, 3, 3]
    assert score(expr.bounds, expr.descending, values).tolist() == expected


_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("cached", [False, True])
def test_score_comparisons_are_tests_of_the_scored_column(descending, cached):
    """`rfm.r >= 4`, `4 < rfm.r`, `rfm.f in 2..3` and `not in`: compiled into a range of
    the scored column, they accept the rows whose score (the hand-counted lists above) does,
    NaN and inf included; with the score already in the batch's cache, from the score."""
    expr = Score.model_construct(op="score", key="x", bounds=(30.0, 60.0), descending=descending)
    values = np.array([0.0, 30.0, 30.5, 60.0, 61.0, np.nan, np.inf], dtype=np.float32)
    scores = [3, 3, 2, 2, 1, 1, 1] if descending else [1, 2, 2, 3, 3, 3, 3]

    class Batch(dict):  # a mapping with a cache, as the engine's Columns
        cache: dict

    for op, test in _OPS.items():
        for c in (0, 1, 2, 2.5, 3, 4):
            const = Const.model_construct(op="const", value=float(c))
            for left, right, flip in ((expr, const, False), (const, expr, True)):
                columns = Batch(x=values)
                columns.cache = {}
                if cached:
                    columns.cache[("score", "x", expr.bounds, descending)] = np.array(scores)
                cond = Compare.model_construct(op=op, left=left, right=right)
                want = [test(c, s) if flip else test(s, c) for s in scores]
                assert evaluate(cond, columns, values.size).tolist() == want, (op, c, flip)
    for low, high in ((1, 1), (2, 3), (1, 3), (3, 5), (4, 5)):
        for negated in (False, True):
            cond = Between.model_construct(
                op="between", arg=expr, low=float(low), high=float(high), negated=negated
            )
            want = [(low <= s <= high) != negated for s in scores]
            assert evaluate(cond, {"x": values}, values.size).tolist() == want, (low, high)


@pytest.mark.parametrize("compiled", [False, True])
def test_next_crossing_by_hand(compiled):
    """The first day after `d` a clock crosses a threshold, by kernel or numpy: `>= 30` is
    crossed on ceil(anchor + 30), `> 60` on floor(anchor + 60) + 1; a date attribute's
    clock (a fraction) wakes the day before too; no anchor (NaN), no day."""
    from types import SimpleNamespace

    from clmlang.simulation.engine.wakeups import next_crossing

    last = np.array([0.0, 10.0, 45.0, np.nan, 100.0], dtype=np.float32)
    date = np.array([0.5, 10.25, 45.0, np.nan, 2.5])
    state = SimpleNamespace(last_day=last, attributes={"birth": date})
    sim = SimpleNamespace(state=state, compiled=compiled)
    ids = np.arange(5)
    clock = {"days_since_purchase": (np.array([30.0, 60.0]), np.array([False, True]))}
    # anchors 0, 10, 45, -, 100 on day 40: 30 crossed on 30 (past), 61; 40 (past), 71; 75;
    # none; 130
    assert next_crossing(sim, clock, ids, 40).tolist() == [61.0, 71.0, 75.0, np.inf, 130.0]
    dated = {"days_since:birth": (np.array([30.0]), np.array([False]))}
    # t = 30.5, 40.25, 75, -, 32.5 on day 29: ceil 31, 41, 75, -, 33; and the floors 30, 40
    assert next_crossing(sim, dated, ids, 29).tolist() == [30.0, 40.0, 75.0, np.inf, 32.0]
