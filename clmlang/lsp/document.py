"""An open editor buffer: its text, the same analysis as `clm check`, and its index.

The buffer is analysed as text under its file's path, so `use` resolves as it does on disk
(the used files are read from disk: an unsaved change in a used file counts once saved).
A problem in a used file is shown on the `use` line that brings it in, since the editor
shows a document's diagnostics only in that document. Nothing here raises on bad text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..compile.analysis import Analysis, analyse_text
from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Span
from ..language.loader import Spec, load_text
from .index import Index

__all__ = ["Document", "Placed"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placed:
    """A diagnostic as this document shows it: where (None: the top) and the text."""

    diagnostic: Diagnostic
    span: Span | None
    message: str


@dataclass(frozen=True)
class Document:
    """One open document. `name` is what its spans say: a file path, or `<uri>` when unsaved."""

    uri: str
    name: str
    text: str
    version: int | None
    analysis: Analysis
    index: Index

    @classmethod
    def open(cls, uri: str, name: str, text: str, version: int | None = None) -> Document:
        """Parse and check the text as `clm check` would (a file with no `program` is a module)."""
        try:
            analysis = analyse_text(text, name, compile_policy=False, allow_module=True)
        except Exception:  # a bug in the checker must not take the editor's server down
            log.exception("checking %s failed", name)
            analysis = _parsed_only(text, name)
        try:
            index = Index.build(analysis.spec)
        except Exception:
            log.exception("indexing %s failed", name)
            index = Index(analysis.spec.root)
        return cls(uri, name, text, version, analysis, index)

    @property
    def files(self) -> set[str]:
        """The names of every file this document's spec is made of, itself included."""
        return set(self.analysis.sources)

    def placed(self) -> list[Placed]:
        """Every diagnostic of the spec, placed in this document."""
        return [self._place(d) for d in self.analysis.diagnostics]

    def _place(self, d: Diagnostic) -> Placed:
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        if d.span is None or d.span.file == self.name:
            return Placed(d, d.span, message)
        own = [(use, path) for use, path in self.index.uses if use.span.file == self.name]
        direct = [use for use, path in own if path == d.span.file]
        carrier = direct[0] if direct else own[0][0] if own else None
        message = f"in {d.span}: {message}"
        return Placed(d, carrier.span if carrier else None, message)


def _parsed_only(text: str, name: str) -> Analysis:
    """What is left when checking failed: the parse, with a note saying so."""
    try:
        spec = load_text(text, name)
    except Exception:
        log.exception("parsing %s failed", name)
        spec = Spec(name, (), {}, ())
    note = Diagnostic(
        "internal",  # not a CLM code: no spec is at fault
        Severity.NOTE,
        "clmlang could not check this file completely (a bug in clmlang, not in the spec)",
        None,
        "run `clm check` on it with CLM_DEBUG=1 and report the traceback",
    )
    return Analysis(spec, (*spec.diagnostics, note), None)
