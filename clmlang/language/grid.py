"""Grid rules: one rule written over the stage x segment grid, one rule per cell.

`rule winback for each stage in lapsing, dormant and each segment in champions, loyal { ... }`
stands for four rules, `winback[lapsing,champions]` ... `winback[dormant,loyal]`. Each is
restricted to its cell (`in stage lapsing`, `for champions`, and the rule's own `for` if it
has one). `where NAME { ROW: value, value ... }` tables give a parameter a value per cell,
used as `{NAME}` in a number's place (`discount {discount}`), an offered product's place
(`offer {product}`) or inside texts; `-` in a table leaves that cell without a rule.
`{stage}` and `{segment}` name the cell inside texts.

The syntax tree keeps the grid rule as written (the formatter prints it back); `Spec.items()`
yields its expanded rules, so the checker, the compiler, `clm explain` and the simulator see
ordinary rules. Each expanded rule keeps the grid rule's places, so a problem in one cell is
reported at the line that was written, and carries a `Cell` naming where it came from.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator

from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Span
from . import syntax as s

__all__ = ["cell_name", "expand", "placeholders_outside_grids", "validate"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_AXES = ("stage", "segment")


def cell_name(rule: str, names: tuple[str, ...]) -> str:
    """`winback[lapsing,champions]`: the expanded rule's name."""
    return f"{rule}[{','.join(names)}]"


def _written(value: s.GridValue) -> str:
    """A table value as text, for `{name}` inside texts and for the compiled cell."""
    match value:
        case s.Quantity(unit=s.Unit.PERCENT):
            return f"{value.text}%"
        case s.Quantity(unit=s.Unit.NONE):
            return value.text
        case s.Quantity():
            return f"{value.text} {value.unit_text}"
        case s.Name():
            return value.text
        case None:
            return "-"
    return str(value)


def _cells(grid: s.Grid) -> list[tuple[s.Name, ...]]:
    return [tuple(c) for c in itertools.product(*(axis.names for axis in grid.axes))]


class _Grid:
    """A grid rule's cells and, for each, its parameter values."""

    def __init__(self, rule: s.Rule):
        assert rule.grid is not None
        self.rule = rule
        self.grid = rule.grid
        self.columns = [n.text for n in self.grid.axes[1].names] if len(self.grid.axes) > 1 else []

    def value(self, table: s.GridTable, cell: tuple[s.Name, ...]) -> s.GridValue | str:
        """The value for `cell`, or the string "missing"."""
        row = next((r for r in table.rows if r.name.text == cell[0].text), None)
        column = self.columns.index(cell[1].text) if len(cell) > 1 else 0
        if row is None or column >= len(row.values):
            return "missing"
        return row.values[column]

    def cells(self) -> Iterator[tuple[tuple[s.Name, ...], dict[str, s.GridValue]]]:
        """Every cell with a rule (no `-` in any table) and its parameter values."""
        for cell in _cells(self.grid):
            values: dict[str, s.GridValue] = {
                axis.kind: name for axis, name in zip(self.grid.axes, cell, strict=True)
            }
            empty = False
            for table in self.grid.tables:
                value = self.value(table, cell)
                if value is None:
                    empty = True
                values[table.parameter.text] = None if value == "missing" else value
            if not empty:
                yield cell, values


def expand(rule: s.Rule) -> tuple[s.Rule, ...]:
    """A grid rule's expanded rules, one per cell with a rule; any other rule itself.

    Never raises: a grid with problems (reported by `validate`) expands to nothing."""
    if rule.grid is None:
        return (rule,)
    if validate_rule(rule):
        return ()
    grid = _Grid(rule)
    return tuple(_expand_cell(rule, cell, values) for cell, values in grid.cells())


def _expand_cell(rule: s.Rule, cell: tuple[s.Name, ...], values: dict[str, s.GridValue]) -> s.Rule:
    assert rule.grid is not None
    filled = _fill(rule, values)
    name = s.Name(cell_name(rule.name.text, tuple(n.text for n in cell)), rule.name.span)
    stages = rule.stages
    audience = filled.audience
    for axis, value in zip(rule.grid.axes, cell, strict=True):
        if axis.kind == "stage":
            stages = (value,)
        else:
            segment = s.Ref((value,), value.span)
            if audience is None:
                audience = segment
            else:
                audience = s.BoolOp("and", (segment, audience), audience.span)
    written = tuple((k, _written(v)) for k, v in values.items())
    return dataclasses.replace(
        filled,
        name=name,
        stages=stages,
        audience=audience,
        grid=None,
        cell=s.Cell(rule.name.text, written),
    )


def _fill(node: object, values: dict[str, s.GridValue]) -> object:
    """`node` with every `{name}` replaced by its value, keeping the places written."""
    match node:
        case s.Quantity() if node.text.startswith("{"):
            value = values.get(node.text[1:-1])
            if isinstance(value, s.Quantity):
                return dataclasses.replace(value, span=node.span)
            return node
        case s.Name() if node.text.startswith("{"):
            value = values.get(node.text[1:-1])
            return s.Name(value.text, node.span) if isinstance(value, s.Name) else node
        case s.Send():
            filled = _fill_fields(node, values)
            return dataclasses.replace(filled, content=_fill_text(node.content, values))
        case s.Rule():
            filled = _fill_fields(node, values)
            title = _fill_text(node.title, values) if node.title is not None else None
            return dataclasses.replace(filled, title=title)
        case tuple():
            return tuple(_fill(item, values) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return _fill_fields(node, values)
    return node


def _fill_fields(node, values):  # type: ignore[no-untyped-def]
    changes = {}
    for f in dataclasses.fields(node):
        if f.name in ("span", "grid", "cell"):
            continue
        old = getattr(node, f.name)
        new = _fill(old, values)
        if new is not old:
            changes[f.name] = new
    return dataclasses.replace(node, **changes) if changes else node


def _fill_text(text: str, values: dict[str, s.GridValue]) -> str:
    return _PLACEHOLDER.sub(
        lambda m: _written(values[m.group(1)]) if m.group(1) in values else m.group(0), text
    )


# ---- problems ---------------------------------------------------------------------------


def _placeholders(root: object) -> Iterator[tuple[str, str, Span]]:
    """Every `{name}` in a node: (where: "number" | "name" | "text", name, place). Walked
    with a stack, not recursion: a condition can nest thousands deep (`- - - 1`)."""
    stack = [root]
    while stack:
        node = stack.pop()
        match node:
            case s.Quantity() if node.text.startswith("{"):
                yield "number", node.text[1:-1], node.span
                continue
            case s.Name() if node.text.startswith("{"):
                yield "name", node.text[1:-1], node.span
                continue
            case s.Send():
                for m in _PLACEHOLDER.finditer(node.content):
                    yield "text", m.group(1), node.span
            case s.Rule() if node.title is not None:
                for m in _PLACEHOLDER.finditer(node.title):
                    yield "text", m.group(1), node.name.span
            case tuple():
                stack.extend(reversed(node))
                continue
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            children = [
                getattr(node, f.name)
                for f in dataclasses.fields(node)
                if f.name not in ("span", "grid", "cell")
            ]
            stack.extend(reversed(children))


def _error(message: str, span: Span, hint: str) -> Diagnostic:
    return Diagnostic("CLM140", Severity.ERROR, message, span, hint)


def placeholders_outside_grids(items: tuple[s.Item, ...]) -> list[Diagnostic]:
    """`{name}` in a number's or a name's place outside a grid rule has no value."""
    found = []
    for item in items:
        if isinstance(item, s.Rule) and item.grid is not None:
            continue
        for where, name, span in _placeholders(item):
            if where != "text":
                found.append(
                    _error(
                        f"`{{{name}}}` outside a grid rule",
                        span,
                        "values in braces come from the `where` tables of a rule written "
                        "`for each stage in ...`; write the value itself here",
                    )
                )
    return found


def validate(items: tuple[s.Item, ...]) -> list[Diagnostic]:
    """Every problem of the grid rules in a file, and placeholders outside them."""
    found = placeholders_outside_grids(items)
    for item in items:
        if isinstance(item, s.Rule) and item.grid is not None:
            found.extend(validate_rule(item))
    return found


def validate_rule(rule: s.Rule) -> list[Diagnostic]:
    """What keeps a grid rule from expanding: axes, tables and placeholders that do not fit."""
    grid = rule.grid
    assert grid is not None
    found: list[Diagnostic] = []
    kinds = [axis.kind for axis in grid.axes]
    if len(set(kinds)) < len(kinds):
        found.append(
            _error(
                f"the grid of rule `{rule.name}` has two `{kinds[0]}` axes",
                grid.axes[1].span,
                "a grid is `for each stage in ... and each segment in ...`",
            )
        )
        return found
    for axis in grid.axes:
        seen: set[str] = set()
        for name in axis.names:
            if name.text in seen:
                found.append(
                    _error(
                        f"`{name}` is listed twice in the grid's {axis.kind}s",
                        name.span,
                        "list each once",
                    )
                )
            seen.add(name.text)
    if "stage" in kinds and rule.stages:
        found.append(
            _error(
                f"rule `{rule.name}` has `in stage` and a grid over stages",
                rule.stages[0].span,
                "the grid puts each cell in its stage; drop `in stage`, or list the stages "
                "in the grid",
            )
        )
    parameters: dict[str, s.GridTable] = {}
    for table in grid.tables:
        if table.parameter.text in _AXES or table.parameter.text in parameters:
            found.append(
                _error(
                    f"`where {table.parameter}` is given twice in rule `{rule.name}`"
                    if table.parameter.text in parameters
                    else f"`where {table.parameter}`: `{{{table.parameter}}}` names the cell",
                    table.parameter.span,
                    "give each parameter one table, named differently from the axes",
                )
            )
            continue
        parameters[table.parameter.text] = table
        found.extend(_table_problems(rule, grid, table))
    for where, name, span in _placeholders(_without_grid(rule)):
        found.extend(_placeholder_problems(rule, parameters, kinds, where, name, span))
    return found


def _without_grid(rule: s.Rule) -> s.Rule:
    return dataclasses.replace(rule, grid=None)


def _table_problems(rule: s.Rule, grid: s.Grid, table: s.GridTable) -> list[Diagnostic]:
    first = grid.axes[0]
    width = len(grid.axes[1].names) if len(grid.axes) > 1 else 1
    columns = ", ".join(n.text for n in grid.axes[1].names) if len(grid.axes) > 1 else "one value"
    found = []
    rows = {r.name.text: r for r in table.rows}
    for row in table.rows:
        if row.name.text not in {n.text for n in first.names}:
            found.append(
                _error(
                    f"`{row.name}` in `where {table.parameter}` is not a {first.kind} of the grid",
                    row.name.span,
                    f"the rows are the grid's {first.kind}s: "
                    + ", ".join(n.text for n in first.names),
                )
            )
        elif len(row.values) != width:
            found.append(
                _error(
                    f"row `{row.name}` of `where {table.parameter}` has {len(row.values)} "
                    f"value{'s' if len(row.values) != 1 else ''}, the grid has {width} "
                    f"column{'s' if width != 1 else ''}",
                    row.span,
                    f"one value per column ({columns}); `-` for a cell without a rule",
                )
            )
        elif rows[row.name.text] is not row:
            found.append(_error(f"row `{row.name}` is given twice", row.name.span, "keep one"))
    for name in first.names:
        if name.text not in rows:
            found.append(
                _error(
                    f"`where {table.parameter}` has no row for `{name}`",
                    table.parameter.span,
                    f"add `{name}: ...` with one value per column ({columns})",
                )
            )
    return found


_KIND_OF_PLACE = {"number": s.Quantity, "name": s.Name}


def _placeholder_problems(rule, parameters, kinds, where, name, span):  # type: ignore[no-untyped-def]
    if where == "text" and name in kinds:
        return []
    if name not in parameters:
        names = [*(k for k in kinds if where == "text"), *parameters]
        known = ", ".join(f"{{{k}}}" for k in names)
        return [
            _error(
                f"`{{{name}}}` in rule `{rule.name}` has no value",
                span,
                f"known here: {known}" if known else f"add `where {name} {{ ... }}`",
            )
        ]
    if where == "text":
        return []
    wanted = _KIND_OF_PLACE[where]
    found = []
    table = parameters[name]
    for row in table.rows:
        for value, place in zip(row.values, row.value_spans, strict=True):
            if value is not None and not isinstance(value, wanted):
                found.append(
                    _error(
                        f"`{_written(value)}` in `where {name}` is not a {where}, and "
                        f"`{{{name}}}` stands for a {where} in rule `{rule.name}`",
                        place,
                        f"give a {where} in every cell of `where {name}`, or `-`",
                    )
                )
                return found
    return found
