"""Diagnostics: the one error type of the parser, the checker, scenario loading and the CLI.

A `Diagnostic` is data: a stable code, a severity, a message, the span it is about, a hint
and related spans (the other place of a duplicate, the other stage of an overlap). Every
code is listed in `CODES` and documented in `docs/diagnostics.md`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .source import Source, Span

__all__ = [
    "CODES",
    "ClmError",
    "Diagnostic",
    "Related",
    "Severity",
    "has_errors",
    "render_json",
    "render_text",
]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


# Stable codes. Never renumber: tools and docs refer to them. Titles are one line each.
CODES: dict[str, str] = {
    # syntax and files (0xx)
    "CLM001": "syntax error",
    "CLM002": "unterminated string",
    "CLM003": "file is not valid UTF-8",
    "CLM004": "nesting too deep",
    "CLM005": "file cannot be read",
    "CLM006": "invalid number or date",
    "CLM010": "cycle in `use`",
    # names (1xx)
    "CLM100": "undefined name",
    "CLM101": "duplicate definition",
    "CLM102": "name of the wrong kind",
    "CLM103": "unknown field or function",
    "CLM104": "missing declaration",
    "CLM105": "keyword used as a name",
    # units and values (11x)
    "CLM110": "unit mismatch",
    "CLM111": "value out of range",
    "CLM112": "shares do not add up",
    "CLM113": "clause does not fit the product role",
    "CLM114": "clause given twice",
    "CLM115": "missing clause",
    "CLM116": "step after `success`",
    "CLM117": "variants and rule steps both given",
    "CLM118": "activity window ends before it starts",
    # stages (12x)
    "CLM120": "stages overlap",
    "CLM121": "gap between stages",
    "CLM122": "unreachable stage",
    # rules (13x)
    "CLM130": "rule can never fire",
    "CLM131": "offer cannot be sold",
    "CLM132": "caps make a rule impossible",
    "CLM133": "cycle in follow-ups",
    "CLM134": "rule fires every day",
    "CLM135": "unused definition",
    "CLM136": "segment defined through itself",
    "CLM140": "grid rule does not fit its table",
}


@dataclass(frozen=True, slots=True)
class Related:
    """Another place in the source that explains a diagnostic (the first definition, say)."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a spec, with its place and a hint on how to fix it."""

    code: str
    severity: Severity
    message: str
    span: Span | None
    hint: str | None = None
    related: tuple[Related, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "span": self.span.to_dict() if self.span else None,
            "hint": self.hint,
            "related": [{"span": r.span.to_dict(), "message": r.message} for r in self.related],
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.column, self.code)


class ClmError(Exception):
    """Raised at the API boundary (`clmlang.load`) when a spec has errors.

    Carries every diagnostic of the run, not only the first; `str()` renders them as
    `clm check` would.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, Source]):
        self.diagnostics = list(diagnostics)
        self.sources = sources
        super().__init__(render_text(self.diagnostics, sources, color=False))


def has_errors(diagnostics: Iterable[Diagnostic], strict: bool = False) -> bool:
    """True when any diagnostic is an error (or, with `strict`, a warning)."""
    bad = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(d.severity in bad for d in diagnostics)


# A very long line is shown as a window around the caret, never whole.
_WINDOW = 100


def _excerpt(line: str, column: int, width: int) -> tuple[str, int]:
    """Cut a long source line to a window around `column`; return it and the new column."""
    if len(line) <= _WINDOW:
        return line, column
    begin = max(0, column - 1 - _WINDOW // 2)
    piece = line[begin : begin + _WINDOW]
    prefix = "..." if begin > 0 else ""
    suffix = "..." if begin + _WINDOW < len(line) else ""
    return prefix + piece + suffix, column - begin + len(prefix)


def _render_one(d: Diagnostic, sources: dict[str, Source], color: bool) -> list[str]:
    def paint(text: str, style: str) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if color else text

    sev_style = {"error": "1;31", "warning": "1;33", "note": "1;36"}[d.severity.value]
    where = f"{d.span}: " if d.span else ""
    head = f"{where}{paint(f'{d.severity.value}[{d.code}]', sev_style)}: {d.message}"
    lines = [head]
    if d.span is not None and d.span.file in sources:
        lines.extend(_snippet(d.span, sources[d.span.file], paint))
    for rel in d.related:
        lines.append(f"  {paint('note', '1;36')}: {rel.message} at {rel.span}")
        if rel.span.file in sources:
            lines.extend(_snippet(rel.span, sources[rel.span.file], paint))
    if d.hint:
        lines.append(f"  {paint('hint', '1;32')}: {d.hint}")
    return lines


def _snippet(span: Span, source: Source, paint) -> list[str]:  # type: ignore[no-untyped-def]
    text = source.line_text(span.line).replace("\t", " ")
    shown, column = _excerpt(text, span.column, _WINDOW)
    if span.end_line == span.line:
        width = max(1, span.end_column - span.column)
    else:
        width = max(1, len(text) - span.column + 1)
    width = min(width, max(1, len(shown) - column + 1))
    gutter = f"{span.line:>4} | "
    return [gutter + shown, " " * (len(gutter) + column - 1) + paint("^" * width, "1;31")]


def render_text(
    diagnostics: Iterable[Diagnostic], sources: dict[str, Source], color: bool = False
) -> str:
    """Render diagnostics as `file:line:col: error[CLMnnn]: message`, the line, a caret, a hint."""
    blocks = ["\n".join(_render_one(d, sources, color)) for d in diagnostics]
    return "\n\n".join(blocks)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """Render diagnostics as a JSON array, one object per diagnostic, for machines."""
    return json.dumps([d.to_dict() for d in diagnostics], indent=2)
