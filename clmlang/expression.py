"""Conditions as a typed expression IR, evaluated over many customers at once.

A condition in a spec (`purchases in 3..7 and days_since_purchase >= 60 days`) is lowered
to IR nodes that name *columns* of customer state (`purchases`, `days_since_purchase`,
`owns:facial`, `messages:sms:30`). `evaluate` computes the condition for every row of a
set of columns with numpy: no per-customer Python, no `eval` of user text.

Column keys:
- built-in fields: `vocabulary.FIELDS[name].column` (`stage`, `last_product` and `audience`
  hold integer codes: the index of the stage, product or audience in the spec, -1 for none);
- `owns:P`, `owns_line:L`, `subscribed:P`, `unsubscribed:C`: booleans;
- `messages:D` and `messages:C:D`: messages received in the last D days (on channel C);
- `days_since:A`: days since the date attribute A; `attr:A`: any other attribute.
Missing values are NaN: any comparison with a missing value is false.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from . import syntax as s
from .symbols import Symbols
from .vocabulary import FIELDS

__all__ = [
    "Between",
    "Binary",
    "Column",
    "Compare",
    "Const",
    "Expr",
    "Logic",
    "LoweringError",
    "Score",
    "Unary",
    "evaluate",
    "lower",
    "required_columns",
]


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Const(_Node):
    """A constant: durations in days, money in the program currency, percent as a fraction."""

    op: Literal["const"] = "const"
    value: float | bool | str


class Column(_Node):
    """A column of customer state, by key (see the module docstring)."""

    op: Literal["column"] = "column"
    key: str


class Score(_Node):
    """An RFM score 1..len(bounds)+1 of a column, from fixed ascending boundaries.

    Ascending (frequency, monetary): 1 + number of bounds <= value.
    Descending (recency): len(bounds) + 1 - number of bounds < value; no purchase scores 1.
    """

    op: Literal["score"] = "score"
    key: str
    bounds: tuple[float, ...]
    descending: bool


class Unary(_Node):
    op: Literal["neg", "not"]
    arg: Expr


class Binary(_Node):
    op: Literal["+", "-", "*", "/"]
    left: Expr
    right: Expr


class Compare(_Node):
    op: Literal[">=", "<=", "==", "!=", ">", "<"]
    left: Expr
    right: Expr


class Between(_Node):
    """`arg in low..high`, both ends included; `negated` for `not in`."""

    op: Literal["between"] = "between"
    arg: Expr
    low: float
    high: float
    negated: bool = False


class Logic(_Node):
    op: Literal["and", "or"]
    args: tuple[Expr, ...]


Expr = Annotated[
    Const | Column | Score | Unary | Binary | Compare | Between | Logic,
    Field(discriminator="op"),
]

for _model in (Unary, Binary, Compare, Between, Logic):
    _model.model_rebuild()


class LoweringError(Exception):
    """A name the lowering cannot resolve; the checker reports these before compiling."""

    def __init__(self, message: str, span: object):
        super().__init__(message)
        self.span = span


# ---- lowering -------------------------------------------------------------------------


def _days_key(days: float) -> str:
    return f"{days:g}"


def quantity_value(q: s.Quantity) -> float:
    """A quantity in base units: days for durations, a fraction for percent, else as written."""
    if q.unit.is_duration:
        return q.days
    if q.unit is s.Unit.PERCENT:
        return q.value / 100.0
    return q.value


def lower(expr: s.Expr, symbols: Symbols, _segments: tuple[str, ...] = ()) -> Expr:
    """Lower a syntax expression to IR. Segments are inlined; names must already be checked."""
    match expr:
        case s.Quantity():
            return Const(value=quantity_value(expr))
        case s.StringLiteral(value=value):
            return Const(value=value)
        case s.BoolLiteral(value=value):
            return Const(value=value)
        case s.Ref():
            return _lower_ref(expr, symbols, _segments)
        case s.Call():
            return Column(key=_call_key(expr))
        case s.Neg(operand=operand):
            return Unary(op="neg", arg=lower(operand, symbols, _segments))
        case s.Not(operand=operand):
            return Unary(op="not", arg=lower(operand, symbols, _segments))
        case s.BinaryOp(op=op, left=left, right=right):
            return Binary(
                op=op, left=lower(left, symbols, _segments), right=lower(right, symbols, _segments)
            )
        case s.Compare(op=op, left=left, right=right):
            return Compare(
                op=op, left=lower(left, symbols, _segments), right=lower(right, symbols, _segments)
            )
        case s.InRange(operand=operand, range=rng, negated=negated):
            return Between(
                arg=lower(operand, symbols, _segments),
                low=quantity_value(rng.low),
                high=quantity_value(rng.high),
                negated=negated,
            )
        case s.Is(operand=operand, name=name, negated=negated):
            code = _enum_code(operand, name, symbols)
            return Compare(
                op="!=" if negated else "==",
                left=lower(operand, symbols, _segments),
                right=Const(value=float(code)),
            )
        case s.BoolOp(op=op, operands=operands):
            return Logic(op=op, args=tuple(lower(o, symbols, _segments) for o in operands))
    raise LoweringError(f"cannot lower {type(expr).__name__}", getattr(expr, "span", None))


_RFM = {"rfm.r": ("days_since_purchase", True), "rfm.f": ("purchases", False)}
_RFM["rfm.m"] = ("total_spent", False)
_RFM_AXIS = {"rfm.r": "recency", "rfm.f": "frequency", "rfm.m": "monetary"}


def _lower_ref(ref: s.Ref, symbols: Symbols, segments: tuple[str, ...]) -> Expr:
    name = ref.dotted
    if name in _RFM:
        axis = next(
            (a for a in (symbols.rfm.axes if symbols.rfm else ()) if a.axis == _RFM_AXIS[name]),
            None,
        )
        if axis is None:
            raise LoweringError(f"`{name}` needs an `rfm` block", ref.span)
        key, descending = _RFM[name]
        bounds = tuple(quantity_value(b) for b in axis.bounds)
        return Score(key=key, bounds=bounds, descending=descending)
    if name in FIELDS:
        return Column(key=FIELDS[name].column)
    if name in symbols.attributes:
        return Column(key=f"attr:{name}")
    if name in symbols.segments:
        if name in segments:
            raise LoweringError(f"segment `{name}` is defined in terms of itself", ref.span)
        return lower(symbols.segments[name].condition, symbols, (*segments, name))
    raise LoweringError(f"unknown name `{name}`", ref.span)


def _call_key(call: s.Call) -> str:
    fn = call.function.text
    parts: list[str] = []
    for arg in call.args:
        match arg:
            case s.LineArgument(line=line):
                fn = "owns_line" if fn == "owns" else fn
                parts.append(line.text)
            case s.Ref():
                parts.append(arg.dotted)
            case s.Quantity():
                parts.append(_days_key(quantity_value(arg)))
            case _:
                raise LoweringError(f"unexpected argument to `{fn}`", arg.span)
    return ":".join([fn, *parts])


def _enum_code(operand: s.Expr, name: s.Name, symbols: Symbols) -> int:
    field = operand.dotted if isinstance(operand, s.Ref) else ""
    tables = {
        "stage": symbols.stages,
        "previous_stage": symbols.stages,
        "last_product": symbols.products,
        "audience": symbols.audiences,
    }
    table = tables.get(field)
    if table is None or name.text not in table:
        raise LoweringError(f"`{field} is {name.text}` does not name a known value", name.span)
    return list(table).index(name.text)


# ---- evaluation -----------------------------------------------------------------------


def required_columns(expr: Expr) -> set[str]:
    """The state columns an expression reads."""
    found: set[str] = set()
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        op = node.op
        if op in ("column", "score"):
            found.add(node.key)  # type: ignore[union-attr]
        elif op in ("neg", "not", "between"):
            stack.append(node.arg)  # type: ignore[union-attr]
        elif op in ("and", "or"):
            stack.extend(node.args)  # type: ignore[union-attr]
        elif op != "const":
            stack.append(node.left)  # type: ignore[union-attr]
            stack.append(node.right)  # type: ignore[union-attr]
    return found


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
    if values.dtype.kind == "f":
        return np.isnan(values)
    return False


def evaluate(expr: Expr, columns: Mapping[str, np.ndarray], rows: int | None = None) -> np.ndarray:
    """Evaluate `expr` for every row of `columns`; booleans for conditions, floats otherwise."""
    if rows is None:
        rows = len(next(iter(columns.values()))) if columns else 1
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.asarray(_eval(expr, columns))
    if result.shape != (rows,):
        result = np.broadcast_to(result, (rows,)).copy()
    return result


def _eval(expr: Expr, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    match expr:
        case Const(value=value):
            return np.asarray(value)
        case Column(key=key):
            return np.asarray(columns[key])
        case Score(key=key, bounds=bounds, descending=descending):
            values = np.asarray(columns[key], dtype=float)
            edges = np.asarray(bounds)
            if descending:
                return len(edges) + 1 - np.searchsorted(edges, values, side="left")
            return 1 + np.searchsorted(edges, values, side="right")
        case Unary(op="neg", arg=arg):
            return -_eval(arg, columns)
        case Unary(op="not", arg=arg):
            return ~_eval(arg, columns).astype(bool)
        case Binary(op=op, left=left, right=right):
            return _ARITH[op](
                _eval(left, columns).astype(float), _eval(right, columns).astype(float)
            )
        case Compare(op=op, left=left, right=right):
            a, b = _eval(left, columns), _eval(right, columns)
            return _COMPARE[op](a, b) & ~(_missing(a) | _missing(b))
        case Between(arg=arg, low=low, high=high, negated=negated):
            values = _eval(arg, columns).astype(float)
            inside = (values >= low) & (values <= high)
            return (~inside if negated else inside) & ~np.isnan(values)
        case Logic(op="and", args=args):
            return np.logical_and.reduce([_eval(a, columns).astype(bool) for a in args])
        case Logic(op="or", args=args):
            return np.logical_or.reduce([_eval(a, columns).astype(bool) for a in args])
    raise TypeError(f"not an expression: {expr!r}")
