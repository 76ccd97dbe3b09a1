"""Build the small parts of the syntax tree: quantities, expressions and triggers.

`TermBuilder` holds what every part of the tree builder needs (spans, names, numbers) and
the methods for the grammar's terms; `builder.TreeBuilder` adds declarations and rules.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lark import Token, Transformer, v_args

from . import syntax as s
from .diagnostics import Diagnostic, Severity
from .source import Source, Span

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


@v_args(meta=True)
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

    # ---- helpers ------------------------------------------------------------------
    def _span(self, meta: Any) -> Span:
        # Lark's own line and column agree with Source.position; using them saves a bisect
        # per node. Pieces start at a line start, so only lines need shifting.
        if getattr(meta, "empty", True):
            return self.source.span(self.offset, self.offset)
        lines = self.line_offset
        return Span(
            self.source.name,
            meta.start_pos + self.offset,
            meta.end_pos + self.offset,
            meta.line + lines,
            meta.column,
            meta.end_line + lines,
            meta.end_column,
        )

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
        return s.Event(s.EventKind.FIRST_PURCHASE, span=self._span(meta))

    def event_enter(self, meta: Any, ch: list[Any]) -> s.Event:
        return s.Event(s.EventKind.ENTER, stage=self._name(ch[0]), span=self._span(meta))

    def event_leave(self, meta: Any, ch: list[Any]) -> s.Event:
        return s.Event(s.EventKind.LEAVE, stage=self._name(ch[0]), span=self._span(meta))

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
        value = self._number(number)
        if len(ch) == 1:
            return s.Quantity(value, s.Unit.NONE, self._span(meta), str(number))
        unit_text = str(ch[1])
        unit = _UNITS.get(unit_text, s.Unit.MONEY)
        currency = unit_text if unit is s.Unit.MONEY else None
        return s.Quantity(value, unit, self._span(meta), str(number), currency, unit_text)

    def name_list(self, meta: Any, ch: list[Any]) -> tuple[s.Name, ...]:
        return tuple(self._name(t) for t in ch)
