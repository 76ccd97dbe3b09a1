"""Build grid rules' parts (`for each stage in ...`, `where` tables) from Lark's parse tree.

The rule itself is built in `builder.py`; what the grid means is `grid.py`.
"""

from __future__ import annotations

from typing import Any

from lark import v_args

from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Span
from . import syntax as s
from .builder_terms import TermBuilder, _spanned, unquote

__all__ = ["GridBuilder"]


@v_args(wrapper=_spanned)
class GridBuilder(TermBuilder):
    """The grid parts of a rule: its axes, its `where` tables and their rows."""

    def _grid(self, axes: list[s.GridAxis] | None, tables: list[s.GridTable]) -> s.Grid | None:
        if axes is None:
            for table in tables:
                self.diagnostics.append(
                    Diagnostic(
                        "CLM140",
                        Severity.ERROR,
                        f"`where {table.parameter}` in a rule that is not a grid rule",
                        table.span,
                        "make the rule a grid: `rule NAME for each stage in a, b { ... }`",
                    )
                )
            return None
        first, last = axes[0].span, axes[-1].span
        span = Span(
            first.file,
            first.start,
            last.end,
            first.line,
            first.column,
            last.end_line,
            last.end_column,
        )
        return s.Grid(tuple(axes), tuple(tables), span)

    def grid(self, meta: Any, ch: list[Any]) -> list[s.GridAxis]:
        return list(ch)

    def grid_stages(self, meta: Any, ch: list[Any]) -> s.GridAxis:
        return s.GridAxis("stage", ch[0], self._span(meta))

    def grid_segments(self, meta: Any, ch: list[Any]) -> s.GridAxis:
        return s.GridAxis("segment", ch[0], self._span(meta))

    def grid_table(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        span = self._span(meta)
        return ("where", s.GridTable(self._name(ch[0]), tuple(ch[1:]), span), span)

    def grid_row(self, meta: Any, ch: list[Any]) -> s.GridRow:
        values = tuple(value for value, _ in ch[1:])
        spans = tuple(place for _, place in ch[1:])
        return s.GridRow(self._name(ch[0]), values, spans, self._span(meta))

    def grid_number(self, meta: Any, ch: list[Any]) -> tuple[s.Quantity, Span]:
        q = self.quantity(meta, ch)
        return q, q.span

    def grid_text(self, meta: Any, ch: list[Any]) -> tuple[str, Span]:
        return unquote(ch[0]), self._span(meta)

    def grid_name(self, meta: Any, ch: list[Any]) -> tuple[s.Name, Span]:
        return self._name(ch[0]), self._span(meta)

    def grid_empty(self, meta: Any, ch: list[Any]) -> tuple[None, Span]:
        return None, self._span(meta)
