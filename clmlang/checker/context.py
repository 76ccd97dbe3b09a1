"""What every checker pass shares: the spec, its symbols, and the diagnostics found so far."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.diagnostics import Diagnostic, Related, Severity
from ..core.names import suggest
from ..core.source import Span
from ..language import syntax as s
from ..language.loader import Spec
from ..language.symbols import Symbols

__all__ = ["Context"]


@dataclass
class Context:
    """The spec under check, its declarations, the diagnostics, and which names are used."""

    spec: Spec
    symbols: Symbols
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)  # (kind, name)
    module: bool = False  # a module checked alone: the specs using it may declare more names
    # The expanded grid rule being checked: what is found in it names its cell (see `cells`).
    rule: s.Rule | None = None
    cell_of: dict[int, tuple[str, s.Rule]] = field(default_factory=dict)  # id -> (message, rule)

    @property
    def currency(self) -> str | None:
        return self.symbols.currency

    def report(
        self,
        severity: Severity,
        code: str,
        message: str,
        span: Span | None,
        hint: str | None = None,
        related: tuple[Related, ...] = (),
    ) -> None:
        """Add a diagnostic; `error` and `warning` are this with the severity filled in."""
        diagnostic = Diagnostic(code, severity, message, span, hint, related)
        if self.rule is not None and self.rule.cell is not None:
            self.cell_of[len(self.diagnostics)] = (message, self.rule)
        self.diagnostics.append(diagnostic)

    def error(self, code: str, message: str, span: Span | None, *args, **kwargs) -> None:
        self.report(Severity.ERROR, code, message, span, *args, **kwargs)

    def warning(self, code: str, message: str, span: Span | None, *args, **kwargs) -> None:
        self.report(Severity.WARNING, code, message, span, *args, **kwargs)

    def undefined(self, kind: str, name: str, span: Span, known: Iterable[str]) -> None:
        """CLM100 for a name of `kind` that is not declared, with a suggestion if one is close.

        Not in a module checked alone: the name may be declared by a spec that uses it,
        and is checked through that spec."""
        if self.module:
            return
        known = list(known)
        hint = suggest(name, known)
        if hint is None and kind == "line":  # no `line` declaration: products name lines
            hint = f"a line is declared by a product of it: `product NAME ... line {name}`"
            hint += f"; the spec's lines: {', '.join(known)}" if known else ""
        elif hint is None and kind == "stage or segment":
            hint = f"declare it with `stage {name} when ...` or `segment {name} when ...`"
        elif hint is None:
            hint = f"declare it with `{kind} {name} ...`" if kind in _DECLARABLE else None
        self.error("CLM100", f"undefined {kind} `{name}`", span, hint)


def name_cells(ctx: Context) -> list[Diagnostic]:
    """The diagnostics, each found in an expanded grid rule naming its cell: `(in
    `winback[lapsing,champions]`)`, or `(in every cell of `winback`)` when all cells have it,
    so a problem of the grid rule is reported once at its line."""
    cells: dict[str, int] = {}
    for rule in ctx.symbols.rules.values():
        if rule.cell is not None:
            cells[rule.cell.template] = cells.get(rule.cell.template, 0) + 1
    groups: dict[tuple, list[str]] = {}
    out: list[Diagnostic | tuple] = []
    for i, d in enumerate(ctx.diagnostics):
        if i not in ctx.cell_of:
            out.append(d)
            continue
        message, rule = ctx.cell_of[i]
        assert rule.cell is not None
        key = (d.code, d.severity, message, d.span, d.hint, d.related, rule.cell.template)
        if key not in groups:
            groups[key] = []
            out.append(key)
        if rule.name.text not in groups[key]:
            groups[key].append(rule.name.text)
    result = []
    for item in out:
        if isinstance(item, Diagnostic):
            result.append(item)
            continue
        code, severity, message, span, hint, related, template = item
        names = groups[item]
        if rule_named_in(message, names):
            note = ""
        elif len(names) == cells.get(template, 0) and len(names) > 1:
            note = f" (in every cell of `{template}`)"
        else:
            shown = ", ".join(f"`{n}`" for n in names[:3])
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            note = f" (in {shown}{more})"
        result.append(Diagnostic(code, severity, message + note, span, hint, related))
    return result


def rule_named_in(message: str, names: list[str]) -> bool:
    """The message already names the cell's rule (`rule `winback[a,b]` can never fire`)."""
    return len(names) == 1 and f"`{names[0]}`" in message


_DECLARABLE = {"product", "channel", "stage", "segment", "audience", "attribute", "rule", "event"}
