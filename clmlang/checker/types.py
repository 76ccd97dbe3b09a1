"""Names and types in conditions: unknown fields, wrong kinds of names, unit mistakes.

Every condition is typed bottom-up. A bare number adapts to whatever it is compared with;
a duration, money or percent written with its unit must meet the same kind of value, so a
count (`purchases`, `messages(...)`, a number attribute) meets only bare numbers and counts.
"""

from __future__ import annotations

from .. import syntax as s
from ..vocabulary import ATTRIBUTE_TYPES, FIELDS, FUNCTIONS, Type
from .context import Context, suggest

__all__ = ["check_condition", "type_of"]

# The type of a bare number: it adapts to counts, durations and money. Its value must differ
# from every `Type` value: `Type` is a StrEnum, so "number" would be equal to `Type.COUNT`, and
# a count field would then adapt like a bare number (`purchases >= 3 days` would pass).
NUMBER = "bare number"
_NUMERIC = {Type.COUNT, Type.DURATION, Type.MONEY, NUMBER}
_ENUMS = {
    "stage": "stage",
    "previous_stage": "stage",
    "last_product": "product",
    "audience": "audience",
}
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


def _word(t: Type | str | None) -> str:
    return _WORDS.get(t, "a value") if t is not None else "a value"  # type: ignore[call-overload]


def check_condition(ctx: Context, expr: s.Expr, where: str) -> None:
    """Type a condition and require it to be true-or-false."""
    t = type_of(ctx, expr)
    if t is not None and t is not Type.BOOL:
        ctx.error(
            "CLM110",
            f"{where} must be a condition, but this is {_word(t)}",
            expr.span,
            "compare it with something, e.g. `purchases >= 3`",
        )


def type_of(ctx: Context, expr: s.Expr) -> Type | str | None:
    """The type of an expression, reporting what is wrong inside; None when unknown."""
    match expr:
        case s.Quantity():
            return _quantity_type(ctx, expr)
        case s.StringLiteral():
            return Type.TEXT
        case s.BoolLiteral():
            return Type.BOOL
        case s.Ref():
            return _ref_type(ctx, expr)
        case s.Call():
            return _call_type(ctx, expr)
        case s.Neg(operand=operand):
            t = type_of(ctx, operand)
            if t is not None and t not in _NUMERIC:
                ctx.error("CLM110", f"cannot negate {_word(t)}", expr.span)
                return None
            return t
        case s.BinaryOp(op=op, left=left, right=right):
            return _arith_type(ctx, expr, op, type_of(ctx, left), type_of(ctx, right))
        case s.Compare(op=op, left=left, right=right):
            _compare(ctx, expr, op, (left, type_of(ctx, left)), (right, type_of(ctx, right)))
            return Type.BOOL
        case s.InRange(operand=operand, range=rng, negated=negated):
            t = type_of(ctx, operand)
            op = "not in" if negated else "in"
            for end in (rng.low, rng.high):
                _compare(ctx, expr, op, (operand, t), (rng, _quantity_type(ctx, end)))
            if rng.low.value > rng.high.value:
                ctx.error(
                    "CLM111",
                    f"the range {rng.low.text}..{rng.high.text} is empty",
                    rng.span,
                    "write the smaller end first",
                )
            return Type.BOOL
        case s.Is(operand=operand, name=name):
            _is(ctx, operand, name)
            return Type.BOOL
        case s.Not(operand=operand):
            _need_bool(ctx, operand, "`not`")
            return Type.BOOL
        case s.BoolOp(op=op, operands=operands):
            for operand in operands:
                _need_bool(ctx, operand, f"`{op}`")
            return Type.BOOL
    return None


def _need_bool(ctx: Context, expr: s.Expr, what: str) -> None:
    t = type_of(ctx, expr)
    if t is not None and t is not Type.BOOL:
        ctx.error(
            "CLM110",
            f"{what} needs conditions on both sides, but this is {_word(t)}",
            expr.span,
            "compare it with something, e.g. `purchases >= 3`",
        )


def _quantity_type(ctx: Context, q: s.Quantity) -> Type | str:
    if q.unit.is_duration:
        return Type.DURATION
    if q.unit is s.Unit.PERCENT:
        return Type.PERCENT
    if q.unit is s.Unit.MONEY:
        check_currency(ctx, q)
        return Type.MONEY
    return NUMBER


def check_currency(ctx: Context, q: s.Quantity) -> None:
    """Money written with a currency code must use the program's currency."""
    if q.currency and ctx.currency and q.currency != ctx.currency:
        ctx.error(
            "CLM110",
            f"`{q.currency}` is not the program currency `{ctx.currency}`",
            q.span,
            f"write amounts in {ctx.currency}, or without a currency code",
        )


def _ref_type(ctx: Context, ref: s.Ref) -> Type | str | None:
    name = ref.dotted
    sy = ctx.symbols
    if name.startswith("rfm."):
        if name not in FIELDS:
            ctx.error(
                "CLM103", f"unknown field `{name}`", ref.span, "RFM scores are rfm.r, rfm.f, rfm.m"
            )
            return None
        if sy.rfm is None:
            ctx.error(
                "CLM104",
                f"`{name}` needs an `rfm` block with the score boundaries",
                ref.span,
                "add `rfm { recency 30 days, 60 days, 120 days, 240 days ... }`",
            )
        return Type.COUNT
    if name in FIELDS:
        return FIELDS[name].type
    if name in sy.attributes:
        ctx.used.add(("attribute", name))
        t = ATTRIBUTE_TYPES.get(sy.attributes[name].type.text)
        if t is Type.DATE:
            ctx.error(
                "CLM110",
                f"`{name}` is a date; conditions use the days since it",
                ref.span,
                f"write `days_since({name})`",
            )
            return None
        return t
    if name in sy.segments:
        ctx.used.add(("segment", name))
        return Type.BOOL
    for kind, table, fix in (
        ("stage", sy.stages, f"`stage is {name}`"),
        ("product", sy.products, f"`owns({name})` or `last_product is {name}`"),
        ("audience", sy.audiences, f"`audience is {name}`"),
    ):
        if name in table:
            ctx.error("CLM102", f"`{name}` is a {kind}, not a condition", ref.span, f"write {fix}")
            return None
    known = [k for k in FIELDS if "." not in k] + list(sy.attributes) + list(sy.segments)
    hint = suggest(name, known) or "a field of customer state, an attribute or a segment"
    ctx.error("CLM100", f"undefined name `{name}`", ref.span, hint)
    return None


def _call_type(ctx: Context, call: s.Call) -> Type | None:
    fn = call.function.text
    function = FUNCTIONS.get(fn)
    if function is None:
        hint = suggest(fn, FUNCTIONS) or "functions: " + ", ".join(FUNCTIONS)
        ctx.error("CLM103", f"unknown function `{fn}`", call.function.span, hint)
        return None
    arity = {len(sig) for sig in function.signatures}
    if len(call.args) not in arity:
        usage = {
            "owns": "owns(facial) or owns(line dentistry)",
            "subscribed": "subscribed(storage)",
            "messages": "messages(7 days) or messages(sms, 30 days)",
            "days_since": "days_since(wedding)",
            "unsubscribed": "unsubscribed(sms)",
        }[fn]
        ctx.error(
            "CLM103",
            f"`{fn}` takes {' or '.join(map(str, sorted(arity)))} argument(s)",
            call.span,
            f"write {usage}",
        )
        return None
    signature = next(sig for sig in function.signatures if len(sig) == len(call.args))
    for kind, arg in zip(signature, call.args, strict=True):
        _argument(ctx, fn, kind, arg)
    return function.type


def _argument(ctx: Context, fn: str, kind: str, arg: s.Expr | s.LineArgument) -> None:
    sy = ctx.symbols
    if kind == "duration":
        if not (isinstance(arg, s.Quantity) and arg.unit.is_duration):
            ctx.error("CLM110", f"`{fn}` needs a window like `30 days` here", arg.span)
        return
    if isinstance(arg, s.LineArgument):
        if kind != "product|line":
            ctx.error("CLM102", f"`{fn}` does not take a product line", arg.span)
        elif arg.line.text not in sy.lines:
            ctx.undefined("line", arg.line.text, arg.line.span, sy.lines)
        return
    if not (isinstance(arg, s.Ref) and len(arg.parts) == 1):
        ctx.error("CLM102", f"`{fn}` needs a name here", arg.span)
        return
    name, span = arg.parts[0].text, arg.span
    if kind in ("product|line", "lifetime"):
        if name not in sy.products:
            hint = f"for a line write `owns(line {name})`" if name in sy.lines else None
            if hint:
                ctx.error("CLM102", f"`{name}` is a product line, not a product", span, hint)
            else:
                ctx.undefined("product", name, span, sy.products)
        elif kind == "lifetime":
            role = sy.products[name].role
            if role is not None and role.text != "lifetime":
                ctx.error(
                    "CLM102",
                    f"`{name}` is not a lifetime product, so there is no subscription to it",
                    span,
                    "subscriptions are `role lifetime` products",
                )
    elif kind == "channel":
        if name not in sy.channels:
            ctx.undefined("channel", name, span, sy.channels)
        else:
            ctx.used.add(("channel", name))
    elif kind == "date":
        attribute = sy.attributes.get(name)
        if attribute is None:
            ctx.undefined("attribute", name, span, sy.attributes)
        elif attribute.type.text != "date":
            ctx.error("CLM102", f"`{name}` is not a date attribute", span)
        else:
            ctx.used.add(("attribute", name))


def _arith_type(ctx: Context, expr: s.BinaryOp, op: str, a, b):  # type: ignore[no-untyped-def]
    if a is None or b is None:
        return None
    for t in (a, b):
        if t not in _NUMERIC:
            ctx.error("CLM110", f"`{op}` needs numbers, but this has {_word(t)}", expr.span)
            return None
    units = {t for t in (a, b) if t in (Type.DURATION, Type.MONEY)}
    if len(units) > 1:
        ctx.error("CLM110", "this mixes a duration with money", expr.span)
        return None
    if units and op in ("*", "/") and a == b:
        return NUMBER  # a ratio of two amounts
    return units.pop() if units else (Type.COUNT if Type.COUNT in (a, b) else NUMBER)


_Side = tuple[s.Expr | s.Range, Type | str | None]  # a side of a comparison and its type


def _compare(ctx: Context, expr: s.Expr, op: str, left: _Side, right: _Side) -> None:
    a, b = left[1], right[1]
    if a is None or b is None:
        return
    if a in (Type.STAGE, Type.PRODUCT, Type.AUDIENCE) or b in (
        Type.STAGE,
        Type.PRODUCT,
        Type.AUDIENCE,
    ):
        ctx.error(
            "CLM110",
            f"`{op}` cannot compare {_word(a)} with {_word(b)}",
            expr.span,
            "use `is`, e.g. `stage is loyal`",
        )
        return
    if a == b or (a in _NUMERIC and b == NUMBER) or (b in _NUMERIC and a == NUMBER):
        if a in (Type.TEXT, Type.BOOL) and op not in ("==", "!="):
            ctx.error("CLM110", f"`{op}` cannot order {_word(a)}", expr.span, "use `==` or `!=`")
        return
    if {a, b} <= (_NUMERIC | {Type.PERCENT}) and NUMBER not in (a, b):
        ctx.error(
            "CLM110",
            f"this compares {_word(a)} with {_word(b)}",
            expr.span,
            _unit_hint(ctx, op, left, right)
            or "durations are written `30 days`, money as a plain number or with the currency code",
        )
        return
    ctx.error("CLM110", f"this compares {_word(a)} with {_word(b)}", expr.span)


def _unit_hint(ctx: Context, op: str, left: _Side, right: _Side) -> str | None:
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
    return f"`{name}` is {_word(t)}, not {_word(other)}: write `{written}`"


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


def _is(ctx: Context, operand: s.Expr, name: s.Name) -> None:
    field_name = operand.dotted if isinstance(operand, s.Ref) else None
    kind = _ENUMS.get(field_name or "")
    if kind is None:
        ctx.error(
            "CLM110",
            "`is` compares stage, previous_stage, last_product or audience with a name",
            operand.span,
            "for numbers use `==`",
        )
        return
    table = {
        "stage": ctx.symbols.stages,
        "product": ctx.symbols.products,
        "audience": ctx.symbols.audiences,
    }[kind]
    if name.text not in table:
        ctx.undefined(kind, name.text, name.span, table)
    elif kind == "audience":
        ctx.used.add(("audience", name.text))
