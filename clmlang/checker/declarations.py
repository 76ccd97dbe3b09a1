"""Declarations: the program header, duplicates, channels, caps, products, customer data."""

from __future__ import annotations

import itertools

from ..core.diagnostics import Related
from ..core.names import suggest
from ..language import syntax as s
from ..language.vocabulary import ATTRIBUTE_TYPES, CHANNEL_KINDS, FIELDS, ROLES, SOLD_ROLES
from .context import Context
from .types import check_condition, check_currency

__all__ = ["check_declarations"]

_PRICED_ROLES = {"value", "profit", "lifetime", "upsell"}
_INTERNAL_ROLES = set(ROLES) - SOLD_ROLES


def check_declarations(ctx: Context) -> None:
    """Check every declaration that is not a rule."""
    _header(ctx)
    _duplicates(ctx)
    sy = ctx.symbols
    for channel in sy.channels.values():
        _channel(ctx, channel)
    for cap in sy.caps:
        _cap(ctx, cap)
    if sy.control is not None:
        _share(ctx, sy.control.share, "the control group", allow_zero=False)
    for product in sy.products.values():
        _product(ctx, product)
    for attribute in sy.attributes.values():
        if attribute.type.text not in ATTRIBUTE_TYPES:
            hint = suggest(attribute.type.text, ATTRIBUTE_TYPES) or "types: " + ", ".join(
                ATTRIBUTE_TYPES
            )
            ctx.error(
                "CLM100",
                f"unknown attribute type `{attribute.type.text}`",
                attribute.type.span,
                hint,
            )
        if attribute.name.text in FIELDS:
            ctx.error(
                "CLM101",
                f"attribute `{attribute.name.text}` has the name of a built-in field",
                attribute.name.span,
                "give it another name",
            )
    if sy.rfm is not None:
        _rfm(ctx, sy.rfm)
    for stage in sy.stages.values():
        check_condition(ctx, stage.condition, f"the condition of stage `{stage.name}`")
        if stage.goal is not None:
            _goal(ctx, stage.goal)
    for segment in sy.segments.values():
        check_condition(ctx, segment.condition, f"the condition of segment `{segment.name}`")
        if segment.name.text in sy.attributes or segment.name.text in FIELDS:
            ctx.error(
                "CLM101",
                f"segment `{segment.name}` has the name of a field or attribute",
                segment.name.span,
                "conditions could not tell them apart; rename the segment",
            )
    _segment_cycles(ctx)


def _header(ctx: Context) -> None:
    root = ctx.spec.root_file
    sy = ctx.symbols
    start = root.span if root is not None else None
    if ctx.module:
        return  # a module has no program; the specs that use it have one, and the stages
    if sy.program is None:
        ctx.error(
            "CLM104",
            "the spec has no `program` declaration",
            start and ctx.spec.sources[start.file].span(0, 0),
            'start the spec with `program "Name" currency USD`',
        )
    elif sy.program.currency is not None:
        code = sy.program.currency
        if not (len(code.text) == 3 and code.text.isalpha() and code.text.isupper()):
            ctx.error(
                "CLM111",
                f"`{code}` is not a currency code",
                code.span,
                "use three capitals: USD, EUR, RUB",
            )
    if not sy.stages:
        ctx.error(
            "CLM104",
            "the spec declares no stages",
            start and ctx.spec.sources[start.file].span(0, 0),
            "every customer needs a stage, e.g. `stage all when purchases >= 0`",
        )


def _duplicates(ctx: Context) -> None:
    for first, again in ctx.symbols.duplicates:
        name = getattr(again, "name", None)
        kind = {"CustomerEvent": "event"}.get(type(again).__name__, type(again).__name__.lower())
        what = f"{kind} `{name}`" if name is not None else f"`{kind}`"
        ctx.error(
            "CLM101",
            f"{what} is declared twice",
            (name.span if name is not None else again.span),
            "remove one, or rename it",
            (Related(first.span, "first declared here"),),
        )


def _goal(ctx: Context, goal: s.Quantity | s.Range) -> None:
    """`goal return within 60 days` or `within 47..60 days`: positive durations, low <= high."""
    if not isinstance(goal, s.Range):
        duration(ctx, goal, "a stage goal")
        return
    duration(ctx, goal.low, "a stage goal")
    duration(ctx, goal.high, "a stage goal")
    if goal.low.unit.is_duration and goal.high.unit.is_duration and goal.low.days > goal.high.days:
        ctx.error(
            "CLM111",
            f"the goal range {goal.low.text}..{goal.high.text} is empty",
            goal.span,
            "write the shorter interval first: `within 47..60 days`",
        )


def duration(ctx: Context, q: s.Quantity, what: str) -> None:
    """A clause that is a length of time needs a duration unit and a positive value."""
    if not q.unit.is_duration:
        shown = q.text + (f" {q.unit_text}" if q.unit_text else "")
        ctx.error(
            "CLM110",
            f"{what} is a length of time, but `{shown}` is not",
            q.span,
            f"write it with a unit: `{q.text} days`, `{q.text} weeks`, `{q.text} months`",
        )
    elif q.value <= 0:
        ctx.error("CLM111", f"{what} must be longer than zero", q.span)


def money(ctx: Context, q: s.Quantity, what: str) -> None:
    """A clause that is an amount takes a bare number or the program currency."""
    if q.unit.is_duration or q.unit is s.Unit.PERCENT:
        ctx.error(
            "CLM110",
            f"{what} is money, but `{q.text} {q.unit_text}` is not",
            q.span,
            f"write `{q.text}` or `{q.text} {ctx.currency or 'USD'}`",
        )
    else:
        check_currency(ctx, q)


def _share(ctx: Context, q: s.Quantity, what: str, allow_zero: bool = True) -> None:
    if q.unit is not s.Unit.PERCENT:
        ctx.error("CLM110", f"{what} is a share, written with `%`", q.span, f"write `{q.text}%`")
    elif q.value > 100 or q.value < 0 or (q.value >= 100 and what != "a variant share"):
        ctx.error("CLM111", f"{what} must be between 0% and 100%, not {q.text}%", q.span)
    elif q.value == 0 and not allow_zero:
        ctx.error("CLM111", f"{what} of 0% has no effect", q.span, "remove it")


def count(ctx: Context, q: s.Quantity, what: str, minimum: int = 1) -> None:
    """A whole number of at least `minimum`."""
    if q.unit is not s.Unit.NONE:
        ctx.error("CLM110", f"{what} is a plain number, not `{q.text} {q.unit_text}`", q.span)
    elif q.value != int(q.value) or q.value < minimum:
        ctx.error("CLM111", f"{what} must be a whole number of at least {minimum}", q.span)


def _channel(ctx: Context, channel: s.Channel) -> None:
    if channel.kind is not None:
        if channel.kind.text not in CHANNEL_KINDS:
            hint = suggest(channel.kind.text, CHANNEL_KINDS) or "kinds: " + ", ".join(CHANNEL_KINDS)
            ctx.error("CLM100", f"unknown channel kind `{channel.kind}`", channel.kind.span, hint)
    elif channel.name.text not in CHANNEL_KINDS:
        ctx.error(
            "CLM115",
            f"channel `{channel.name}` needs a `kind`",
            channel.name.span,
            f"say what it is: `channel {channel.name} kind messenger` "
            f"(kinds: {', '.join(CHANNEL_KINDS)})",
        )
    if channel.cost is not None:
        money(ctx, channel.cost, "a channel's cost")
    if channel.capacity is not None:
        count(ctx, channel.capacity, "a channel's daily capacity")


def _cap(ctx: Context, cap: s.Cap) -> None:
    if cap.channel is not None and cap.channel.text not in ctx.symbols.channels:
        ctx.undefined("channel", cap.channel.text, cap.channel.span, ctx.symbols.channels)
    own = cap.span.file == ctx.spec.root and not ctx.module  # tags are in the users' rules
    if own and cap.tag is not None and cap.tag.text not in ctx.symbols.tags:
        ctx.warning(
            "CLM135",
            f"no message carries the tag `{cap.tag}`, so this cap never applies",
            cap.tag.span,
            suggest(cap.tag.text, ctx.symbols.tags) or f"tag messages with `tag {cap.tag}`",
        )
    count(ctx, cap.limit, "a cap's limit")
    duration(ctx, cap.window, "a cap's window")


def _product(ctx: Context, product: s.Product) -> None:
    name = product.name.text
    role = product.role.text if product.role else None
    if product.role is None:
        ctx.error(
            "CLM115",
            f"product `{name}` needs a `role`",
            product.name.span,
            "roles: " + ", ".join(ROLES),
        )
    elif role not in ROLES:
        hint = suggest(role, ROLES) or "roles: " + ", ".join(ROLES)
        ctx.error("CLM100", f"unknown role `{role}`", product.role.span, hint)
        role = None
    for clause, q in (("price", product.price), ("cost", product.cost)):
        if q is not None:
            money(ctx, q, f"a product's {clause}")
    if product.every is not None:
        duration(ctx, product.every, "`every`")
    if product.reward is not None:
        _share(ctx, product.reward, "a reward share")
    if role is None:
        return
    if role in _INTERNAL_ROLES and product.price is not None:
        ctx.error(
            "CLM113",
            f"`{name}` is an internal ({role}) product: costed, never sold, so it has no price",
            product.price.span,
            "remove the price, or give it a customer-facing role",
        )
    if product.attach_to and role != "upsell":
        ctx.error(
            "CLM113", "only upsell products `attach to` others", product.span, "use `role upsell`"
        )
    if product.reward is not None and role != "repeat":
        ctx.error("CLM113", "only repeat-purchase programmes have a `reward`", product.reward.span)
    if role == "lifetime" and product.every is None:
        ctx.error(
            "CLM115",
            f"lifetime product `{name}` needs a billing period",
            product.name.span,
            "say how often it is billed: `every 1 month`",
        )
    if role == "upsell" and not product.attach_to:
        ctx.error(
            "CLM115",
            f"upsell product `{name}` needs `attach to`",
            product.name.span,
            "say which products it is added to: `attach to tyre_change`",
        )
    if role in _PRICED_ROLES and product.price is None:
        ctx.error("CLM115", f"product `{name}` needs a `price`", product.name.span)
    for target in product.attach_to:
        if isinstance(target, s.LineArgument):
            if target.line.text not in ctx.symbols.lines:
                ctx.undefined("line", target.line.text, target.line.span, ctx.symbols.lines)
        elif target.text not in ctx.symbols.products:
            ctx.undefined("product", target.text, target.span, ctx.symbols.products)
        elif target.text == name:
            ctx.error("CLM111", f"`{name}` cannot attach to itself", target.span)


def _rfm(ctx: Context, rfm: s.Rfm) -> None:
    for axis in rfm.axes:
        bounds = axis.bounds
        if len(bounds) != 4:
            ctx.error(
                "CLM111",
                f"`{axis.axis}` needs 4 boundaries between its 5 scores, not {len(bounds)}",
                axis.span,
            )
        for q in bounds:
            if axis.axis == "recency":
                duration(ctx, q, "a recency boundary")
            elif axis.axis == "monetary":
                money(ctx, q, "a monetary boundary")
            else:
                count(ctx, q, "a frequency boundary", minimum=0)
        values = [b.days if b.unit.is_duration else b.value for b in bounds]
        if any(a >= b for a, b in itertools.pairwise(values)):
            ctx.error(
                "CLM111",
                f"`{axis.axis}` boundaries must go up",
                axis.span,
                "list them smallest first",
            )


def _segment_cycles(ctx: Context) -> None:
    segments = ctx.symbols.segments
    graph = {name: _segments_in(seg.condition, segments) for name, seg in segments.items()}
    reported: set[frozenset[str]] = set()
    for start in graph:
        path = [start]
        _walk(ctx, graph, start, path, reported)


def _walk(ctx: Context, graph, node, path, reported) -> None:  # type: ignore[no-untyped-def]
    for nxt in graph[node]:
        if nxt == path[0]:
            cycle = frozenset(path)
            if cycle not in reported:
                reported.add(cycle)
                chain = " -> ".join([*path, path[0]])
                ctx.error(
                    "CLM136",
                    f"segments are defined through each other: {chain}",
                    ctx.symbols.segments[path[0]].name.span,
                    "a segment cannot depend on itself; define one without the other",
                )
        elif nxt not in path and len(path) < 50:
            _walk(ctx, graph, nxt, [*path, nxt], reported)


def _segments_in(expr: s.Expr, segments) -> list[str]:  # type: ignore[no-untyped-def]
    found: list[str] = []
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, s.Ref) and node.dotted in segments:
            found.append(node.dotted)
        for attr in ("operand", "left", "right"):
            child = getattr(node, attr, None)
            if child is not None:
                stack.append(child)
        stack.extend(getattr(node, "operands", ()))
    return found
