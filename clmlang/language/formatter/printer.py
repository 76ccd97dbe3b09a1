"""Print syntax nodes in the canonical layout, as lines that remember their source lines.

Each `Line` carries the source line range it came from, so comments can be put back next to
the code they were written with (see `layout.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import syntax as s

__all__ = ["Line", "expression", "goal_text", "print_item", "quantity"]

INDENT = "  "


@dataclass
class Line:
    """One output line: its indentation depth, its text, and the source lines it came from."""

    depth: int
    text: str
    first: int  # first source line of the code on this line
    last: int  # last source line of the code on this line
    closes: bool = False  # a closing `}`: comments before it belong inside the block
    block: bool = False  # part of a multi-line block (rule, rfm): kept apart by blank lines


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def quantity(q: s.Quantity) -> str:
    """A number with its unit exactly as written: `74 days`, `10%`, `4500 RUB`, `3`."""
    if q.unit is s.Unit.NONE:
        return q.text
    if q.unit is s.Unit.PERCENT:
        return f"{q.text}%"
    return f"{q.text} {q.unit_text}"


def _range(r: s.Range) -> str:
    low, high = r.low, r.high
    if low.unit is high.unit and low.unit_text == high.unit_text and low.unit is not s.Unit.NONE:
        # `90..179 days`: written once, the unit applies to both ends.
        return f"{low.text}..{quantity(high)}"
    return f"{quantity(low)}..{quantity(high)}"


# Binding strength: a child printed where a stronger level is needed gets parentheses.
_LEVEL = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6}


def _level(e: s.Expr) -> int:
    match e:
        case s.BoolOp(op=op):
            return _LEVEL[op]
        case s.Not():
            return 3
        case s.Compare() | s.InRange() | s.Is():
            return 4
        case s.BinaryOp(op=op):
            return _LEVEL[op]
        case s.Neg():
            return 7
    return 8


def _at(e: s.Expr, level: int) -> str:
    text = expression(e)
    return f"({text})" if _level(e) < level else text


def expression(e: s.Expr | s.LineArgument) -> str:
    """An expression with the fewest parentheses that parse back to the same tree."""
    match e:
        case s.Quantity():
            return quantity(e)
        case s.StringLiteral(value=value):
            return _quote(value)
        case s.BoolLiteral(value=value):
            return "true" if value else "false"
        case s.Ref():
            return e.dotted
        case s.LineArgument(line=line):
            return f"line {line}"
        case s.Call(function=function, args=args):
            return f"{function}({', '.join(expression(a) for a in args)})"
        case s.FieldOf(field=name, target=target, line=line):
            return f"{name} of {'line ' if line else ''}{target}"
        case s.Neg(operand=operand):
            return f"-{_at(operand, 7)}"
        case s.BinaryOp(op=op, left=left, right=right):
            level = _LEVEL[op]
            return f"{_at(left, level)} {op} {_at(right, level + 1)}"
        case s.Compare(op=op, left=left, right=right):
            return f"{_at(left, 5)} {op} {_at(right, 5)}"
        case s.InRange(operand=operand, range=rng, negated=negated):
            return f"{_at(operand, 5)} {'not in' if negated else 'in'} {_range(rng)}"
        case s.Is(operand=operand, name=name, negated=negated):
            return f"{_at(operand, 5)} {'is not' if negated else 'is'} {name}"
        case s.Not(operand=operand):
            return f"not {_at(operand, 3)}"
        case s.BoolOp(op=op, operands=operands):
            level = _LEVEL[op]
            return f" {op} ".join(_at(o, level + 1) for o in operands)
    raise TypeError(f"not an expression: {e!r}")


def _event(e: s.Event) -> str:
    match e.kind:
        case s.EventKind.PURCHASE:
            if e.product is not None:
                return f"purchase of {e.product}"
            return f"purchase of line {e.line}" if e.line is not None else "purchase"
        case s.EventKind.FIRST_PURCHASE:
            if e.product is not None:
                return f"first purchase of {e.product}"
            return f"first purchase of line {e.line}" if e.line is not None else "first purchase"
        case s.EventKind.ENTER:
            return f"enter {e.stage}"
        case s.EventKind.EVENT:
            return f"event {e.behaviour}"
    return f"leave {e.stage}"


def goal_text(goal: s.Quantity | s.Range) -> str:
    """A stage's return goal as written: `60 days` or `47..60 days`."""
    return _range(goal) if isinstance(goal, s.Range) else quantity(goal)


def _attach_target(target: s.Name | s.LineArgument) -> str:
    return f"line {target.line}" if isinstance(target, s.LineArgument) else target.text


def _trigger(t: s.Trigger) -> str:
    match t:
        case s.Event():
            return _event(t)
        case s.After(delay=delay, anchor=anchor):
            target = anchor.text if isinstance(anchor, s.Name) else _event(anchor)
            return f"{quantity(delay)} after {target}"
        case s.Before(lead=lead, attribute=attribute, anniversary=anniversary):
            return f"{quantity(lead)} before {'anniversary of ' if anniversary else ''}{attribute}"
        case s.Anniversary(attribute=attribute):
            return f"anniversary of {attribute}"
        case s.Every(period=period):
            return f"every {quantity(period)}"
        case s.Inactivity(duration=duration):
            return f"{quantity(duration)} of inactivity"
        case s.Schedule(kind=kind, value=value):
            return {
                "daily": "schedule daily",
                "weekly": f"schedule weekly on {value}",
                "monthly": f"schedule monthly on day {value}",
                "yearly": f"schedule yearly on {value}",
                "date": f"schedule on {value}",
            }[kind]
    raise TypeError(f"not a trigger: {t!r}")


def _offer(o: s.Offer) -> str:
    parts = ["offer"]
    if o.product is not None:
        parts.append(o.product.text)
    if o.line is not None:
        parts.append(f"line {o.line}")
    if o.discount is not None:
        parts.append(f"discount {quantity(o.discount)}")
    if o.bonus is not None:
        parts.append(f"bonus {quantity(o.bonus)}")
    return " ".join(parts)


def step(st: s.Step) -> str:
    """One step of a flow on one line."""
    match st:
        case s.Send(channel=channel, content=content, offer=offer, tags=tags):
            text = f"send {channel} {_quote(content)}"
            if offer is not None:
                text += " " + _offer(offer)
            if tags:
                text += " tag " + ", ".join(t.text for t in tags)
            return text + (" transactional" if st.transactional else "")
        case s.Wait(duration=duration):
            return f"wait {quantity(duration)}"
        case s.ContinueWith(rule=rule):
            return f"continue with {rule}"
    return "stop"


def _title(title: str | None) -> str:
    return f" {_quote(title)}" if title is not None else ""


def _one(node: object, depth: int, text: str) -> Line:
    span = node.span  # type: ignore[attr-defined]
    return Line(depth, text, span.line, span.end_line)


def print_item(item: s.Item) -> list[Line]:
    """The lines of one top-level declaration."""
    match item:
        case s.Program(title=title, currency=currency):
            text = f"program {_quote(title)}" + (f" currency {currency}" if currency else "")
        case s.Use(path=path):
            text = f"use {_quote(path)}"
        case s.Channel():
            text = f"channel {item.name}{_title(item.title)}"
            text += f" kind {item.kind}" if item.kind else ""
            text += f" cost {quantity(item.cost)}" if item.cost else ""
            text += f" capacity {quantity(item.capacity)} per day" if item.capacity else ""
        case s.Cap():
            scope = f" {item.channel}" if item.channel else f" tag {item.tag}" if item.tag else ""
            text = f"cap{scope} {quantity(item.limit)} per {quantity(item.window)}"
            text += " then delay" if item.overflow == "delay" else ""
        case s.Control(share=share):
            text = f"control group {quantity(share)}"
        case s.Product():
            text = f"product {item.name}{_title(item.title)}" + "".join(
                f" {word} {value}"
                for word, value in (
                    ("role", item.role and item.role.text),
                    ("price", item.price and quantity(item.price)),
                    ("cost", item.cost and quantity(item.cost)),
                    ("line", item.line and item.line.text),
                    ("every", item.every and quantity(item.every)),
                    ("attach to", ", ".join(_attach_target(n) for n in item.attach_to)),
                    ("reward", item.reward and quantity(item.reward)),
                )
                if value
            )
        case s.Attribute(name=name, type=type_):
            text = f"attribute {name} {type_}"
        case s.Audience(name=name, title=title):
            text = f"audience {name}{_title(title)}"
        case s.CustomerEvent(name=name, title=title):
            text = f"event {name}{_title(title)}"
        case s.Stage():
            text = f"stage {item.name}{_title(item.title)} when {expression(item.condition)}"
            text += f" goal return within {goal_text(item.goal)}" if item.goal else ""
        case s.Segment():
            text = f"segment {item.name}{_title(item.title)} when {expression(item.condition)}"
        case s.Rfm(axes=axes):
            lines = [Line(0, "rfm {", item.span.line, item.span.line, block=True)]
            for axis in axes:
                bounds = ", ".join(quantity(b) for b in axis.bounds)
                lines.append(_one(axis, 1, f"{axis.axis} {bounds}"))
            lines.append(
                Line(0, "}", item.span.end_line, item.span.end_line, closes=True, block=True)
            )
            return lines
        case s.Rule():
            return _rule(item)
        case _:
            raise TypeError(f"not a declaration: {item!r}")
    return [_one(item, 0, text)]


def _grid_head(grid: s.Grid | None) -> str:
    if grid is None:
        return ""
    axes = (f"each {a.kind} in " + ", ".join(n.text for n in a.names) for a in grid.axes)
    return " for " + " and ".join(axes)


def _grid_value(value: s.GridValue) -> str:
    match value:
        case s.Quantity():
            return quantity(value)
        case s.Name():
            return value.text
        case None:
            return "-"
    return _quote(value)


def _grid_tables(grid: s.Grid | None) -> list[Line]:
    lines: list[Line] = []
    for table in grid.tables if grid is not None else ():
        span = table.span
        lines.append(Line(1, f"where {table.parameter} {{", span.line, span.line))
        for row in table.rows:
            values = ", ".join(_grid_value(v) for v in row.values)
            lines.append(_one(row, 2, f"{row.name}: {values}"))
        lines.append(Line(1, "}", span.end_line, span.end_line, closes=True))
    return lines


def _rule(rule: s.Rule) -> list[Line]:
    head = f"rule {rule.name}{_title(rule.title)}{_grid_head(rule.grid)} {{"
    last = rule.grid.span.end_line if rule.grid is not None else rule.name.span.line
    lines = [Line(0, head, rule.span.line, last, block=True)]
    if rule.stages:
        first, last = rule.stages[0].span, rule.stages[-1].span
        lines.append(
            Line(1, "in stage " + ", ".join(n.text for n in rule.stages), first.line, last.end_line)
        )
    if rule.audience is not None:
        lines.append(_one(rule.audience, 1, f"for {expression(rule.audience)}"))
    if rule.trigger is not None:
        lines.append(_one(rule.trigger, 1, f"on {_trigger(rule.trigger)}"))
    if rule.condition is not None:
        lines.append(_one(rule.condition, 1, f"when {expression(rule.condition)}"))
    if rule.window is not None:
        lines.append(_one(rule.window, 1, _window(rule.window)))
    if rule.priority is not None:
        lines.append(_one(rule.priority, 1, f"priority {quantity(rule.priority)}"))
    if rule.holdout is not None:
        lines.append(_one(rule.holdout, 1, f"holdout {quantity(rule.holdout)}"))
    if rule.reentry is not None:
        r = rule.reentry
        text = "reentry always" if r.kind == "always" else "reentry once"
        text += f" per {quantity(r.period)}" if r.period is not None else ""
        lines.append(_one(r, 1, text))
    if rule.exit is not None:
        lines.append(_one(rule.exit, 1, f"exit when {expression(rule.exit)}"))
    for variant in rule.variants:
        head = f"variant {variant.name} {quantity(variant.share)}"
        if len(variant.steps) == 1:
            lines.append(_one(variant, 1, f"{head} {{ {step(variant.steps[0])} }}"))
        else:
            span = variant.span
            lines.append(Line(1, head + " {", span.line, span.line))
            lines.extend(_one(st, 2, step(st)) for st in variant.steps)
            lines.append(Line(1, "}", span.end_line, span.end_line, closes=True))
    lines.extend(_flow(rule.flow, 1))
    lines.extend(_grid_tables(rule.grid))
    lines.append(Line(0, "}", rule.span.end_line, rule.span.end_line, closes=True, block=True))
    return lines


def _window(window: s.Window) -> str:
    text = "active"
    text += f" from {window.start}" if window.start is not None else ""
    text += f" until {window.end}" if window.end is not None else ""
    return text


def _flow(flow: s.Flow, depth: int) -> list[Line]:
    lines = [_one(st, depth, step(st)) for st in flow.steps]
    if flow.success is not None:
        succ = flow.success
        text = f"success {_event(succ.event)} within {quantity(succ.within)}"
        lines.append(_one(succ, depth, text))
    for word, branch in (("on success", flow.on_success), ("on failure", flow.on_failure)):
        if branch is None:
            continue
        if len(branch.steps) == 1 and branch.success is None:
            lines.append(_one(branch, depth, f"{word} {step(branch.steps[0])}"))
        else:
            lines.append(Line(depth, f"{word} {{", branch.span.line, branch.span.line))
            lines.extend(_flow(branch, depth + 1))
            end = branch.span.end_line
            lines.append(Line(depth, "}", end, end, closes=True))
    return lines
