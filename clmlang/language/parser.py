"""Parse `.clm` text into a syntax tree, reporting every syntax error of a file.

The grammar lives in `grammar/clm.lark` (package data). Parsing is LALR with the contextual
lexer. When a file has errors it is re-parsed declaration by declaration, so each broken
declaration is reported and the good ones are still seen.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lark import Lark
from lark.exceptions import UnexpectedInput

from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Source
from . import grid
from . import syntax as s
from .builder import TreeBuilder
from .keywords import DECLARATIONS
from .syntax_errors import describe_error

__all__ = ["MAX_NESTING", "ParseResult", "grammar_text", "parse", "parse_text"]

# Deeper nesting than this is refused before parsing: no strategy needs it, and the tree
# builder recurses once per level.
MAX_NESTING = 64

_DECLARATIONS = DECLARATIONS  # where the parser resumes after an error


@dataclass(frozen=True)
class ParseResult:
    """The syntax tree (None when nothing could be parsed) and the diagnostics of one file."""

    file: s.File | None
    diagnostics: tuple[Diagnostic, ...]
    source: Source

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def grammar_text() -> str:
    """The text of the Lark grammar shipped with the package."""
    return resources.files("clmlang.language").joinpath("grammar/clm.lark").read_text("utf-8")


# The tree builder runs inside the LALR parser (no intermediate parse tree). It keeps
# per-parse state, so parses take a lock.
_BUILDER = TreeBuilder(Source("<none>", ""))
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,  # the builder needs keyword positions for spans
        maybe_placeholders=True,
        transformer=_BUILDER,
        cache=True,  # the LALR tables, in the temp folder: 0.1 s less at every start
    )


# One pass over the text finds, outside strings: comments, brackets, and lines whose first
# word is a declaration keyword.
_SCAN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"?'  # a string, possibly unterminated (ends at the line end)
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<open>[({])|(?P<close>[)}])"
    r"|^[ \t]*(?P<decl>" + "|".join(sorted(_DECLARATIONS)) + r")(?=\s|$)",
    re.MULTILINE,
)


def _scan(text: str) -> tuple[list[tuple[int, int]], list[int], int | None]:
    """Comment ranges; offsets of lines whose first word is a declaration keyword
    (declarations never nest, so each is a place to resume after an error); and the offset
    where bracket nesting first exceeds MAX_NESTING (or None)."""
    comments: list[tuple[int, int]] = []
    starts: list[int] = []
    too_deep: int | None = None
    depth = 0
    for match in _SCAN.finditer(text):
        kind = match.lastgroup
        if kind == "comment":
            comments.append(match.span())
        elif kind == "open":
            depth += 1
            if depth > MAX_NESTING and too_deep is None:
                too_deep = match.start()
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "decl":
            starts.append(match.start("decl"))
    return comments, starts, too_deep


def _build(source: Source, text: str, offset: int) -> tuple[list[s.Item], list[Diagnostic]]:
    """Parse one piece of the source starting at `offset`; raise UnexpectedInput on error."""
    parser = _lark()
    with _LOCK:
        _BUILDER.reset(source, offset)
        items = parser.parse(text)
        return items, _BUILDER.diagnostics


def parse(source: Source) -> ParseResult:
    """Parse one source file. Never raises on bad input: problems come back as diagnostics."""
    text = source.text
    comment_ranges, starts, too_deep = _scan(text)
    comments = tuple(s.Comment(text[a:b], source.span(a, b)) for a, b in comment_ranges)
    if too_deep is not None:
        diagnostic = Diagnostic(
            "CLM004",
            Severity.ERROR,
            f"nesting deeper than {MAX_NESTING} levels",
            source.span(too_deep, too_deep + 1),
            "split the condition into named segments",
        )
        return ParseResult(None, (diagnostic,), source)
    try:
        items, diagnostics = _build(source, text, 0)
    except UnexpectedInput:
        items, diagnostics = _recover(source, starts)
    except RecursionError:
        return ParseResult(None, (_too_deep(source),), source)
    file = s.File(source.name, tuple(items), comments, source.span(0, len(text)))
    diagnostics = [*diagnostics, *grid.validate(file.items)]
    return ParseResult(file, tuple(diagnostics), source)


def _recover(source: Source, starts: list[int]) -> tuple[list[s.Item], list[Diagnostic]]:
    """Parse each top-level declaration on its own; report the first error of each."""
    text = source.text
    bounds = [0, *[p for p in starts if p > 0], len(text)]
    items: list[s.Item] = []
    diagnostics: list[Diagnostic] = []
    for begin, end in itertools.pairwise(bounds):
        chunk = text[begin:end]
        try:
            got, found = _build(source, chunk, begin)
        except UnexpectedInput as error:
            diagnostics.append(_shifted(error, source, chunk, begin))
            continue
        except RecursionError:
            diagnostics.append(_too_deep(source))
            continue
        items.extend(got)
        diagnostics.extend(found)
    return items, diagnostics


def _shifted(error: UnexpectedInput, source: Source, chunk: str, begin: int) -> Diagnostic:
    """Describe an error in a chunk; an error at the chunk's end means the declaration stopped
    early (the next one began, or the file ended), so point just after its last word."""
    diagnostic = describe_error(error, source, _lark(), begin)
    content_end = begin + len(chunk.rstrip())
    if diagnostic.span is None or diagnostic.span.start < content_end:
        return diagnostic
    expected = diagnostic.message.partition("; expected ")[2]
    keyword = chunk.split(None, 1)[0] if chunk.strip() else "declaration"
    return Diagnostic(
        diagnostic.code,
        diagnostic.severity,
        f"`{keyword}` ends too early; expected {expected}",
        source.span(content_end, content_end),
        diagnostic.hint,
    )


def _too_deep(source: Source) -> Diagnostic:
    return Diagnostic(
        "CLM004",
        Severity.ERROR,
        "expression nested too deeply to read",
        source.span(0, 0),
        "split the condition into named segments",
    )


def parse_text(text: str, name: str = "<string>") -> ParseResult:
    """Parse `.clm` text given as a string."""
    return parse(Source(name, text))
