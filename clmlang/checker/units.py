"""The units of values in conditions: which combine under arithmetic, and hints that fix them.

A value in a condition is a bare number (a literal written without a unit, `3`), a count
(`purchases`, `messages(...)`, a `number` attribute), a duration or money. A bare number adapts
to whatever it meets; the others must meet their own kind.
"""

from __future__ import annotations

from .. import syntax as s
from ..vocabulary import Type
from .context import Context

__all__ = ["NUMBER", "NUMERIC", "arithmetic_type", "unit_hint", "word"]

# The type of a bare number: it adapts to counts, durations and money. Its value must differ
# from every `Type` value: `Type` is a StrEnum, so "number" would be equal to `Type.COUNT`, and
# a count field would then adapt like a bare number (`purchases >= 3 days` would pass).
NUMBER = "bare number"
NUMERIC = {Type.COUNT, Type.DURATION, Type.MONEY, NUMBER}
_WORDS = {
    Type.BOOL: "a condition",
    Type.COUNT: "a number",
    Type.DURATION: "a duration",
    Type.MONEY: "money",
    Type.PERCENT: "a percentage",
    Type.TEXT: "text",
    Type.DATE: "a date",
    Type.STAGE: "a stage",
    Type.PRODUCT: "a product",
    Type.AUDIENCE: "an audience",
    NUMBER: "a number",
}

Side = tuple[s.Expr | s.Range, Type | str | None]  # a side of an operation and its type


def word(t: Type | str | None) -> str:
    """A type as a message names it: "a duration", "money"."""
    return _WORDS.get(t, "a value") if t is not None else "a value"  # type: ignore[call-overload]


def arithmetic_type(ctx: Context, expr: s.BinaryOp, op: str, a, b):  # type: ignore[no-untyped-def]
    """The type of `a op b`, reporting CLM110 when the units do not combine; None then."""
    if a is None or b is None:
        return None
    for t in (a, b):
        if t not in NUMERIC:
            ctx.error("CLM110", f"`{op}` needs numbers, but this has {word(t)}", expr.span)
            return None
    units = {t for t in (a, b) if t in (Type.DURATION, Type.MONEY)}
    if len(units) > 1:
        ctx.error("CLM110", "this mixes a duration with money", expr.span)
        return None
    if units and op in ("*", "/") and a == b:
        return NUMBER  # a ratio of two amounts
    return units.pop() if units else (Type.COUNT if Type.COUNT in (a, b) else NUMBER)


def unit_hint(ctx: Context, op: str, left: Side, right: Side) -> str | None:
    """The comparison rewritten in the unit of its field, when one side is a written value.

    `purchases >= 3 days` gives "`purchases` is a number, not a duration: write
    `purchases >= 3`". None when both sides are values or both are fields: then there is no
    telling which one is meant.
    """
    if _is_value(right[0]) == _is_value(left[0]):
        return None
    (field, t), (value, other) = (left, right) if _is_value(right[0]) else (right, left)
    name = _text(ctx, field)
    fixed = _in_unit(value, t)
    if not name or not fixed:
        return None
    written = f"{name} {op} {fixed}" if field is left[0] else f"{fixed} {op} {name}"
    return f"`{name}` is {word(t)}, not {word(other)}: write `{written}`"


def _is_value(node: s.Expr | s.Range) -> bool:
    """A number as written, with or without its unit: `3 days`, `-3`, `1..3 USD`."""
    if isinstance(node, s.Neg):
        return _is_value(node.operand)
    return isinstance(node, s.Quantity | s.Range)


def _text(ctx: Context, node: s.Expr | s.Range) -> str | None:
    """How a side of a comparison is written, on one line."""
    if isinstance(node, s.Ref):
        return node.dotted
    source = ctx.spec.sources.get(node.span.file)
    if source is None:
        return None
    text = " ".join(source.text[node.span.start : node.span.end].split())
    return text.replace("( ", "(").replace(" )", ")") or None


def _in_unit(value: s.Expr | s.Range, t: Type | str) -> str | None:
    """A written value with its number kept and the unit of `t`: `3 days` as a count is `3`."""
    match value:
        case s.Neg(operand=operand):
            inner = _in_unit(operand, t)
            return f"-{inner}" if inner else None
        case s.Range(low=low, high=high) if low.text and high.text:
            return _with_unit(f"{low.text}..{high.text}", high.text, t)
        case s.Quantity(text=text) if text:
            return _with_unit(text, text, t)
    return None


def _with_unit(written: str, last: str, t: Type | str) -> str | None:
    if t is Type.DURATION:
        return f"{written} {'day' if last == '1' else 'days'}"
    if t in (Type.COUNT, Type.MONEY):
        return written  # money without a code is in the program currency
    return None
