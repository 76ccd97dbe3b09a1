"""pygls's protocol with every message it cannot read answered, not dropped.

pygls structures a message inside `json.loads` (as its `object_hook`), so when the params do
not fit the method (`params: 5`, a position with line -1, formatting options without
`tabSize`), the error escapes `json.loads`: the request's id is lost, no answer is sent and
a traceback is logged. Here `structure_message` keeps every object a plain dict, and
`handle_message` structures the whole message itself: a request that does not fit is
answered with InvalidParams (-32602) under its id, a notification that does not fit is
logged in one line and dropped (JSON-RPC answers no notification), and the server goes on.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from cattrs import transform_error
from cattrs.errors import BaseValidationError
from lsprotocol import types as t
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method

__all__ = ["ClmProtocol", "OneLineFormatter"]

log = logging.getLogger(__name__)

# Notifications about a document that need it open (pygls would read it from disk otherwise).
_NEEDS_OPEN = {t.TEXT_DOCUMENT_DID_CHANGE, t.TEXT_DOCUMENT_DID_SAVE}


class ClmProtocol(LanguageServerProtocol):
    """The LSP protocol of `clm lsp`: pygls's, with params checked before any handler runs."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Leave every JSON object as it is: `handle_message` structures the whole message."""
        return data

    def handle_message(self, message: Any) -> None:  # type: ignore[override]
        """Structure `message` for its method and run it; answer what cannot be run."""
        if not isinstance(message, dict):
            self.refuse(None, JsonRpcInvalidRequest("a message must be a JSON object"))
            return
        ident = _id(message)
        method = message.get("method")
        is_request = "id" in message and "method" in message
        if message.get("jsonrpc") != self.VERSION or not isinstance(method, str | None):
            problem = JsonRpcInvalidRequest('a message needs "jsonrpc": "2.0", a method a string')
            self.refuse(ident if is_request else None, problem, answer="id" in message)
            return
        try:
            structured = self._structure(message)
        except Exception as exc:  # cattrs says what did not fit; anything else is a bug here
            problem = JsonRpcInvalidParams(f"invalid params: {_explain(exc)}")
            self.refuse(ident, problem, answer=is_request, method=method)
            return
        if is_request and getattr(structured, "id", None) is None:
            problem = JsonRpcInvalidRequest(f"{method} is a notification: send it without an id")
            self.refuse(ident, problem, method=method)
            return
        uri = _document_uri(structured)
        if uri is not None and self._needs_open(method, is_request) and not self._is_open(uri):
            problem = JsonRpcInvalidParams(f"no open document {uri}; open it first (didOpen)")
            self.refuse(ident, problem, answer=is_request, method=method)
            return
        super().handle_message(structured)

    def refuse(
        self,
        ident: int | str | None,
        problem: JsonRpcException,
        *,
        answer: bool = True,
        method: Any = None,
    ) -> None:
        """Log `problem` in one line and, for a request, answer it with the error."""
        log.warning("%s%s", f"{method} " if isinstance(method, str) else "", problem.message)
        if answer:
            self._send_response(ident, error=problem.to_response_error())  # type: ignore[arg-type]

    def refuse_unparsable(self, error: Exception) -> None:
        """A body that is not JSON: answer ParseError (-32700) with no id, as JSON-RPC asks."""
        self.refuse(None, JsonRpcParseError(f"the message is not JSON: {error}"))

    @lsp_method(t.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: t.DidChangeTextDocumentParams) -> Any:
        """Only run the server's handler, which applies the changes itself.

        pygls's own did_change (this method's name) counts lines with `str.splitlines`, so
        a U+2028 or a form feed in a message text moves every edit below it, and it clamps
        a position past a line's end by writing into `params`, which the handler sees next.
        """
        if (handler := self.fm.features.get(t.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    # ---- helpers ---------------------------------------------------------------------
    def _structure(self, data: dict[str, Any]) -> Any:
        """The message as pygls's `structure_message` would build it (same types)."""
        if "id" in data and "method" not in data:
            if "error" in data:
                return self._converter.structure(data, t.ResponseErrorMessage)
            kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
            return self._converter.structure({"result": None, **data}, kind)
        kind = self.get_message_type(data.get("method", ""))
        if kind is None:  # a method LSP does not know: pygls answers MethodNotFound
            kind = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
            data = {"params": None, **data}  # JSON-RPC lets a message leave params out
        return self._converter.structure(data, kind)

    def _needs_open(self, method: Any, is_request: bool) -> bool:
        """Requests this server answers about a document, and didChange/didSave."""
        if is_request:
            return method in self.fm.features and method != t.INITIALIZE
        return method in _NEEDS_OPEN

    def _is_open(self, uri: str) -> bool:
        return uri in getattr(self._server, "documents", {uri: None})


def _id(message: dict[str, Any]) -> int | str | None:
    """The id to answer under: JSON-RPC ids are numbers or strings, anything else is null."""
    ident = message.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None
    return ident


def _document_uri(message: Any) -> str | None:
    params = getattr(message, "params", None)
    document = getattr(params, "text_document", None)
    uri = getattr(document, "uri", None)
    return uri if isinstance(uri, str) else None


def _camel(path: str) -> str:
    """`$.params.options.tab_size` -> `options.tabSize`, the names the client sent."""
    path = path.removeprefix("$").removeprefix(".params").lstrip(".")
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path) or "params"


def _say(exc: BaseException, kind: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if kind in (int, float, str, bool):  # int("x") says "invalid literal for int()..."
        return f"expected {kind.__name__}"
    if isinstance(exc, ValueError) and str(exc):  # lsprotocol's validators say it well
        return str(exc)
    if getattr(kind, "__origin__", None) is not None:  # Optional[...], Union[int, str]
        name = str(kind).replace("typing.", "").replace("NoneType", "null")
    else:
        name = getattr(kind, "__name__", None) or ""
    return f"expected {name}" if name else "invalid value"


def _explain(exc: Exception) -> str:
    """The first two things that did not fit, each as `where: what`."""
    if not isinstance(exc, BaseValidationError):
        return f"{type(exc).__name__}: {exc}"[:200]
    problems = []
    for line in transform_error(exc, path="$", format_exception=_say)[:2]:
        what, _, where = line.rpartition(" @ ")
        problems.append(f"{_camel(where)}: {what}")
    return "; ".join(problems)[:300]


class OneLineFormatter(logging.Formatter):
    """One line per record: an exception shows as its type and message, not its traceback.

    pygls logs some failures with `logger.exception` (a body that is not JSON, a handler
    that raised); on stderr, beside the editor's own output, one line each is enough.
    """

    def formatException(self, ei: Any) -> str:
        exc = ei[1]
        return f"({type(exc).__name__}: {exc})"[:300] if exc is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # never reuse a traceback another formatter cached
        record.stack_info = None
        line = super().format(record)
        record.exc_text = None
        return line.replace("\r", " ").replace("\n", " ")
