"""Turn Lark's parse exceptions into diagnostics that say in words what was expected."""

from __future__ import annotations

from collections.abc import Iterable

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from ..core.diagnostics import Diagnostic, Severity
from ..core.names import suggest
from ..core.source import Source
from .keywords import DECLARATIONS

__all__ = ["describe_error"]

# Words for the named terminals of clm.lark. Keywords are shown as themselves, in backticks.
_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted text like "Hello"',
    "UNIT": "a unit (days, weeks, months, years, %, or a currency code)",
    "COMPARE": "a comparison (>=, <=, ==, !=, >, <)",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "DATE": "a date like 2026-12-31",
    "MONTH_DAY": "a month and day like 12-31",
    "OVERFLOW": "`skip` or `delay`",
    "RFM_AXIS": "`recency`, `frequency` or `monetary`",
    "$END": "the end of the file",
}
_DECLARATIONS = DECLARATIONS  # where the parser resumes after an error
# The keywords that start a clause of a rule (its header clauses and its steps).
_RULE_CLAUSES = frozenset(
    "in for when on priority holdout reentry active exit variant send wait continue stop "
    "success".split()
)
# Comma-separated lists, by the keyword before them, and what their items are.
_LISTS = {"tag": "tags", "stage": "stages", "to": "products or lines", "RFM_AXIS": "boundaries"}


def _terminal_words(parser: Lark, names: Iterable[str]) -> list[str]:
    words: set[str] = set()
    for name in names:
        if name in _WORDS:
            words.add(_WORDS[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if isinstance(pattern, PatternStr):
            words.add(f"`{pattern.value}`")
    return sorted(words, key=lambda w: (not w.startswith("a "), w))


def _keywords(parser: Lark, names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if isinstance(pattern, PatternStr) and pattern.value.isalpha():
            out.append(pattern.value)
    return out


def _expected_phrase(parser: Lark, expected: Iterable[str]) -> str:
    expected = set(expected)
    keywords = set(_keywords(parser, expected))
    words = _terminal_words(parser, expected)
    if set(_DECLARATIONS) <= keywords:
        # At the top level every declaration keyword is possible; say so in one phrase.
        words = [w for w in words if w.strip("`") not in _DECLARATIONS]
        words.insert(0, "a declaration (`channel`, `product`, `stage`, `rule`, ...)")
    elif len(words) > 16 and len(_RULE_CLAUSES & keywords) >= 10:
        # Inside a rule after a complete clause: any clause may come next; one phrase too.
        words = [w for w in words if w.strip("`") not in _RULE_CLAUSES]
        words.insert(0, "the rule's next clause (`send`, `wait`, `success`, `on`, `when`, ...)")
    if len(words) > 1 and "`{`" in words:
        # a `{` among other options is a grid rule's `{placeholder}`: not what a reader
        # who is not writing a grid rule wants to hear
        words.remove("`{`")
    if len(words) > 16:
        words = [*words[:15], "..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _found(token_type: str, value: str) -> str:
    if token_type == "$END":
        return "the file ends too early"
    shown = value if len(value) <= 30 else value[:27] + "..."
    return f"unexpected `{shown}`"


def describe_error(
    error: UnexpectedInput, source: Source, parser: Lark, offset: int = 0
) -> Diagnostic:
    """One diagnostic for one Lark error, positioned in `source` (shifted by `offset`)."""
    if isinstance(error, UnexpectedCharacters):
        start = error.pos_in_stream + offset
        char = source.text[start] if start < len(source.text) else ""
        span = source.span(start, start + 1)
        if char == '"':
            return Diagnostic(
                "CLM002",
                Severity.ERROR,
                "this text has no closing quote",
                span,
                'close it on the same line: "like this"',
            )
        if char == "\ufffd":
            return Diagnostic(
                "CLM003",
                Severity.ERROR,
                "bytes that are not valid UTF-8",
                span,
                "save the file as UTF-8",
            )
        shown = repr(char)[1:-1] if not char.isprintable() else char
        expected = _expected_phrase(parser, error.allowed or ())
        return Diagnostic(
            "CLM001",
            Severity.ERROR,
            f"unexpected character `{shown}`; expected {expected}",
            span,
            "remove it, or put text in double quotes",
        )
    if isinstance(error, UnexpectedEOF):
        end = len(source.text.rstrip())
        expected = _expected_phrase(parser, error.expected)
        hint = "a `{` is not closed" if "RBRACE" in error.expected else "the file ends too early"
        return Diagnostic(
            "CLM001",
            Severity.ERROR,
            f"the file ends here; expected {expected}",
            source.span(end, end),
            hint,
        )
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type == "$END":
        start = end = len(source.text.rstrip())
    else:
        start = (token.start_pos or 0) + offset
        end = (token.end_pos or start) + offset
    expected_names = set(error.expected)
    stack = _value_stack(error)
    items = _list_items(stack) if "COMMA" in expected_names else None
    if items == _LISTS["RFM_AXIS"]:
        # the state before a quantity is reduced expects too much to list; say what fits
        expected = "`,` between boundaries, or the next axis (`recency`, `frequency`, `monetary`)"
        expected += " or `}`"
    elif items is not None:
        rest = _expected_phrase(parser, expected_names - {"COMMA"})
        expected = f"`,` between {items}, or {rest}"
    else:
        expected = _expected_phrase(parser, expected_names)
    hint = (
        _amount_hint(stack)
        or _exponent_hint(stack, token)
        or _hint(parser, str(token), token.type, expected_names)
    )
    last = stack[-1] if stack else None
    if items is not None and str(token).isidentifier() and getattr(last, "type", "") == "NAME":
        hint = f"separate {items} with commas: `{last}, {token}`"
    return Diagnostic(
        "CLM001",
        Severity.ERROR,
        f"{_found(token.type, str(token))}; expected {expected}",
        source.span(start, end),
        hint,
    )


def _value_stack(error: UnexpectedToken) -> list[object]:
    """What the parser had read of the declaration when it stopped (tokens and built nodes)."""
    try:
        return list(error.interactive_parser.parser_state.value_stack)
    except AttributeError:
        return []


def _list_items(stack: list[object]) -> str | None:
    """The items of the comma-separated list the parser is in (`tag promo| sale`), if any."""
    i = len(stack) - 1
    while i > 0 and not (isinstance(stack[i], Token) and stack[i].type not in _ITEMS):
        i -= 1
    if i <= 0 or i == len(stack) - 1:
        return None
    opener = stack[i]
    return _LISTS.get(opener.type) or _LISTS.get(str(opener))


_ITEMS = ("NAME", "COMMA", "NUMBER", "UNIT")


def _amount_hint(stack: list[object]) -> str | None:
    """`offer bonus }`: the offer term has no amount; perhaps a product was meant."""
    last = stack[-1] if stack else None
    if isinstance(last, Token) and str(last) in ("bonus", "discount") and len(stack) > 1:
        return (
            f"`{last}` needs an amount: `{last} {'500' if str(last) == 'bonus' else '10%'}`; "
            f"a product cannot be called `{last}` (CLM105)"
        )
    return None


def _exponent_hint(stack: list[object], token: Token) -> str | None:
    """`cost 1e6`: the number ends at the `e`, and the `e6` after it is a name."""
    last = stack[-1] if stack else None
    text = str(token)
    if (
        isinstance(last, Token)
        and last.type == "NUMBER"
        and last.end_pos == token.start_pos
        and text[:1] in ("e", "E")
        and text[1:].isdigit()
    ):
        written = f"{last}{text}"
        value = float(written)
        full = f": `{value:.0f}`" if value < 1e16 else ""
        return f"write the number out in full{full}; `{written}` (an exponent) is not a number here"
    return None


def _hint(parser: Lark, value: str, token_type: str, expected: set[str]) -> str | None:
    keywords = _keywords(parser, expected)
    hint = suggest(value, keywords, cutoff=0.7)
    if hint:
        return hint
    if token_type == "$END" and "RBRACE" in expected:
        return "a `{` is not closed"
    if token_type == "RBRACE":
        return "a `}` with no matching `{`, or a clause before it is incomplete"
    if "UNIT" in expected and token_type != "UNIT":
        return "durations need a unit: `14 days`, `2 weeks`, `6 months`"
    if value in _DECLARATIONS:
        return "a declaration cannot start here: is a clause before it incomplete?"
    return None
