"""The units of values in conditions: which combine under arithmetic, and hints that fix them.

A value in a condition is a bare number (a literal written without a unit, `3`), a count
(`purchases`, `messages(...)`, a `number` attribute), a duration or money. A bare number adapts
to whatever it meets; the others must meet their own kind.
"""

from __future__ import annotations

from ..language import syntax as s
from ..language.vocabulary import Type
from .context import Context

__all__ = ["NUMBER", "NUMERIC", "Side", "arithmetic_type", "combine", "unit_hint", "word"]

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


def arithmetic_type(ctx: Context, expr: s.BinaryOp, left: Side, right: Side) -> Type | str | None:
    """The type of `left op right`, reporting CLM110 when the units do not combine; None then."""
    a, b = left[1], right[1]
    if a is None or b is None:
        return None
    for node, t in (left, right):
        if t not in NUMERIC:
            hint = _fraction_hint(node) if t is Type.PERCENT else None
            ctx.error(
                "CLM110", f"`{expr.op}` needs numbers, but this has {word(t)}", expr.span, hint
            )
            return None
    result = combine(expr.op, a, b)
    if result is None:
        ctx.error(
            "CLM110",
            _DOING[expr.op].format(a=word(a), b=word(b)),
            expr.span,
            _arithmetic_hint(ctx, expr.op, left, right),
        )
    return result


_SCALARS = (NUMBER, Type.COUNT)  # what scales an amount without changing its unit
_DOING = {
    "+": "this adds {b} to {a}",
    "-": "this subtracts {b} from {a}",
    "*": "this multiplies {a} by {b}",
    "/": "this divides {a} by {b}",
}


def combine(op: str, a: Type | str, b: Type | str) -> Type | str | None:
    """The unit of `a op b` for two numeric types, or None when it has none.

    `+ -`: one unit on both sides, a bare number taking the other's. `*`: an amount (a
    duration, money) times a bare number or a count keeps its unit; two amounts have no
    product. `/`: an amount divided by a bare number or a count keeps its unit, by an amount
    of its own unit is a ratio (a count: a plain number that no longer adapts); anything
    divided by an amount of another unit is not a value the language has.
    """
    if op in ("+", "-"):
        if a == b or b == NUMBER:
            return a
        return b if a == NUMBER else None
    if op == "*":
        if a in _SCALARS and b in _SCALARS:
            return NUMBER if a == b == NUMBER else Type.COUNT
        if a in _SCALARS or b in _SCALARS:
            return b if a in _SCALARS else a
        return None
    if b in _SCALARS:
        if a in _SCALARS:
            return NUMBER if a == b == NUMBER else Type.COUNT
        return a
    return Type.COUNT if a == b else None


def _arithmetic_hint(ctx: Context, op: str, left: Side, right: Side) -> str:
    """Why the operation has no unit, and how to fix it: the written value in a unit that fits.

    `purchases + 3 days` gives "`purchases` is a number and `3 days` a duration: they cannot
    be added; write `purchases + 3`".
    """
    (lnode, a), (rnode, b) = left, right
    lt, rt = _text(ctx, lnode), _text(ctx, rnode)
    facts = f"`{lt}` is {word(a)} and `{rt}` {word(b)}: " if lt and rt else ""
    why = {
        "+": "they cannot be added",
        "-": "one cannot be subtracted from the other",
        "*": "they cannot be multiplied",
        "/": f"{word(a)} cannot be divided by {word(b)}",
    }[op]
    fix = None
    if op in ("+", "-"):
        fix = _rewrite(ctx, op, left, right, None)
    elif op == "*":
        fix = _rewrite(ctx, op, left, right, Type.COUNT)
        fix = fix or f"multiply {word(a)} only by a number or a count"
    elif a in _SCALARS:
        above, below = _operand(ctx, rnode, op, False), _operand(ctx, lnode, op, True)
        fix = f"divide the other way round: `{above} / {below}` is {word(b)}" if lt and rt else None
    else:
        if _is_value(rnode) and not _is_value(lnode):
            fix = _rewrite(ctx, op, left, right, Type.COUNT)
        fix = fix or f"divide {word(a)} by a number or a count, or by {word(a)} for a ratio"
    return f"{facts}{why}; {fix}" if fix else f"{facts}{why}"


def _rewrite(ctx: Context, op: str, left: Side, right: Side, unit: Type | None) -> str | None:
    """`write ...` with the one written value of the operation in `unit` (None: the other side's).

    None when both sides or neither are written values: then there is no telling which is meant.
    """
    if _is_value(left[0]) == _is_value(right[0]):
        return None
    (field, t), (value, _) = (left, right) if _is_value(right[0]) else (right, left)
    on_left = field is left[0]
    name, new = _operand(ctx, field, op, not on_left), _in_unit(value, unit or t)
    if not name or not new:
        return None
    return f"write `{name} {op} {new}`" if on_left else f"write `{new} {op} {name}`"


def _fraction_hint(node: s.Expr | s.Range) -> str | None:
    """A percentage in arithmetic, written as the fraction it stands for: `10%` is `0.1`."""
    if isinstance(node, s.Quantity):
        return f"a percentage is a share for clauses; in arithmetic write `{node.value / 100:g}`"
    return None


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
    if text.count("(") != text.count(")"):
        return None  # a span that ends inside parentheses, `-(a + b` of `-(a + b)`: not quotable
    return text.replace("( ", "(").replace(" )", ")") or None


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def _operand(ctx: Context, node: s.Expr | s.Range, op: str, on_right: bool) -> str | None:
    """How an operand of `op` is written, in parentheses where `op` would bind it otherwise."""
    text = _text(ctx, node)
    if text and isinstance(node, s.BinaryOp):
        inner, outer = _PRECEDENCE.get(node.op, 0), _PRECEDENCE.get(op, 0)
        if inner < outer or (on_right and inner == outer):
            return f"({text})"
    return text


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
    if t is Type.PERCENT and ".." not in written:  # a share written as a fraction, 0.3: 30%
        number = float(written.lstrip("-"))
        return f"{number * 100 if number <= 1 else number:g}%"
    return None
