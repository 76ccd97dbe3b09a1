"""The words of the language, read from the grammar itself, for highlighters and completion.

Every quoted word in `grammar/clm.lark` is a keyword somewhere (keywords are contextual, so
a word may still be a name elsewhere). Reading them from the grammar text, without building
a parser, keeps the highlighters and the language server's completion in step with the
language: a new keyword in the grammar shows up everywhere at once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

__all__ = [
    "CONSTANTS",
    "DECLARATIONS",
    "OPERATOR_WORDS",
    "RESERVED_NAMES",
    "UNITS",
    "grammar_keywords",
    "keywords_in",
]

# Words that start a top-level declaration (the parser resumes at them after an error).
DECLARATIONS = (
    "program",
    "use",
    "channel",
    "cap",
    "control",
    "product",
    "attribute",
    "event",
    "audience",
    "rfm",
    "stage",
    "segment",
    "rule",
)
CONSTANTS = ("true", "false")
OPERATOR_WORDS = ("and", "or", "not", "in", "is")
# Units are a terminal (UNIT), not quoted words: a number's unit, as `74 days` or `10%`.
UNITS = ("day", "days", "week", "weeks", "month", "months", "year", "years")


def _each(words: str, usage: str) -> dict[str, str]:
    return {w: usage.format(w=w) for w in words.split()}


# Names that are keywords where the name is used. The lexer is contextual, so any word can be
# declared; but where a clause accepts either the name or a keyword, the keyword wins and the
# name cannot be used there (`offer bonus` is an offer of a bonus, not of a product `bonus`).
# Such names are refused at the declaration (CLM105), with the clause that would misread them.
# tests/test_keywords_as_names.py checks each entry against the parser, and that no other
# keyword collides. Reachable words that are not listed (`storage`, `every`) are fine names.
RESERVED_NAMES: dict[str, dict[str, str]] = {
    "product": {
        **_each(
            "active bonus continue discount exit for holdout in line on priority reentry send "
            "stop success tag transactional variant wait when where",
            "`offer {w}`",
        ),
        **_each("true false not", "`owns({w})`"),
    },
    "channel": {**_each("true false not line", "`messages({w}, 7 days)`"), "tag": "`cap tag 1`"},
    "stage": {"not": "`stage is not`"},
    "segment": _each("true false not", "`for {w}`"),
    "attribute": {
        **_each("purchase first enter leave exit event", "`3 days after {w}`"),
        "anniversary": "`3 days before anniversary`",
        **_each("true false not line", "`days_since({w})`"),
    },
    "audience": {"not": "`audience is not`"},
    "event": {"line": "`events of line`"},
}

_QUOTED_WORD = re.compile(r'"([a-z_]+)"')
_COMMENT = re.compile(r"//[^\n]*")


def keywords_in(grammar: str) -> frozenset[str]:
    """The quoted words of a Lark grammar text, comments left out."""
    return frozenset(_QUOTED_WORD.findall(_COMMENT.sub("", grammar)))


@lru_cache(maxsize=1)
def grammar_keywords() -> frozenset[str]:
    """Every keyword of the `.clm` grammar shipped with the package."""
    text = resources.files("clmlang.language").joinpath("grammar/clm.lark").read_text("utf-8")
    return keywords_in(text)
