"""`clm lsp`: the language server, the protocol glue between pygls and the pure modules.

Every document is re-analysed on each change (the whole check of a spec takes milliseconds)
and its diagnostics published; hover, definition, completion, outline and formatting read
the latest analysis. Handlers never raise: a failure is logged (to stderr, never stdout,
which carries the protocol) and the request answered with nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types as t
from pygls.exceptions import FeatureRequestError
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..core.diagnostics import Severity
from ..core.source import Source, Span
from ..language.formatter import format_source
from .completion import complete
from .document import Document
from .hover import describe, describe_use
from .index import Symbol
from .positions import Positions
from .protocol import ClmProtocol

__all__ = ["ClmLanguageServer", "serve"]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

_SEVERITY = {
    Severity.ERROR: t.DiagnosticSeverity.Error,
    Severity.WARNING: t.DiagnosticSeverity.Warning,
    Severity.NOTE: t.DiagnosticSeverity.Information,
}
_SYMBOL_KIND = {
    "use": t.SymbolKind.File,
    "program": t.SymbolKind.Module,
    "channel": t.SymbolKind.Interface,
    "cap": t.SymbolKind.Constant,
    "control": t.SymbolKind.Constant,
    "product": t.SymbolKind.Class,
    "attribute": t.SymbolKind.Field,
    "audience": t.SymbolKind.Enum,
    "event": t.SymbolKind.Event,
    "rfm": t.SymbolKind.Struct,
    "stage": t.SymbolKind.EnumMember,
    "segment": t.SymbolKind.Boolean,
    "rule": t.SymbolKind.Function,
    "variant": t.SymbolKind.Method,
}
_COMPLETION_KIND = {
    "keyword": t.CompletionItemKind.Keyword,
    "stage": t.CompletionItemKind.EnumMember,
    "product": t.CompletionItemKind.Class,
    "channel": t.CompletionItemKind.Interface,
    "rule": t.CompletionItemKind.Function,
    "segment": t.CompletionItemKind.Variable,
    "attribute": t.CompletionItemKind.Field,
    "audience": t.CompletionItemKind.Enum,
    "event": t.CompletionItemKind.Event,
    "line": t.CompletionItemKind.Module,
    "tag": t.CompletionItemKind.Constant,
    "field": t.CompletionItemKind.Property,
    "function": t.CompletionItemKind.Function,
    "value": t.CompletionItemKind.Value,
}


@functools.lru_cache(maxsize=64)
def _positions(text: str, encoding: str) -> Positions:
    return Positions(text, encoding)


def _quiet(default: Any = None) -> Callable[[F], F]:
    """A handler that logs its failure and answers `default` instead of raising."""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def safe(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception:
                log.exception("%s failed", handler.__name__)
                return default

        return safe  # type: ignore[return-value]

    return wrap


class ClmLanguageServer(LanguageServer):
    """The open documents and how to turn their spans into editor ranges."""

    def __init__(self) -> None:
        super().__init__("clm", __version__, protocol_cls=ClmProtocol)
        self.documents: dict[str, Document] = {}

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A body that is not JSON is answered with ParseError (pygls's read loop reports
        the failure of `json.loads` here); anything else as pygls does (a message)."""
        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError | RecursionError):
            self.protocol.refuse_unparsable(error)  # type: ignore[attr-defined]
            return
        if source is not FeatureRequestError:  # pygls logs a failed request itself
            log.error("%s", error)
        super().report_server_error(error, source)

    @property
    def encoding(self) -> str:
        """The position encoding agreed with the client at initialisation (UTF-16 unless)."""
        try:
            chosen = self.workspace.position_encoding
        except Exception:  # not initialised yet
            chosen = None
        return str(getattr(chosen, "value", chosen) or "utf-16")

    # ---- documents ------------------------------------------------------------------
    def analyse(self, uri: str, text: str, version: int | None = None) -> Document:
        name = _name_of(uri)
        doc = Document.open(uri, name, text, version)
        self.documents[uri] = doc
        self.publish(doc)
        return doc

    def publish(self, doc: Document) -> None:
        diagnostics = [self._diagnostic(doc, p) for p in doc.placed()]
        self.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(uri=doc.uri, diagnostics=diagnostics, version=doc.version)
        )

    def reanalyse_users_of(self, name: str) -> None:
        """Check again every open document that uses the file `name` (saved just now)."""
        for uri, doc in list(self.documents.items()):
            if doc.name != name and name in doc.files:
                self.analyse(uri, doc.text, doc.version)

    # ---- positions ------------------------------------------------------------------
    def offset(self, doc: Document, position: t.Position) -> int:
        return _positions(doc.text, self.encoding).offset(position.line, position.character)

    def range(self, doc: Document, span: Span | None) -> t.Range:
        if span is None:
            return t.Range(t.Position(0, 0), t.Position(0, 0))
        source = doc.analysis.sources.get(span.file)
        text = doc.text if span.file == doc.name or source is None else source.text
        positions = _positions(text, self.encoding)
        start, end = positions.position(span.start), positions.position(span.end)
        return t.Range(t.Position(*start), t.Position(*end))

    def uri_of(self, doc: Document, file: str) -> str:
        if file == doc.name:
            return doc.uri
        return from_fs_path(os.path.abspath(file)) or doc.uri

    def location(self, doc: Document, span: Span) -> t.Location:
        return t.Location(uri=self.uri_of(doc, span.file), range=self.range(doc, span))

    def _diagnostic(self, doc: Document, placed: Any) -> t.Diagnostic:
        d = placed.diagnostic
        related = [
            t.DiagnosticRelatedInformation(self.location(doc, r.span), r.message) for r in d.related
        ]
        if d.span is not None and d.span.file != doc.name:
            related.insert(0, t.DiagnosticRelatedInformation(self.location(doc, d.span), d.message))
        return t.Diagnostic(
            range=self.range(doc, placed.span),
            message=placed.message,
            severity=_SEVERITY[d.severity],
            code=d.code,
            source="clm",
            related_information=related or None,
        )

    def symbol(self, doc: Document, symbol: Symbol) -> t.DocumentSymbol:
        whole = self.range(doc, symbol.span)
        return t.DocumentSymbol(
            name=symbol.name,
            kind=_SYMBOL_KIND.get(symbol.kind, t.SymbolKind.Object),
            range=whole,
            selection_range=self.range(doc, symbol.name_span),
            detail=getattr(symbol.node, "title", None) or symbol.kind,
            children=[self.symbol(doc, child) for child in symbol.children] or None,
        )


def _name_of(uri: str) -> str:
    """The name spans use for a document: its path, or `<uri>` when it is not a file."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return path if path else f"<{uri}>"


server = ClmLanguageServer()


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
@_quiet()
def did_open(ls: ClmLanguageServer, params: t.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    ls.analyse(item.uri, item.text, item.version)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
@_quiet()
def did_change(ls: ClmLanguageServer, params: t.DidChangeTextDocumentParams) -> None:
    """Apply the changes to the text we hold (ClmProtocol keeps pygls from applying them:
    it splits lines at U+2028 and form feeds, LSP does not). A range that ends before it
    starts counts from its earlier end, as vscode-languageserver's TextDocument does;
    positions past the text are clamped to it."""
    uri = params.text_document.uri
    text = ls.documents[uri].text  # the protocol lets no change of an unopened document by
    for change in params.content_changes:
        if not isinstance(change, t.TextDocumentContentChangePartial):
            text = change.text
            continue
        positions = _positions(text, ls.encoding)
        start, end = change.range.start, change.range.end
        begin = positions.offset(start.line, start.character)
        stop = positions.offset(end.line, end.character)
        begin, stop = min(begin, stop), max(begin, stop)
        text = text[:begin] + change.text + text[stop:]
    whole = t.TextDocumentContentChangeWholeDocument(text)
    ls.workspace.update_text_document(params.text_document, whole)  # pygls's copy, the same
    ls.analyse(uri, text, params.text_document.version)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
@_quiet()
def did_save(ls: ClmLanguageServer, params: t.DidSaveTextDocumentParams) -> None:
    ls.reanalyse_users_of(_name_of(params.text_document.uri))


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
@_quiet()
def did_close(ls: ClmLanguageServer, params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.documents.pop(uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(t.TEXT_DOCUMENT_HOVER)
@_quiet()
def hover(ls: ClmLanguageServer, params: t.HoverParams) -> t.Hover | None:
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    offset = ls.offset(doc, params.position)
    ref = doc.index.reference_at(doc.name, offset)
    if ref is not None:
        text, span = describe(doc.index, ref, doc.analysis.sources), ref.span
    elif (used := doc.index.use_at(doc.name, offset)) is not None:
        text, span = describe_use(doc.index, used[1]), used[0].span
    else:
        return None
    if text is None:
        return None
    return t.Hover(
        contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text),
        range=ls.range(doc, span),
    )


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
@_quiet()
def definition(ls: ClmLanguageServer, params: t.DefinitionParams) -> t.Location | None:
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    offset = ls.offset(doc, params.position)
    used = doc.index.use_at(doc.name, offset)
    if used is not None:
        start = t.Position(0, 0)
        return t.Location(uri=ls.uri_of(doc, used[1]), range=t.Range(start, start))
    symbol = doc.index.symbol_at(doc.name, offset)
    return None if symbol is None else ls.location(doc, symbol.name_span)


@server.feature(t.TEXT_DOCUMENT_COMPLETION)
@_quiet()
def completion(ls: ClmLanguageServer, params: t.CompletionParams) -> t.CompletionList | None:
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    candidates = complete(doc.index, doc.text, ls.offset(doc, params.position))
    items = [
        t.CompletionItem(
            label=c.label,
            kind=_COMPLETION_KIND.get(c.kind, t.CompletionItemKind.Text),
            detail=c.detail or c.kind,
        )
        for c in candidates
    ]
    return t.CompletionList(is_incomplete=False, items=items)


@server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@_quiet()
def document_symbol(
    ls: ClmLanguageServer, params: t.DocumentSymbolParams
) -> list[t.DocumentSymbol] | None:
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    return [ls.symbol(doc, symbol) for symbol in doc.index.outline(doc.name)]


@server.feature(t.TEXT_DOCUMENT_FORMATTING)
@_quiet()
def formatting(ls: ClmLanguageServer, params: t.DocumentFormattingParams) -> list[t.TextEdit]:
    """The whole document in `clm fmt` layout; no edit when it does not parse."""
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return []
    result = format_source(Source(doc.name, doc.text))
    if result.text is None or result.text == doc.text:
        return []
    end = _positions(doc.text, ls.encoding).position(len(doc.text))
    whole = t.Range(t.Position(0, 0), t.Position(*end))
    return [t.TextEdit(range=whole, new_text=result.text)]


def serve() -> None:
    """Run the server on stdin and stdout until the client says `exit`."""
    server.start_io()
