"""Keywords as names: a name that a clause would read as a keyword is refused where it is
declared (CLM105), and every other word of the language stays a usable name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clmlang.language.keywords import RESERVED_NAMES, grammar_keywords
from clmlang.language.parser import parse_text

# Where each kind of name is written after its declaration. `{w}` is the name.
USES = {
    "product": [
        'rule r {{ send email "x" offer {w} }}',
        'rule r {{ send email "x" offer {w} discount 10% }}',
        'rule r {{ on purchase of {w} send email "x" }}',
        "segment g when owns({w})",
        "segment g when last_product is {w}",
        "product u attach to {w}",
    ],
    "channel": [
        'rule r {{ send {w} "x" }}',
        "cap {w} 1 per 7 days",
        "segment g when messages({w}, 7 days) > 1",
        "segment g when unsubscribed({w})",
    ],
    "stage": [
        "rule r {{ in stage a, {w} }}",
        "rule r {{ on enter {w} }}",
        "rule r {{ on leave {w} }}",
        "segment g when stage is {w}",
        "rule r {{ success enter {w} within 3 days }}",
    ],
    "segment": ["rule r {{ for {w} }}", "segment g when {w} and purchases > 1"],
    "attribute": [
        "rule r {{ on 3 days after {w} }}",
        "rule r {{ on 3 days before {w} }}",
        "rule r {{ on anniversary of {w} }}",
        "segment g when days_since({w}) > 1",
        "segment g when {w} > 3",
    ],
    "audience": ["segment g when audience is {w}"],
    "event": [
        "rule r {{ on event {w} }}",
        "rule r {{ on 3 days after event {w} }}",
        "rule r {{ success event {w} within 3 days }}",
        "segment g when events of {w} > 1",
        "segment g when days_since_event of {w} < 7",
    ],
}


def _read_as_name(text: str, word: str) -> bool:
    """The text parses, and `word` is in its syntax tree as a name (not as a keyword)."""
    result = parse_text(text)
    return result.ok and f"Name(text='{word}'" in repr(result.file.items)


@pytest.mark.parametrize("kind", sorted(USES))
def test_reserved_names_are_exactly_the_keywords_that_collide(kind):
    """Each reserved word is misread in some use of the name; no other keyword is."""
    colliding = {
        word
        for word in grammar_keywords()
        if not all(_read_as_name(use.format(w=word), word) for use in USES[kind])
    }
    assert colliding == set(RESERVED_NAMES[kind])


@pytest.mark.parametrize(
    ("declaration", "name"),
    [
        ("product bonus role profit price 10", "bonus"),
        ("product line price 10", "line"),
        ("channel tag cost 1", "tag"),
        ("stage not when purchases > 0", "not"),
        ("segment true when purchases > 0", "true"),
        ("attribute purchase date", "purchase"),
        ("audience not", "not"),
        ("event line", "line"),
        ("attribute event date", "event"),
    ],
)
def test_a_reserved_name_is_refused_at_its_declaration(declaration, name):
    """CLM105 points at the name in the declaration and says which clause would misread it."""
    (d,) = parse_text(declaration).diagnostics
    assert d.code == "CLM105"
    assert declaration[d.span.column - 1 : d.span.end_column - 1] == name
    assert "rename" in d.hint


def test_keywords_that_do_not_collide_stay_names():
    """`every`, `storage`-like words and keywords of other clauses are fine product names."""
    for word in ("every", "reward", "purchase", "schedule", "first", "daily"):
        result = parse_text(
            f"product {word} role profit price 3\n"
            f'rule r {{ on purchase of {word} send email "x" offer {word} discount 5% }}'
        )
        assert result.diagnostics == (), word


def test_the_reserved_words_are_listed_in_the_language_docs():
    """docs/language.md lists, for each kind of name, exactly the words refused."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text()
    for kind, words in RESERVED_NAMES.items():
        row = re.search(rf"^\| {kind} \| (.*) \|$", doc, re.MULTILINE)
        assert row, kind
        listed = set(re.findall(r"`([a-z_]+)`", row.group(1).split(" (")[0]))
        assert listed == set(words), kind
