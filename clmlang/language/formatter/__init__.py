"""`clm fmt`: one canonical layout for `.clm` files, comments kept.

Layout: two-space indentation; simple declarations on one line with their clauses in a fixed
order; a rule's header clauses first (in stage, for, on, when, active, priority, holdout,
reentry, exit when, variants), then its steps, success and branches; a branch of one step
on one line; the fewest parentheses that parse back to the same tree; numbers and units as
written; at most one blank line in a row, kept where the source had one, and always around
rules and `rfm` blocks.

Comments: a comment on its own line travels with the code after it (so it follows its
clause when clauses are reordered); a comment after code stays at the end of that code's
line. No comment is ever lost.

The formatter is sound (the formatted text parses to the same syntax tree) and idempotent.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from ...core.diagnostics import ClmError, Diagnostic
from ...core.source import Source
from .. import syntax as s
from ..parser import parse
from .printer import INDENT, Line, print_item

__all__ = ["FormatResult", "format_file", "format_source", "format_text"]


@dataclass(frozen=True)
class FormatResult:
    """The formatted text, or None when the file does not parse (the diagnostics say why)."""

    text: str | None
    diagnostics: tuple[Diagnostic, ...]


def format_source(source: Source) -> FormatResult:
    """Format one file as written (its `use`d files are not touched)."""
    result = parse(source)
    if not result.ok or result.file is None:
        return FormatResult(None, result.diagnostics)
    return FormatResult(format_file(result.file, source), ())


def format_text(text: str, name: str = "<string>") -> str:
    """Format `.clm` text; raise `ClmError` when it does not parse."""
    source = Source(name, text)
    result = format_source(source)
    if result.text is None:
        raise ClmError(result.diagnostics, {name: source})
    return result.text


def format_file(file: s.File, source: Source) -> str:
    """The canonical text of a parsed file, with its comments put back."""
    items = [print_item(item) for item in file.items]
    lines = [line for item_lines in items for line in item_lines]
    own, trailing = _split_comments(file.comments, source)
    leading = _attach_leading(lines, own)
    ends = _attach_trailing(lines, trailing)
    out: list[str] = []
    item_of_line = [i for i, item_lines in enumerate(items) for _ in item_lines]
    previous_item = -1
    for index, line in enumerate(lines):
        before = leading.get(index, [])
        first_source_line = before[0].span.line if before else line.first
        new_item = item_of_line[index] != previous_item
        if out and _blank_wanted(
            source, first_source_line, line, new_item, lines, index, items, item_of_line
        ):
            out.append("")
        depth = line.depth + 1 if line.closes else line.depth
        for n, comment in enumerate(before):
            if n and _blank_above(source, comment.span.line):
                out.append("")
            out.append(INDENT * depth + comment.text.rstrip())
        if before and not line.closes and _blank_above(source, line.first):
            out.append("")
        text = INDENT * line.depth + line.text
        comments = ends.get(index, [])
        if comments:
            text += "  " + comments[0].text.rstrip()
        out.append(text)
        out.extend(INDENT * line.depth + c.text.rstrip() for c in comments[1:])
        previous_item = item_of_line[index]
    tail = leading.get(len(lines), [])
    if tail:
        if out and source.line_text(tail[0].span.line - 1).strip() == "":
            out.append("")
        out.extend(c.text.rstrip() for c in tail)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def _split_comments(comments, source):  # type: ignore[no-untyped-def]
    own, trailing = [], []
    for comment in comments:
        before = source.line_text(comment.span.line)[: comment.span.column - 1]
        (own if before.strip() == "" else trailing).append(comment)
    return own, trailing


def _attach_leading(lines: list[Line], comments) -> dict[int, list]:  # type: ignore[no-untyped-def]
    """Each own-line comment goes before the first line that starts after it in the source."""
    order = sorted(range(len(lines)), key=lambda i: (lines[i].first, i))
    starts = [lines[i].first for i in order]
    attached: dict[int, list] = {}
    for comment in comments:
        at = bisect_right(starts, comment.span.line)
        target = order[at] if at < len(order) else len(lines)
        attached.setdefault(target, []).append(comment)
    return attached


def _attach_trailing(lines: list[Line], comments) -> dict[int, list]:  # type: ignore[no-untyped-def]
    """Each end-of-line comment stays with the last output line holding code of its line."""
    attached: dict[int, list] = {}
    for comment in comments:
        line_no = comment.span.line
        holders = [i for i, line in enumerate(lines) if line.first <= line_no <= line.last]
        if holders:
            best = max(holders, key=lambda i: (lines[i].first, i))
        else:  # its code was folded into an earlier line: keep it right after that line
            best = max((i for i, line in enumerate(lines) if line.first <= line_no), default=0)
        attached.setdefault(best, []).append(comment)
    return attached


def _blank_above(source: Source, line: int) -> bool:
    return line > 1 and source.line_text(line - 1).strip() == ""


def _blank_wanted(source, first_line, line, new_item, lines, index, items, item_of_line) -> bool:  # type: ignore[no-untyped-def]
    """A blank line before `line`: where the source had one, and around blocks."""
    if new_item:
        this_block = lines[index].block
        previous = lines[index - 1]
        if this_block or previous.block:
            return True
    elif line.closes and not line.block:
        return False
    if line.closes:
        return False
    return first_line > 1 and source.line_text(first_line - 1).strip() == ""
