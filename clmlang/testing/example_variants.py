"""The A/B variants the examples name: `sends = [{ rule = "refill", variant = "B" }]` checks
that variant's first message (docs/testing.md). A name the rule does not have is a problem of
the test file, found with its other checks before any test runs and placed on the name as
written, with the rule's variants and the closest of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..compile.policy import Policy
from ..core.names import did_you_mean
from .testfile import TestFile

__all__ = ["variant_problems"]

_EXAMPLE = re.compile(r"\s*\[\[\s*example\s*\]\]")
_TABLE = re.compile(r"\s*\[\[?\s*[A-Za-z_\"']")
_INSIDE = re.compile(r"\s*\[\[?\s*example\s*\.")  # a table of the example's own: [[example.sends]]
_SENDS = re.compile(r"\s*\[\[\s*example\s*\.\s*sends\s*\]\]")
# a `variant` key inside an inline table (TOML keeps one on one line): its quoted value
_WRITTEN = re.compile(r"""[{,]\s*(?:variant|"variant"|'variant')\s*=\s*("([^"\\]*)"|'([^']*)')""")
# the same key on a line of its own, in a `[[example.sends]]` table
_LINE = re.compile(r"""[ \t]*(?:variant|"variant"|'variant')[ \t]*=[ \t]*("([^"\\]*)"|'([^']*)')""")


def variant_problems(
    test_file: TestFile, policy: Policy
) -> tuple[list[tuple[str, str]], dict[str, tuple[int, int]]]:
    """Each `sends` entry naming a variant its rule does not have, as (dotted key, message),
    and where each name is written (character offsets in the file's text, for the caret).
    A rule the spec lacks is left to the example (its failure says which rules there are)."""
    try:
        text = Path(test_file.path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""
    rules = {rule.name: rule for rule in policy.rules}
    attributes = {a.name for a in policy.attributes}
    regions = _example_regions(text)
    problems: list[tuple[str, str]] = []
    places: dict[str, tuple[int, int]] = {}
    for i, ex in enumerate(test_file.example):
        if "variant" in (ex.model_extra or {}) and "variant" not in attributes:
            problems.append(
                (
                    f"example.{i}.variant",
                    "a variant is named in the `sends` entry of its rule:"
                    ' sends = [{ rule = "...", variant = "..." }]',
                )
            )
        start, end, tables = regions[i] if i < len(regions) else (0, 0, [])
        written = sorted(
            [*_WRITTEN.finditer(text, start, end), *_line_keys(text, tables)],
            key=lambda m: m.start(),
        )
        named = sum(send.variant is not None for send in ex.sends)
        k = -1  # the entries naming a variant, counted
        for j, send in enumerate(ex.sends):
            k += send.variant is not None
            rule = rules.get(send.rule)
            if send.variant is None or rule is None:
                continue
            names = [v.name for v in rule.variants]
            if send.variant in names:
                continue
            key = f"example.{i}.sends.{j}.variant"
            problems.append((key, _message(send.rule, send.variant, names)))
            # the k-th `variant =` written is the k-th entry naming one, if each is written so
            found = written[k] if len(written) == named else None
            if found is None:
                found = next((m for m in written if _value(m) == send.variant), None)
            if found is not None:
                places[key] = (found.start(1) + 1, max(found.end(1) - 1, found.start(1) + 2))
    return problems, places


def _message(rule: str, variant: str, names: list[str]) -> str:
    if not names:
        return f"`{rule}` has no A/B variants: leave `variant` out to check its message"
    same = next((n for n in names if n.casefold() == variant.casefold()), None)
    hint = f" (did you mean `{same}`?)" if same else did_you_mean(variant, names)
    listed = ", ".join(f"`{n}`" for n in names)
    return f"`{rule}` has no variant `{variant}`{hint}; its variants: {listed}"


def _value(match: re.Match[str]) -> str:
    return match.group(2) if match.group(2) is not None else match.group(3)


def _line_keys(text: str, tables: list[tuple[int, int]]) -> list[re.Match[str]]:
    """The `variant = "..."` lines of the `[[example.sends]]` tables in `tables` (ranges)."""
    found = []
    for start, end in tables:
        at = start
        for line in text[start:end].splitlines(keepends=True):
            match = _LINE.match(text, at, at + len(line))
            if match:
                found.append(match)
            at += len(line)
    return found


def _example_regions(text: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """The character range of each `[[example]]` table, in order: from its header to the
    next table's that is not one of its own (`[[example.sends]]`), with the ranges of its
    `[[example.sends]]` tables."""
    regions: list[tuple[int, int, list[tuple[int, int]]]] = []
    offset, begin, tables, sends = 0, None, [], None
    for line in text.splitlines(keepends=True):
        if _TABLE.match(line):
            if sends is not None:
                tables.append((sends, offset))
                sends = None
            if begin is not None and _INSIDE.match(line):
                sends = offset if _SENDS.match(line) else None
            else:
                if begin is not None:
                    regions.append((begin, offset, tables))
                    begin, tables = None, []
                if _EXAMPLE.match(line):
                    begin = offset
        offset += len(line)
    if sends is not None:
        tables.append((sends, offset))
    if begin is not None:
        regions.append((begin, offset, tables))
    return regions
