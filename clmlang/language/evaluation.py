"""Conditions evaluated over many customers at once: `evaluate` computes a lowered condition
(conditions.py) for every row of a set of columns with numpy; no per-customer Python, no
`eval` of user text. Missing values are NaN: any comparison with a missing value is false.

Each condition is compiled once into a tree of closures (`_compile`), so that evaluating it
for a batch of rows does not walk the expression and dispatch on its operators again. An RFM
score compared with a constant (`rfm.r >= 4`, `rfm.f in 2..3`) is compiled into the range of
the scored column that gives those scores, so the score itself is only computed when a batch
reads it in another way (scores.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from .scores import score, score_test

if TYPE_CHECKING:
    from .conditions import Expr

__all__ = ["evaluate"]

Compiled = Callable[[Mapping[str, np.ndarray]], np.ndarray]

_COMPARE = {
    ">=": np.greater_equal,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
# compiled conditions by the identity of their expression (kept alive here, so an identity is
# never reused while its entry stands); cleared when it grows past _MAX
_COMPILED: dict[int, tuple[Expr, Compiled]] = {}
_MAX = 4096
# the parts of conditions by their structure: how often each occurs among the conditions
# compiled so far, and a token naming it in a batch's cache (`_part`)
_PARTS: dict[tuple, list[int]] = {}
_TOKENS = itertools.count()


def _missing(values: np.ndarray) -> np.ndarray | bool:
    """Missing values: NaN in numbers, the empty text in text attributes."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in ("O", "U"):
        return values == ""
    return False


def evaluate(expr: Expr, columns: Mapping[str, np.ndarray], rows: int | None = None) -> np.ndarray:
    """Evaluate `expr` for every row of `columns`; booleans for conditions, floats otherwise."""
    if rows is None:
        rows = len(next(iter(columns.values()))) if columns else 1
    hit = _COMPILED.get(id(expr))
    if hit is None or hit[0] is not expr:
        if len(_COMPILED) >= _MAX:
            _COMPILED.clear()
            _PARTS.clear()
        hit = _COMPILED[id(expr)] = (expr, _compile(expr))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.asarray(hit[1](columns))
    if expr.op == "column" and result.dtype != bool:  # a bare flag as the whole condition
        result = _truth(result)
    if result.shape != (rows,):
        result = np.broadcast_to(result, (rows,)).copy()
    return result


def _truth(values: np.ndarray) -> np.ndarray:
    """A value as a condition: flags are stored as 0/1 numbers, and a flag that is not known
    (NaN) is false, as every comparison with a missing value is."""
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    if values.dtype.kind == "f":
        return ~np.isnan(values) & (values != 0)
    return values.astype(bool)


def _structure(expr: Expr) -> tuple:
    """A key equal for parts that compute the same values (a constant's type included)."""
    op = expr.op
    if op == "const":
        return (op, type(expr.value).__name__, expr.value)  # type: ignore[union-attr]
    if op == "column":
        return (op, expr.key)  # type: ignore[union-attr]
    if op == "score":
        return (op, expr.key, expr.bounds, expr.descending)  # type: ignore[union-attr]
    if op == "between":
        arg = _structure(expr.arg)  # type: ignore[union-attr]
        return (op, arg, expr.low, expr.high, expr.negated)  # type: ignore[union-attr]
    if op in ("not", "neg"):
        return (op, _structure(expr.arg))  # type: ignore[union-attr]
    if op in ("and", "or"):
        return (op, *(_structure(a) for a in expr.args))  # type: ignore[union-attr]
    return (op, _structure(expr.left), _structure(expr.right))  # type: ignore[union-attr]


def _part(expr: Expr) -> Compiled:
    """A part of a condition; one that occurs more than once among the conditions compiled
    (`purchases >= 1` in six stages, `rfm.r >= 4` in several segments) is computed once per
    batch of rows and kept in the batch's cache (the engine's Columns), which lives while
    the state it reads does not change. A condition as a whole is never kept, so what
    `evaluate` returns is the caller's to change."""
    compiled = _compile(expr)
    if expr.op in ("const", "column", "score"):  # columns and scores are cached already
        return compiled
    key = _structure(expr)
    entry = _PARTS.get(key)
    if entry is None:
        entry = _PARTS[key] = [0, next(_TOKENS)]
    entry[0] += 1
    token = ("part", entry[1])

    def part(columns):
        cache = getattr(columns, "cache", None)
        if cache is None or entry[0] < 2:
            return compiled(columns)
        hit = cache.get(token)
        if hit is None:
            hit = cache[token] = compiled(columns)
        return hit

    return part


def _compile(expr: Expr) -> Compiled:
    """`expr` as a function of the columns: the same values, operation for operation, as
    walking the expression would give (arrays, or 0-d arrays for constants)."""
    op = expr.op
    if op == "column":
        key = expr.key  # type: ignore[union-attr]
        return lambda columns: np.asarray(columns[key])
    if op == "const":
        value = np.asarray(expr.value)  # type: ignore[union-attr]
        return lambda columns: value
    if op in _COMPARE:
        return _compile_compare(expr)
    if op == "and" or op == "or":
        return _compile_logic(expr)
    if op == "between":
        return _compile_between(expr)
    if op == "not":
        arg = _part(expr.arg)  # type: ignore[union-attr]
        return lambda columns: ~_truth(arg(columns))
    if op == "neg":
        arg = _part(expr.arg)  # type: ignore[union-attr]
        return lambda columns: -arg(columns)
    if op in _ARITH:
        ufunc = _ARITH[op]
        left, right = _part(expr.left), _part(expr.right)  # type: ignore[union-attr]
        return lambda columns: ufunc(left(columns).astype(float), right(columns).astype(float))
    if op == "score":
        return _compile_score(expr)
    raise TypeError(f"not an expression: {expr!r}")


def _compile_compare(expr: Expr) -> Compiled:
    op = expr.op
    left_expr, right_expr = expr.left, expr.right  # type: ignore[union-attr]
    if left_expr.op == "score" and right_expr.op == "const":
        test = _score_compare(left_expr, op, right_expr.value)
        if test is not None:
            return test
    if right_expr.op == "score" and left_expr.op == "const":
        flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}[op]
        test = _score_compare(right_expr, flipped, left_expr.value)
        if test is not None:
            return test
    left, right = _part(left_expr), _part(right_expr)
    if op != "!=":  # IEEE comparisons with NaN are already false
        ufunc = _COMPARE[op]

        def compare(columns):
            result = ufunc(left(columns), right(columns))
            return result if result.dtype == bool else result.astype(bool)  # text: objects

        return compare

    def differ(columns):
        a, b = left(columns), right(columns)
        result = np.not_equal(a, b) & ~(_missing(a) | _missing(b))
        return result if result.dtype == bool else result.astype(bool)

    return differ


def _compile_logic(expr: Expr) -> Compiled:
    parts = [_part(a) for a in expr.args]  # type: ignore[union-attr]
    both = expr.op == "and"
    reduce = (np.logical_and if both else np.logical_or).reduce

    def logic(columns):
        values = [_truth(part(columns)) for part in parts]
        first = values[0]
        if len(values) < 2 or any(v.shape != first.shape or v.ndim != 1 for v in values):
            return reduce(values)
        out = first & values[1] if both else first | values[1]  # a new array: the others
        for v in values[2:]:  # may be cached columns
            if both:
                out &= v
            else:
                out |= v
        return out

    return logic


def _compile_between(expr: Expr) -> Compiled:
    low, high, negated = expr.low, expr.high, expr.negated  # type: ignore[union-attr]
    if expr.arg.op == "score":  # type: ignore[union-attr]
        test = score_test(expr.arg, lambda s: (low <= s <= high) != negated)  # type: ignore[union-attr]
        if test is not None:
            return test
    arg = _part(expr.arg)  # type: ignore[union-attr]
    low64, high64 = np.float64(low), np.float64(high)

    def between(columns):
        values = arg(columns)
        if values.ndim == 0 or values.dtype.kind not in "fiub":
            values = values.astype(float)
            inside = (values >= low) & (values <= high)
            return (~inside if negated else inside) & ~np.isnan(values)
        # numbers compared as float64 without a copy (a float64 scalar is not "weak"); a
        # NaN is never inside, and never outside either
        inside = values >= low64
        np.logical_and(inside, values <= high64, out=inside)
        if not negated:
            return inside
        if values.dtype.kind == "f":
            np.logical_or(inside, np.isnan(values), out=inside)
        return np.logical_not(inside, out=inside)

    return between


def _score_compare(node: Expr, op: str, constant: object) -> Compiled | None:
    """`score OP constant` as a range test of the scored column (None: not a number)."""
    if not isinstance(constant, int | float) or isinstance(constant, bool):
        return None
    c = float(constant)
    accept = {
        ">=": lambda s: s >= c,
        "<=": lambda s: s <= c,
        "==": lambda s: s == c,
        "!=": lambda s: s != c,
        ">": lambda s: s > c,
        "<": lambda s: s < c,
    }[op]
    return score_test(node, accept)


def _compile_score(expr: Expr) -> Compiled:
    key, bounds, descending = expr.key, expr.bounds, expr.descending  # type: ignore[union-attr]
    cache_key = ("score", key, bounds, descending)

    def compute(columns):
        # a mapping with a `cache` (the engine's Columns) keeps each score once per batch:
        # RFM segments read the same three scores many times over
        cache = getattr(columns, "cache", None)
        hit = cache.get(cache_key) if cache is not None else None
        if hit is None:
            hit = score(bounds, descending, np.asarray(columns[key], dtype=float))
            if cache is not None:
                cache[cache_key] = hit
        return hit

    return compute
