"""A Pygments lexer for `.clm` specs, so documentation renders ```clm blocks highlighted.

Registered as a Pygments plugin (the `pygments.lexers` entry point in pyproject.toml):
once clmlang is installed, `pygmentize -l clm`, Sphinx, MkDocs and Python-Markdown's
codehilite find it by the name `clm`. The keywords come from the grammar (`keywords.py`);
built-in fields and functions from `vocabulary.py`. The lexer never fails: text it cannot
place is an `Error` token, and no valid spec has one.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from .keywords import CONSTANTS, DECLARATIONS, OPERATOR_WORDS, UNITS, grammar_keywords
from .vocabulary import EVENT_FIELDS, FIELDS, FUNCTIONS

__all__ = ["ClmLexer"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# After `stage` in a condition (`stage is loyal`) the next word is an operator, not a name.
_DECLARED_NAME = r"(?!(?:and|or|not|in|is|when)\b)" + _NAME
# Declarations whose next word is the name they declare, and the token that name gets.
_DECLARED = {
    "channel": Name.Variable,
    "product": Name.Class,
    "attribute": Name.Attribute,
    "event": Name.Attribute,
    "audience": Name.Label,
    "stage": Name.Constant,
    "segment": Name.Label,
    "rule": Name.Function,
    "variant": Name.Function,
}
_OTHER_KEYWORDS = sorted(
    grammar_keywords() - set(DECLARATIONS) - set(CONSTANTS) - set(OPERATOR_WORDS) - {"variant"}
)


class ClmLexer(RegexLexer):
    """Lexer for `.clm` customer lifecycle specs."""

    name = "clm"
    aliases = ["clm", "clmlang"]  # noqa: RUF012  (Pygments reads these class attributes)
    filenames = ["*.clm"]  # noqa: RUF012
    mimetypes = ["text/x-clm"]  # noqa: RUF012
    url = "https://pypi.org/project/clmlang/"

    tokens = {  # noqa: RUF012
        "root": [
            (r"[ \t\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r'"(?:[^"\\\n]|\\.)*', String.Double),  # unterminated: the checker says so
            (r"\d{4}-\d{2}-\d{2}\b", Number.Other),  # a date
            (r"\d{2}-\d{2}\b", Number.Other),  # a day of the year
            (
                r"(\d+(?:\.\d+)?)([ \t]*)" + r"((?:days?|weeks?|months?|years?|[A-Z]{3})\b|%)",
                bygroups(Number, Whitespace, Keyword.Type),
            ),
            (r"\d+(?:\.\d+)?", Number),
            (r"\b(currency)([ \t]+)([A-Z]{3})\b", bygroups(Keyword, Whitespace, Keyword.Type)),
            (r"\brfm\.[rfm]\b", Name.Builtin),
            (r"\b(?:stage|previous_stage|audience)\b(?=\s+is\b)", Name.Builtin),  # fields
            *(
                (
                    rf"\b({word})(\s+)({_DECLARED_NAME})",
                    bygroups(Keyword.Declaration, Whitespace, token),
                )
                for word, token in _DECLARED.items()
            ),
            (words((*DECLARATIONS, "variant"), prefix=r"\b", suffix=r"\b"), Keyword.Declaration),
            (words(CONSTANTS, prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (words(OPERATOR_WORDS, prefix=r"\b", suffix=r"\b"), Operator.Word),
            (words(_OTHER_KEYWORDS, prefix=r"\b", suffix=r"\b"), Keyword),
            (words(UNITS, prefix=r"\b", suffix=r"\b"), Keyword.Type),
            (words(tuple(FUNCTIONS), prefix=r"\b", suffix=r"(?=\s*\()"), Name.Builtin),
            (
                words(
                    (*(f for f in FIELDS if "." not in f), *EVENT_FIELDS),
                    prefix=r"\b",
                    suffix=r"\b",
                ),
                Name.Builtin,
            ),
            (_NAME, Name),
            (r">=|<=|==|!=|>|<|\+|-|\*|/|\.\.", Operator),
            (r"[{}(),.:]", Punctuation),
            (r"[^\s]", Error),
        ]
    }
