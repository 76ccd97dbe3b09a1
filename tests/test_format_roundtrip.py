"""Hypothesis: any syntax tree, printed by the formatter, parses back to the same tree."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from clmlang.language.formatter import format_text
from clmlang.language.formatter.printer import INDENT, print_item
from clmlang.language.parser import parse_text

from .strategies import files

settings.register_profile("roundtrip", derandomize=True, max_examples=250, deadline=None)


def _print(items) -> str:  # type: ignore[no-untyped-def]
    lines = [INDENT * line.depth + line.text for item in items for line in print_item(item)]
    return "\n".join(lines) + "\n"


@settings(settings.get_profile("roundtrip"), suppress_health_check=[HealthCheck.too_slow])
@given(files)
def test_printed_trees_parse_back_equal(items):
    """Printing generated declarations and parsing the text gives the same syntax tree."""
    text = _print(items)
    result = parse_text(text)
    assert result.diagnostics == (), (text, result.diagnostics)
    assert list(result.file.items) == items, text


@settings(settings.get_profile("roundtrip"), suppress_health_check=[HealthCheck.too_slow])
@given(files)
def test_formatting_is_idempotent_on_generated_files(items):
    """Formatting a generated file twice changes nothing the second time."""
    once = format_text(_print(items))
    assert format_text(once) == once
