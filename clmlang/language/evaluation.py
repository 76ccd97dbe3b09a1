"""Conditions evaluated over many customers at once: `evaluate` computes a lowered condition
(conditions.py) for every row of a set of columns with numpy; no per-customer Python, no
`eval` of user text. Missing values are NaN: any comparison with a missing value is false."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .conditions import Expr

__all__ = ["evaluate"]


_COMPARE = {
    ">=": np.greater_equal,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


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
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.asarray(_eval(expr, columns))
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


def _eval(expr: Expr, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    op = expr.op
    if op == "column":
        return np.asarray(columns[expr.key])  # type: ignore[union-attr]
    if op == "const":
        return np.asarray(expr.value)  # type: ignore[union-attr]
    if op in _COMPARE:
        a, b = _eval(expr.left, columns), _eval(expr.right, columns)  # type: ignore[union-attr]
        if op != "!=":  # IEEE comparisons with NaN are already false
            result = _COMPARE[op](a, b)
        else:
            result = np.not_equal(a, b) & ~(_missing(a) | _missing(b))
        return result if result.dtype == bool else result.astype(bool)  # text columns: objects
    if op == "and" or op == "or":
        parts = [_truth(_eval(a, columns)) for a in expr.args]  # type: ignore[union-attr]
        return (np.logical_and if op == "and" else np.logical_or).reduce(parts)
    if op == "between":
        values = _eval(expr.arg, columns).astype(float)  # type: ignore[union-attr]
        inside = (values >= expr.low) & (values <= expr.high)  # type: ignore[union-attr]
        return (~inside if expr.negated else inside) & ~np.isnan(values)  # type: ignore[union-attr]
    if op == "not":
        return ~_truth(_eval(expr.arg, columns))  # type: ignore[union-attr]
    if op == "neg":
        return -_eval(expr.arg, columns)  # type: ignore[union-attr]
    if op in _ARITH:
        left = _eval(expr.left, columns).astype(float)  # type: ignore[union-attr]
        return _ARITH[op](left, _eval(expr.right, columns).astype(float))  # type: ignore[union-attr]
    if op == "score":
        # a mapping with a `cache` (the engine's Columns) keeps each score once per batch:
        # RFM segments read the same three scores many times over
        cache = getattr(columns, "cache", None)
        key = ("score", expr.key, expr.bounds, expr.descending)  # type: ignore[union-attr]
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            hit = _score(expr, np.asarray(columns[expr.key], dtype=float))  # type: ignore[union-attr]
            if cache is not None:
                cache[key] = hit
        return hit
    raise TypeError(f"not an expression: {expr!r}")


def _score(expr: Expr, values: np.ndarray) -> np.ndarray:
    """An RFM score by counting the bounds each value passes, one comparison per bound (a
    binary search of a few bounds mispredicts a branch per value: several times slower). No
    value (NaN) passes every bound, where a binary search places it: recency 1."""
    bounds: tuple[float, ...] = expr.bounds  # type: ignore[union-attr]
    values = np.where(np.isnan(values), np.inf, values)
    passed = np.zeros(values.shape, dtype=np.int8 if len(bounds) < 127 else np.intp)
    for bound in bounds:
        # descending (recency): bounds < value; ascending: bounds <= value
        hit = values > bound if expr.descending else values >= bound  # type: ignore[union-attr]
        passed += hit.view(np.int8) if passed.dtype == np.int8 else hit
    passed = passed.astype(np.intp)  # the dtype of a binary search's positions
    if expr.descending:  # type: ignore[union-attr]
        return len(bounds) + 1 - passed
    return 1 + passed
