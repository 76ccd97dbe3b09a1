"""What every checker pass shares: the spec, its symbols, and the diagnostics found so far."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.diagnostics import Diagnostic, Related, Severity
from ..core.names import suggest
from ..core.source import Span
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
        self.diagnostics.append(Diagnostic(code, severity, message, span, hint, related))

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
        if hint is None:
            hint = f"declare it with `{kind} {name} ...`" if kind in _DECLARABLE else None
        self.error("CLM100", f"undefined {kind} `{name}`", span, hint)


_DECLARABLE = {"product", "channel", "stage", "segment", "audience", "attribute", "rule"}
