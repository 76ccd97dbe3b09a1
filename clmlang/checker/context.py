"""What every checker pass shares: the spec, its symbols, and the diagnostics found so far."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.diagnostics import Diagnostic, Related, Severity
from ..core.source import Span
from ..language.loader import Spec
from ..language.symbols import Symbols

__all__ = ["Context", "suggest"]


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


@dataclass
class Context:
    """The spec under check, its declarations, the diagnostics, and which names are used."""

    spec: Spec
    symbols: Symbols
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)  # (kind, name)

    @property
    def currency(self) -> str | None:
        return self.symbols.currency

    def error(
        self,
        code: str,
        message: str,
        span: Span | None,
        hint: str | None = None,
        related: tuple[Related, ...] = (),
    ) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.ERROR, message, span, hint, related))

    def warning(
        self,
        code: str,
        message: str,
        span: Span | None,
        hint: str | None = None,
        related: tuple[Related, ...] = (),
    ) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.WARNING, message, span, hint, related))

    def undefined(self, kind: str, name: str, span: Span, known: Iterable[str]) -> None:
        """CLM100 for a name of `kind` that is not declared, with a suggestion if one is close."""
        known = list(known)
        hint = suggest(name, known)
        if hint is None:
            hint = f"declare it with `{kind} {name} ...`" if kind in _DECLARABLE else None
        self.error("CLM100", f"undefined {kind} `{name}`", span, hint)


_DECLARABLE = {"product", "channel", "stage", "segment", "audience", "attribute", "rule"}
