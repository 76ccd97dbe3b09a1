"""Conditions as a typed expression IR, evaluated over many customers at once.

A condition in a spec (`purchases in 3..7 and days_since_purchase >= 60 days`) is lowered
to IR nodes that name *columns* of customer state (`purchases`, `days_since_purchase`,
`owns:facial`, `messages:sms:30`). `evaluate` computes the condition for every row of a
set of columns with numpy: no per-customer Python, no `eval` of user text.

Column keys:
- built-in fields: `vocabulary.FIELDS[name].column` (`stage`, `last_product` and `audience`
  hold integer codes: the index of the stage, product or audience in the spec, -1 for none);
- `owns:P`, `owns_line:L`, `subscribed:P`, `unsubscribed:C`: booleans;
- `purchases:P`, `purchases_line:L`: days on which the customer bought P (a product of L);
  `days_since_purchase:P`, `days_since_purchase_line:L`: days since the last of them;
- `events:E`, `days_since_event:E`: a behavioural event's count since the run began, and the
  days since the last one;
- `messages:D` and `messages:C:D`: messages received in the last D days (on channel C);
- `days_since:A`: days since the date attribute A; `attr:A`: any other attribute;
- `p_alive`, `expected_purchases:D`, `predicted_value:D`: the buying model's predictions
  (`core.predictions`) from the customer's purchases, first and last purchase days and spend.
Missing values are NaN: any comparison with a missing value is false.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import syntax as s
from .evaluation import evaluate
from .symbols import Symbols
from .vocabulary import FIELDS, product_column

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
    "column_label",
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


def lower(expr: s.Expr, symbols: Symbols) -> Expr:
    """Lower a syntax expression to IR. Segments are inlined; names must already be checked.

    Each condition of a spec is lowered once: the checker and the compiler share the result
    through the symbol table (syntax nodes are immutable, so their identity is a fair key).
    """
    memo = symbols.lowered
    key = id(expr)
    hit = memo.get(key)
    if hit is not None and hit[0] is expr:
        return hit[1]
    result = _lower(expr, symbols, ())
    memo[key] = (expr, result)
    return result


def _lower(expr: s.Expr, symbols: Symbols, segments: tuple[str, ...]) -> Expr:
    kind = type(expr)
    if kind is s.Quantity:
        return _const(quantity_value(expr))  # type: ignore[arg-type]
    if kind is s.StringLiteral or kind is s.BoolLiteral:
        return _const(expr.value)  # type: ignore[union-attr]
    if kind is s.Ref:
        return _lower_ref(expr, symbols, segments)  # type: ignore[arg-type]
    if kind is s.Call:
        return Column.model_construct(op="column", key=_call_key(expr))  # type: ignore[arg-type]
    if kind is s.FieldOf:
        key = product_column(expr.field.text, expr.target.text, expr.line)  # type: ignore[union-attr]
        return Column.model_construct(op="column", key=key)
    if kind is s.Neg or kind is s.Not:
        op = "neg" if kind is s.Neg else "not"
        return Unary.model_construct(op=op, arg=_lower(expr.operand, symbols, segments))  # type: ignore[union-attr]
    if kind is s.BinaryOp or kind is s.Compare:
        model = Binary if kind is s.BinaryOp else Compare
        return model.model_construct(
            op=expr.op,  # type: ignore[union-attr]
            left=_lower(expr.left, symbols, segments),  # type: ignore[union-attr]
            right=_lower(expr.right, symbols, segments),  # type: ignore[union-attr]
        )
    if kind is s.InRange:
        rng = expr.range  # type: ignore[union-attr]
        return Between.model_construct(
            op="between",
            arg=_lower(expr.operand, symbols, segments),  # type: ignore[union-attr]
            low=quantity_value(rng.low),
            high=quantity_value(rng.high),
            negated=expr.negated,  # type: ignore[union-attr]
        )
    if kind is s.Is:
        code = _enum_code(expr.operand, expr.name, symbols)  # type: ignore[union-attr]
        return Compare.model_construct(
            op="!=" if expr.negated else "==",  # type: ignore[union-attr]
            left=_lower(expr.operand, symbols, segments),  # type: ignore[union-attr]
            right=_const(float(code)),
        )
    if kind is s.BoolOp:
        args = tuple(_lower(o, symbols, segments) for o in expr.operands)  # type: ignore[union-attr]
        return Logic.model_construct(op=expr.op, args=args)  # type: ignore[union-attr]
    raise LoweringError(f"cannot lower {kind.__name__}", getattr(expr, "span", None))


def _const(value: float | bool | str) -> Const:
    # Values come from the parser, already of the right type: no need to validate again.
    return Const.model_construct(op="const", value=value)


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
        return Score.model_construct(op="score", key=key, bounds=bounds, descending=descending)
    if name in FIELDS:
        return Column.model_construct(op="column", key=FIELDS[name].column)
    if name in symbols.attributes:
        return Column.model_construct(op="column", key=f"attr:{name}")
    if name in symbols.segments:
        if name in segments:
            raise LoweringError(f"segment `{name}` is defined in terms of itself", ref.span)
        return _lower(symbols.segments[name].condition, symbols, (*segments, name))
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


def column_label(key: str) -> str:
    """A column key as the spec writes it: `owns_line:cars` is `owns(line cars)`,
    `attr:need` is `need`, `messages:sms:30` is `messages(sms, 30 days)`."""
    kind, _, rest = key.partition(":")
    if not rest:
        return key
    if kind == "attr":
        return rest
    if kind == "owns_line":
        return f"owns(line {rest})"
    if kind.removesuffix("_line") in ("purchases", "days_since_purchase"):
        line = "line " if kind.endswith("_line") else ""
        return f"{kind.removesuffix('_line')} of {line}{rest}"
    if kind in ("expected_purchases", "predicted_value"):
        return f"{kind}({rest} days)"
    if kind in ("events", "days_since_event"):
        return f"{kind} of {rest}"
    if kind == "messages":
        *channel, days = rest.split(":")
        return f"messages({', '.join([*channel, f'{days} days'])})"
    return f"{kind}({rest})"


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
