"""Parse `.clm` text into a syntax tree, reporting every syntax error of a file.

The grammar lives in `grammar/clm.lark` (package data). Parsing is LALR with the contextual
lexer. When a file has errors it is re-parsed declaration by declaration, so each broken
declaration is reported and the good ones are still seen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lark import Lark
from lark.exceptions import UnexpectedInput, VisitError

from . import syntax as s
from .builder import TreeBuilder
from .diagnostics import Diagnostic, Severity
from .source import Source
from .syntax_errors import describe_error

__all__ = ["MAX_NESTING", "ParseResult", "grammar_text", "parse", "parse_text"]

# Deeper nesting than this is refused before parsing: no strategy needs it, and the tree
# builder recurses once per level.
MAX_NESTING = 64

_DECLARATIONS = frozenset(
    [
        "program",
        "use",
        "channel",
        "cap",
        "control",
        "product",
        "attribute",
        "audience",
        "rfm",
        "stage",
        "segment",
        "rule",
    ]
)


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
    return resources.files("clmlang").joinpath("grammar/clm.lark").read_text("utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def _scan(text: str) -> tuple[list[tuple[int, int]], list[int], int | None]:
    """One pass over the text, outside strings: comment ranges, offsets of lines whose first
    word is a declaration keyword (declarations never nest, so each is a place to resume after
    an error), and the offset where nesting first exceeds MAX_NESTING (or None)."""
    comments: list[tuple[int, int]] = []
    starts: list[int] = []
    too_deep: int | None = None
    depth = 0
    i, n = 0, len(text)
    line_start = True
    while i < n:
        ch = text[i]
        if line_start and ch.isalpha():
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if text[i:j] in _DECLARATIONS and (j == n or text[j].isspace()):
                starts.append(i)
        if ch == "\n":
            line_start = True
        elif ch not in " \t\r":
            line_start = False
        if ch == "#":
            j = text.find("\n", i)
            j = n if j == -1 else j
            comments.append((i, j))
            i = j
            continue
        if ch == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            i = j + 1 if j < n and text[j] == '"' else j
            continue
        if ch in "({":
            depth += 1
            if depth > MAX_NESTING and too_deep is None:
                too_deep = i
        elif ch in ")}":
            depth = max(0, depth - 1)
        i += 1
    return comments, starts, too_deep


def _build(source: Source, text: str, offset: int) -> tuple[list[s.Item], list[Diagnostic]]:
    """Parse one piece of the source starting at `offset`; raise UnexpectedInput on error."""
    tree = _lark().parse(text)
    builder = TreeBuilder(source, offset)
    try:
        items = builder.transform(tree)
    except VisitError as error:  # an error inside the builder is ours, not the user's
        raise error.orig_exc from None
    return items, builder.diagnostics


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
