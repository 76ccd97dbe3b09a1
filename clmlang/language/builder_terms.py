"""Build the small parts of the syntax tree: quantities, expressions and triggers.

`TermBuilder` holds what every part of the tree builder needs (spans, names, numbers) and
the methods for the grammar's terms; `builder.TreeBuilder` adds declarations and rules.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lark import Token, Transformer, v_args

from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Source, Span
from . import syntax as s
from .keywords import RESERVED_NAMES

__all__ = ["TermBuilder", "unquote"]

_UNITS = {
    "day": s.Unit.DAYS,
    "days": s.Unit.DAYS,
    "week": s.Unit.WEEKS,
    "weeks": s.Unit.WEEKS,
    "month": s.Unit.MONTHS,
    "months": s.Unit.MONTHS,
    "year": s.Unit.YEARS,
    "years": s.Unit.YEARS,
    "%": s.Unit.PERCENT,
}
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t"}


def unquote(token: str) -> str:
    """The value of a string literal: quotes removed, `\\"`, `\\\\`, `\\n`, `\\t` unescaped."""
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), token[1:-1])


# Terminals whose text matters; all other tokens are keywords and punctuation.
_NAMED = frozenset(
    [
        "NAME",
        "NUMBER",
        "STRING",
        "UNIT",
        "COMPARE",
        "ADD_OP",
        "MUL_OP",
        "DATE",
        "MONTH_DAY",
        "OVERFLOW",
        "RFM_AXIS",
    ]
)

# Expressions nested deeper than this are refused (CLM004): later stages walk them
# recursively, and no strategy needs a chain of a hundred operators.
MAX_EXPRESSION_DEPTH = 100


def _extent(child: Any, builder: TermBuilder) -> tuple[Span, Span] | None:
    """The first and last span covered by a builder result that is not a token, if any."""
    span = getattr(child, "span", None)
    if span is not None and type(span) is Span:
        return span, span
    if isinstance(child, tuple | list):
        parts = [e for e in (_edge(c, builder) for c in child) if e is not None]
        if parts:
            return parts[0][0], parts[-1][1]
    if type(child) is Span:
        return child, child
    return None


def _edge(child: Any, builder: TermBuilder) -> tuple[Span, Span] | None:
    if type(child) is Token:
        span = builder._tspan(child)
        return span, span
    return _extent(child, builder)


def _spanned(func: Any, _rule: str, children: list[Any], _meta: Any) -> Any:
    """Lark visit wrapper: give a rule its span (first to last child) and drop keyword tokens.

    Lark's own position tracking is not available to a transformer that runs inside the
    LALR parser, and running inside it saves building a parse tree: about half the time.
    """
    builder: TermBuilder = func.base_func.__self__
    depths = builder._depth
    kept = []
    depth = 0
    for child in children:
        if type(child) is Token and child.type not in _NAMED:
            continue
        kept.append(child)
        d = depths.get(id(child), 0)
        if d > depth:
            depth = d
    span = builder._cover(children)
    result = func(span, kept)
    depths[id(result)] = depth + 1
    if depth >= MAX_EXPRESSION_DEPTH and not builder._too_deep:
        builder._too_deep = True
        builder.diagnostics.append(
            Diagnostic(
                "CLM004",
                Severity.ERROR,
                f"expression nested deeper than {MAX_EXPRESSION_DEPTH} levels",
                span,
                "split the condition into named segments",
            )
        )
    return result


@v_args(wrapper=_spanned)
class TermBuilder(Transformer):  # type: ignore[type-arg]
    """Shared helpers and the term rules; positions are shifted by `offset` for a chunk."""

    def __init__(self, source: Source, offset: int = 0):
        super().__init__(visit_tokens=False)
        self.reset(source, offset)

    def reset(self, source: Source, offset: int = 0) -> None:
        """Start on a new piece of `source` beginning at character `offset` (a line start)."""
        self.source = source
        self.offset = offset
        self.line_offset = source.position(offset)[0] - 1
        self.diagnostics: list[Diagnostic] = []
        self._depth: dict[int, int] = {}
        self._too_deep = False

    # ---- helpers ------------------------------------------------------------------
    def _span(self, span: Span | None) -> Span:
        """The span `_spanned` computed for a rule; an empty rule gets an empty span."""
        if span is None:
            return self.source.span(self.offset, self.offset)
        return span

    def _cover(self, children: list[Any]) -> Span | None:
        """The span from the first to the last child that has a place, or None."""
        start = end = None
        for child in children:
            if type(child) is Token:
                start = (child.start_pos + self.offset, child.line + self.line_offset, child.column)
                break
            extent = _extent(child, self) if child is not None else None
            if extent is not None:
                first = extent[0]
                start = (first.start, first.line, first.column)
                break
        if start is None:
            return None
        for child in reversed(children):
            if type(child) is Token:
                end = (
                    child.end_pos + self.offset,
                    child.end_line + self.line_offset,
                    child.end_column,
                )
                break
            extent = _extent(child, self) if child is not None else None
            if extent is not None:
                last = extent[1]
                end = (last.end, last.end_line, last.end_column)
                break
        assert end is not None
        return Span(self.source.name, start[0], end[0], start[1], start[2], end[1], end[2])

    def _tspan(self, token: Token) -> Span:
        lines = self.line_offset
        return Span(
            self.source.name,
            (token.start_pos or 0) + self.offset,
            (token.end_pos or 0) + self.offset,
            (token.line or 1) + lines,
            token.column or 1,
            (token.end_line or 1) + lines,
            token.end_column or 1,
        )

    def _name(self, token: Token) -> s.Name:
        return s.Name(str(token), self._tspan(token))

    def _declared(self, kind: str, token: Token) -> s.Name:
        """The name of a declaration; CLM105 if it is a keyword where such names are used."""
        name = self._name(token)
        usage = RESERVED_NAMES[kind].get(name.text)
        if usage is not None:
            self.diagnostics.append(
                Diagnostic(
                    "CLM105",
                    Severity.ERROR,
                    f"`{name}` is a keyword where a {kind} is named: {usage} would not read "
                    f"it as the {kind}",
                    name.span,
                    f"rename the {kind}, e.g. `{name}_{kind}`",
                )
            )
        return name

    def _number(self, token: Token) -> float:
        value = float(token)
        if not math.isfinite(value) or value > 1e15:
            self.diagnostics.append(
                Diagnostic(
                    "CLM006",
                    Severity.ERROR,
                    f"number `{str(token)[:20]}` is too large",
                    self._tspan(token),
                    "numbers in a spec stay below 10^15",
                )
            )
            return 0.0
        return value

    # ---- triggers ---------------------------------------------------------------------
    def event_purchase(self, meta: Any, ch: list[Any]) -> s.Event:
        product = line = None
        if ch:
            kind, name = ch[0]
            product, line = (name, None) if kind == "product" else (None, name)
        return s.Event(s.EventKind.PURCHASE, product, line, None, self._span(meta))

    def of_product(self, meta: Any, ch: list[Any]) -> tuple[str, s.Name]:
        return ("product", self._name(ch[0]))

    def of_line(self, meta: Any, ch: list[Any]) -> tuple[str, s.Name]:
        return ("line", self._name(ch[0]))

    def event_first_purchase(self, meta: Any, ch: list[Any]) -> s.Event:
        product = line = None
        if ch and ch[0] is not None:
            kind, name = ch[0]
            product, line = (name, None) if kind == "product" else (None, name)
        return s.Event(s.EventKind.FIRST_PURCHASE, product, line, None, self._span(meta))

    def event_enter(self, meta: Any, ch: list[Any]) -> s.Event:
        return s.Event(s.EventKind.ENTER, stage=self._name(ch[0]), span=self._span(meta))

    def event_leave(self, meta: Any, ch: list[Any]) -> s.Event:
        return s.Event(s.EventKind.LEAVE, stage=self._name(ch[0]), span=self._span(meta))

    def event_behaviour(self, meta: Any, ch: list[Any]) -> s.Event:
        return s.Event(s.EventKind.EVENT, span=self._span(meta), behaviour=self._name(ch[0]))

    def anchor_attribute(self, meta: Any, ch: list[Any]) -> s.Name:
        return self._name(ch[0])

    def trigger_after(self, meta: Any, ch: list[Any]) -> s.After:
        return s.After(ch[0], ch[1], self._span(meta))

    def trigger_before(self, meta: Any, ch: list[Any]) -> s.Before:
        return s.Before(ch[0], ch[1].attribute, True, self._span(meta))

    def trigger_before_date(self, meta: Any, ch: list[Any]) -> s.Before:
        return s.Before(ch[0], self._name(ch[1]), False, self._span(meta))

    def anniversary_of(self, meta: Any, ch: list[Any]) -> s.Anniversary:
        return s.Anniversary(self._name(ch[0]), self._span(meta))

    def trigger_every(self, meta: Any, ch: list[Any]) -> s.Every:
        return s.Every(ch[0], self._span(meta))

    def trigger_inactivity(self, meta: Any, ch: list[Any]) -> s.Inactivity:
        return s.Inactivity(ch[0], self._span(meta))

    def trigger_schedule(self, meta: Any, ch: list[Any]) -> s.Schedule:
        return ch[0]  # type: ignore[no-any-return]

    def schedule_daily(self, meta: Any, ch: list[Any]) -> s.Schedule:
        return s.Schedule("daily", None, self._span(meta))

    def schedule_weekly(self, meta: Any, ch: list[Any]) -> s.Schedule:
        return s.Schedule("weekly", str(ch[0]), self._span(meta))

    def schedule_monthly(self, meta: Any, ch: list[Any]) -> s.Schedule:
        return s.Schedule("monthly", str(ch[0]), self._span(meta))

    def schedule_yearly(self, meta: Any, ch: list[Any]) -> s.Schedule:
        return s.Schedule("yearly", str(ch[0]), self._span(meta))

    def schedule_date(self, meta: Any, ch: list[Any]) -> s.Schedule:
        return s.Schedule("date", str(ch[0]), self._span(meta))

    # ---- expressions ------------------------------------------------------------------
    def or_expr(self, meta: Any, ch: list[Any]) -> s.BoolOp:
        return s.BoolOp("or", tuple(ch), self._span(meta))

    def and_expr(self, meta: Any, ch: list[Any]) -> s.BoolOp:
        return s.BoolOp("and", tuple(ch), self._span(meta))

    def not_(self, meta: Any, ch: list[Any]) -> s.Not:
        return s.Not(ch[0], self._span(meta))

    def compare(self, meta: Any, ch: list[Any]) -> s.Compare:
        return s.Compare(str(ch[1]), ch[0], ch[2], self._span(meta))

    def in_range(self, meta: Any, ch: list[Any]) -> s.InRange:
        return s.InRange(ch[0], ch[1], False, self._span(meta))

    def not_in_range(self, meta: Any, ch: list[Any]) -> s.InRange:
        return s.InRange(ch[0], ch[1], True, self._span(meta))

    def is_(self, meta: Any, ch: list[Any]) -> s.Is:
        return s.Is(ch[0], self._name(ch[1]), False, self._span(meta))

    def is_not(self, meta: Any, ch: list[Any]) -> s.Is:
        return s.Is(ch[0], self._name(ch[1]), True, self._span(meta))

    def atom(self, meta: Any, ch: list[Any]) -> Any:
        """`( expr )`: the parentheses only group."""
        return ch[0]

    def _binary(self, meta: Any, ch: list[Any]) -> Any:
        result = ch[0]
        for op, right in zip(ch[1::2], ch[2::2], strict=True):
            span = self.source.span(result.span.start, right.span.end)
            result = s.BinaryOp(str(op), result, right, span)
        return result

    sum = _binary
    term = _binary

    def neg(self, meta: Any, ch: list[Any]) -> s.Neg:
        return s.Neg(ch[0], self._span(meta))

    def string(self, meta: Any, ch: list[Any]) -> s.StringLiteral:
        return s.StringLiteral(unquote(ch[0]), self._span(meta))

    def true(self, meta: Any, ch: list[Any]) -> s.BoolLiteral:
        return s.BoolLiteral(True, self._span(meta))

    def false(self, meta: Any, ch: list[Any]) -> s.BoolLiteral:
        return s.BoolLiteral(False, self._span(meta))

    def ref(self, meta: Any, ch: list[Any]) -> s.Ref:
        return s.Ref(tuple(self._name(t) for t in ch), self._span(meta))

    def call(self, meta: Any, ch: list[Any]) -> s.Call:
        args = tuple(a for a in ch[1:] if a is not None)
        return s.Call(self._name(ch[0]), args, self._span(meta))

    def field_of(self, meta: Any, ch: list[Any]) -> s.FieldOf:
        return s.FieldOf(self._name(ch[0]), self._name(ch[1]), False, self._span(meta))

    def field_of_line(self, meta: Any, ch: list[Any]) -> s.FieldOf:
        return s.FieldOf(self._name(ch[0]), self._name(ch[1]), True, self._span(meta))

    def line_argument(self, meta: Any, ch: list[Any]) -> s.LineArgument:
        return s.LineArgument(self._name(ch[0]), self._span(meta))

    def range(self, meta: Any, ch: list[Any]) -> s.Range:
        low, high = ch
        if low.unit is s.Unit.NONE and high.unit is not s.Unit.NONE:
            # `90..180 days`: the unit written once applies to both ends.
            low = s.Quantity(
                low.value, high.unit, low.span, low.text, high.currency, high.unit_text
            )
        return s.Range(low, high, self._span(meta))

    def quantity(self, meta: Any, ch: list[Any]) -> s.Quantity:
        number = ch[0]
        if isinstance(number, s.Name):  # `{discount}`: filled in for each cell of a grid rule
            return s.Quantity(math.nan, s.Unit.NONE, number.span, number.text)
        value = self._number(number)
        if len(ch) == 1:
            return s.Quantity(value, s.Unit.NONE, self._span(meta), str(number))
        unit_text = str(ch[1])
        unit = _UNITS.get(unit_text, s.Unit.MONEY)
        currency = unit_text if unit is s.Unit.MONEY else None
        return s.Quantity(value, unit, self._span(meta), str(number), currency, unit_text)

    def placeholder(self, meta: Any, ch: list[Any]) -> s.Name:
        """`{discount}`, kept as a name written with its braces (language/grid.py)."""
        return s.Name(f"{{{ch[0]}}}", self._span(meta))

    def name_list(self, meta: Any, ch: list[Any]) -> tuple[s.Name, ...]:
        return tuple(self._name(t) for t in ch)
