"""Names and types in conditions: unknown fields, wrong kinds of names, unit mistakes.

Every condition is typed bottom-up. A bare number adapts to whatever it is compared with;
a duration, money or percent written with its unit must meet the same kind of value, so a
count (`purchases`, `messages(...)`, a number attribute) meets only bare numbers and counts.
The units themselves, how arithmetic combines them and the hints that fix a mismatch are in
`units.py`.
"""

from __future__ import annotations

from ..core.names import suggest
from ..language import syntax as s
from ..language.vocabulary import (
    ATTRIBUTE_TYPES,
    EVENT_FIELDS,
    FIELDS,
    FUNCTIONS,
    PRODUCT_FIELDS,
    Type,
)
from .context import Context
from .units import NUMBER, NUMERIC, Side, arithmetic_type, unit_hint, word

__all__ = ["check_condition", "type_of"]

_ENUMS = {
    "stage": "stage",
    "previous_stage": "stage",
    "last_product": "product",
    "audience": "audience",
}


def check_condition(ctx: Context, expr: s.Expr, where: str) -> None:
    """Type a condition and require it to be true-or-false."""
    t = type_of(ctx, expr)
    if t is not None and t is not Type.BOOL:
        ctx.error(
            "CLM110",
            f"{where} must be a condition, but this is {word(t)}",
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
        case s.FieldOf():
            return _field_of_type(ctx, expr)
        case s.Neg(operand=operand):
            t = type_of(ctx, operand)
            if t is not None and t not in NUMERIC:
                ctx.error("CLM110", f"cannot negate {word(t)}", expr.span)
                return None
            return t
        case s.BinaryOp(left=left, right=right):
            return arithmetic_type(
                ctx, expr, (left, type_of(ctx, left)), (right, type_of(ctx, right))
            )
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
            f"{what} needs conditions on both sides, but this is {word(t)}",
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
        if sy.rfm is None and not ctx.module:  # a spec using the module may have one
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
    if ctx.module:  # an attribute or segment of a spec that uses the module, maybe
        return None
    known = [k for k in FIELDS if "." not in k] + list(sy.attributes) + list(sy.segments)
    hint = suggest(name, known) or "a field of customer state, an attribute or a segment"
    ctx.error("CLM100", f"undefined name `{name}`", ref.span, hint)
    return None


def _field_of_type(ctx: Context, expr: s.FieldOf) -> Type | None:
    """`purchases of X`, `days_since_purchase of line L`, `events of E`: a count or a
    duration."""
    name, target, sy = expr.field.text, expr.target.text, ctx.symbols
    if name in EVENT_FIELDS:
        return _event_field_type(ctx, expr)
    t = PRODUCT_FIELDS.get(name)
    if t is None:
        ctx.error(
            "CLM103",
            f"`{name}` cannot be about one product or event: only "
            + ", ".join(f"`{f} of ...`" for f in [*PRODUCT_FIELDS, *EVENT_FIELDS])
            + " can",
            expr.field.span,
            suggest(name, [*PRODUCT_FIELDS, *EVENT_FIELDS])
            or "write `purchases of PRODUCT` or `days_since_purchase of line LINE`",
        )
        return None
    if expr.line:
        if target not in sy.lines:
            if target in sy.products:
                ctx.error(
                    "CLM102",
                    f"`{target}` is a product, not a product line",
                    expr.target.span,
                    f"write `{name} of {target}`",
                )
            else:
                ctx.undefined("line", target, expr.target.span, sy.lines)
    elif target not in sy.products:
        if target in sy.lines:
            ctx.error(
                "CLM102",
                f"`{target}` is a product line, not a product",
                expr.target.span,
                f"write `{name} of line {target}`",
            )
        else:
            ctx.undefined("product", target, expr.target.span, sy.products)
    return t


def _event_field_type(ctx: Context, expr: s.FieldOf) -> Type:
    """`events of E`, `days_since_event of E`: E a declared event."""
    name, target, events = expr.field.text, expr.target.text, ctx.symbols.events
    if expr.line:
        ctx.error(
            "CLM102",
            f"`{name}` is about an event, not a product line",
            expr.target.span,
            f"write `{name} of EVENT`",
        )
    elif target in events:
        ctx.used.add(("event", target))
    else:
        ctx.undefined("event", target, expr.target.span, events)
    return EVENT_FIELDS[name]


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
            "expected_purchases": "expected_purchases(90 days)",
            "predicted_value": "predicted_value(365 days)",
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
            bare = isinstance(arg, s.Quantity) and arg.unit is s.Unit.NONE and arg.text
            hint = f"write `{arg.text} days`" if bare else None  # type: ignore[union-attr]
            ctx.error("CLM110", f"`{fn}` needs a window like `30 days` here", arg.span, hint)
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


def _compare(ctx: Context, expr: s.Expr, op: str, left: Side, right: Side) -> None:
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
            f"`{op}` cannot compare {word(a)} with {word(b)}",
            expr.span,
            "use `is`, e.g. `stage is loyal`",
        )
        return
    if a == b or (a in NUMERIC and b == NUMBER) or (b in NUMERIC and a == NUMBER):
        if a in (Type.TEXT, Type.BOOL) and op not in ("==", "!="):
            ctx.error("CLM110", f"`{op}` cannot order {word(a)}", expr.span, "use `==` or `!=`")
        return
    if {a, b} <= (NUMERIC | {Type.PERCENT}) and (NUMBER not in (a, b) or Type.PERCENT in (a, b)):
        # a share (`p_alive`) is written as a percentage: a bare number does not adapt to it
        ctx.error(
            "CLM110",
            f"this compares {word(a)} with {word(b)}",
            expr.span,
            unit_hint(ctx, op, left, right)
            or (
                "a share is written as a percentage, `30%`"
                if Type.PERCENT in (a, b)
                else "durations are written `30 days`, money as a plain number or with the"
                " currency code"
            ),
        )
        return
    ctx.error("CLM110", f"this compares {word(a)} with {word(b)}", expr.span)


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
