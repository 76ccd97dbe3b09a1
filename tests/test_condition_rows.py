"""The compiled conditions (language/evaluation.py: closures, RFM score comparisons as range
tests of the scored column, parts shared between conditions kept per batch) against a
row-by-row reading of the IR written here in plain Python, for every condition of every
shipped spec, on random columns with missing values, infinities and float32 clocks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import clmlang
from clmlang.language.conditions import evaluate, required_columns

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.clm"))
VALUES = [0, 1, 2, 3, 5, 8, 12, 29.5, 30, 31, 59, 60, 61, 90, 120, 240, 365, 500, 1e9]


def _row(expr, row: dict):
    """One row's value of `expr`: a bool for conditions, a float (or text) otherwise."""
    op = expr.op
    if op == "const":
        return expr.value
    if op == "column":
        return row[expr.key]
    if op == "score":
        value = row[expr.key]
        passed = sum(
            1
            for b in expr.bounds
            if math.isnan(value) or (value > b if expr.descending else value >= b)
        )
        return len(expr.bounds) + 1 - passed if expr.descending else 1 + passed
    if op in ("and", "or"):
        parts = [_truth(_row(a, row)) for a in expr.args]
        return all(parts) if op == "and" else any(parts)
    if op == "not":
        return not _truth(_row(expr.arg, row))
    if op == "neg":
        return -_row(expr.arg, row)
    if op == "between":
        value = float(_row(expr.arg, row))
        if math.isnan(value):
            return False
        return (expr.low <= value <= expr.high) != expr.negated
    left, right = _row(expr.left, row), _row(expr.right, row)
    if op in ("+", "-", "*", "/"):
        left, right = np.float64(left), np.float64(right)
        with np.errstate(divide="ignore", invalid="ignore"):  # IEEE: x / 0 is inf or NaN
            return {"+": left + right, "-": left - right, "*": left * right, "/": left / right}[op]
    if _missing(left) or _missing(right):  # any comparison with a missing value is false
        return False
    return {
        ">=": left >= right,
        "<=": left <= right,
        "==": left == right,
        "!=": left != right,
        ">": left > right,
        "<": left < right,
    }[op]


def _missing(value) -> bool:
    return value == "" if isinstance(value, str) else math.isnan(float(value))


def _truth(value) -> bool:
    return bool(value) if isinstance(value, bool | str) else not math.isnan(value) and value != 0


def _texts(expr, found: set[str]) -> set[str]:
    """The columns compared with text."""
    if expr.op in (">=", "<=", "==", "!=", ">", "<"):
        for a, b in ((expr.left, expr.right), (expr.right, expr.left)):
            if a.op == "column" and b.op == "const" and isinstance(b.value, str):
                found.add(a.key)
    for name in ("left", "right", "arg"):
        if hasattr(expr, name):
            _texts(getattr(expr, name), found)
    for a in getattr(expr, "args", None) or ():
        _texts(a, found)
    return found


class Batch(dict):
    """Columns with a cache, as the engine's: parts and scores are kept in it."""

    def __init__(self, columns: dict):
        super().__init__(columns)
        self.cache: dict = {}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_condition_row_by_row(spec):
    policy = clmlang.load(spec)
    conditions = [s.condition for s in policy.stages] + [s.condition for s in policy.segments]
    conditions += [r.eligible for r in policy.rules if r.eligible is not None]
    rng = np.random.default_rng(7)
    n = 60
    for expr in conditions:
        texts = _texts(expr, set())
        columns = {}
        for key in required_columns(expr):
            if key in texts:
                columns[key] = rng.choice(np.array(["", "premium", "basic"], dtype=object), n)
                continue
            values = rng.choice(np.array([*VALUES, math.nan, math.inf], dtype=float), n)
            columns[key] = values.astype(np.float32) if key.startswith("days") else values
        rows = [{key: col[i] for key, col in columns.items()} for i in range(n)]
        want = [_truth(_row(expr, row)) for row in rows]
        batch = Batch(columns)
        for _ in range(2):  # the second time from the batch's cache
            got = evaluate(expr, batch, n)
            assert got.dtype == bool and got.tolist() == want, expr
        assert evaluate(expr, columns, n).tolist() == want, expr


@pytest.mark.parametrize("compiled", [False, True])
def test_messages_in_a_window_by_kernel_or_numpy(compiled):
    """messages(D): a customer's messages on days after today - D among their last 16,
    counted by hand here; the kernel and the numpy twin, for ids in any order, repeated."""
    from types import SimpleNamespace

    from clmlang.simulation.engine.columns import RING, MessageLog

    log = MessageLog(SimpleNamespace(columns=["messages:sms:7"]), 4)
    sent = {0: [0, 3, 9, 10], 1: list(range(0, 30, 2)) + list(range(30, 40)), 2: [], 3: [39]}
    for day in range(40):
        who = np.array([c for c, days in sent.items() if day in days], dtype=np.int64)
        log.record("sms", who, day)
    ids = np.array([3, 1, 0, 2, 1])
    for today in (0, 10, 39, 45):
        for window in (0.5, 1.0, 7.0, 7.5, 40.0, np.inf):
            got = log.count("sms", ids, today, window, compiled)
            want = [sum(today - window < d for d in sent[c][-RING:]) for c in ids]
            assert got.dtype == np.float64 and got.tolist() == want, (today, window)
