"""What may be typed at the cursor: keywords from the grammar and the names a spec declares.

The words before the cursor pick the candidates: after `send` a channel, after `offer` a
product, after `in stage` a stage, after `continue with` a rule; in a condition the
segments, attributes, built-in fields and functions; at the start of a line a declaration
keyword. Anywhere else every keyword and name, so the list is never empty by mistake.
Right after a keyword that declares a new name (`stage`, `rule`, ...) there is nothing to
offer: the name is new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..language.keywords import DECLARATIONS, grammar_keywords
from ..language.vocabulary import (
    ATTRIBUTE_TYPES,
    CHANNEL_KINDS,
    EVENT_FIELDS,
    FIELDS,
    FUNCTIONS,
    ROLES,
    WEEKDAYS,
)
from .index import Index

__all__ = ["Candidate", "complete", "word_before"]


@dataclass(frozen=True)
class Candidate:
    """One completion: the text, what it is (`keyword`, `stage`, `field`, ...) and a detail."""

    label: str
    kind: str
    detail: str = ""


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\S')
_CONDITION_WORDS = {"when", "for", "and", "or", "not", "(", ">=", "<=", "==", "!=", ">", "<"}
# After these words comes the name of something declared, of these kinds.
_NAME_AFTER = {
    "send": ("channel",),
    "with": ("rule",),
    "enter": ("stage", "segment"),
    "leave": ("stage", "segment"),
    "line": ("line",),
    "tag": ("tag",),
    "to": ("product",),
    "is": ("stage", "audience", "product"),
}
# `stage is loyal`, `audience is premium`, `last_product is facial`
_IS_KINDS = {
    "stage": ("stage",),
    "previous_stage": ("stage",),
    "audience": ("audience",),
    "last_product": ("product",),
}
# A new name follows these: nothing to complete.
_EVENT_FIELD_DOCS = {
    "events": "times the customer had an event since the run began: `events of cart_abandoned`",
    "days_since_event": "days since the customer last had an event: "
    "`days_since_event of cart_abandoned`",
}
_NEW_NAME = {"channel", "product", "attribute", "audience", "stage", "segment", "rule", "variant"}


def word_before(text: str, offset: int) -> str:
    """The part of a name typed just before `offset` (empty at a word boundary)."""
    match = _WORD.search(text[max(0, offset - 200) : offset])
    return match.group(0) if match else ""


def _previous_tokens(text: str, offset: int, count: int = 40) -> list[str]:
    """The last few tokens before the cursor, comments and texts skipped."""
    begin = text.rfind("\n", 0, max(0, offset - 400)) + 1  # a line start: no string cut
    tokens = [t for t in _TOKENS.findall(text[begin:offset]) if not t.startswith(("#", '"'))]
    return tokens[-count:]


def complete(index: Index, text: str, offset: int) -> list[Candidate]:
    """Candidates for the cursor at `offset` of `text` (the document the index was built on)."""
    offset = max(0, min(offset, len(text)))
    typed = word_before(text, offset)
    before = _previous_tokens(text, offset - len(typed))
    last = before[-1] if before else ""
    line_start = text.rfind("\n", 0, offset - len(typed)) + 1
    at_line_start = text[line_start : offset - len(typed)].strip() == ""
    candidates = _for_context(index, before, last, at_line_start)
    return [c for c in candidates if c.label.startswith(typed) or not typed]


def _for_context(
    index: Index, before: list[str], last: str, at_line_start: bool
) -> list[Candidate]:
    previous = before[-2] if len(before) >= 2 else ""
    head = _list_head(before)
    if (previous, last) == ("in", "stage") or head == ("in", "stage"):
        return _names(index, ("stage",))
    if last == "event":  # `on event |`, `after event |`, `success event |`; else a declaration
        return _names(index, ("event",)) if previous in ("on", "after", "success") else []
    if last in _NEW_NAME and not (last == "stage" and previous in ("in", "enter", "leave")):
        return []
    if head[1] in ("to", "tag"):  # `attach to a, b, |`, `tag promo, |`
        return _names(index, ("product",) if head[1] == "to" else ("tag",))
    if last == "is" or (last == "not" and previous == "is"):
        subject = before[-2] if last == "is" else before[-3] if len(before) >= 3 else ""
        return _names(index, _IS_KINDS.get(subject, _NAME_AFTER["is"]))
    if last in _NAME_AFTER:
        return _names(index, _NAME_AFTER[last])
    if last == "offer":
        return _names(index, ("product",)) + _keywords(("line", "discount", "bonus"))
    if last == "of" and previous in EVENT_FIELDS:
        return _names(index, ("event",))
    if last == "of":
        extra = _keywords(("line",)) if previous == "purchase" else _keywords(("inactivity",))
        return _names(index, ("product", "attribute")) + extra
    if last == "role":
        return [Candidate(role, "value", meaning) for role, meaning in ROLES.items()]
    if last == "kind":
        return [Candidate(kind, "value", meaning) for kind, meaning in CHANNEL_KINDS.items()]
    if last == "cap":
        return _names(index, ("channel",)) + _keywords(("tag",))
    if previous == "attribute":
        return [Candidate(t, "value", f"{t} attribute") for t in ATTRIBUTE_TYPES]
    if last == "on" and previous == "weekly":
        return [Candidate(day, "value") for day in WEEKDAYS]
    if last in _CONDITION_WORDS:
        return _condition(index)
    if (at_line_start and last in ("", "}")) or not before:
        return _keywords(DECLARATIONS)
    return (
        _keywords(sorted(grammar_keywords()))
        + _condition(index)
        + _names(index, ("stage", "product", "channel", "rule", "audience", "line", "tag"))
    )


def _list_head(before: list[str]) -> tuple[str, str]:
    """After `a, b, |` in a list of names: the two tokens before the list (`in`, `stage`)."""
    i = len(before) - 1
    if i < 0 or before[i] != ",":
        return "", ""
    while i >= 1 and before[i] == "," and before[i - 1].isidentifier():
        i -= 2
    return (before[i - 1] if i >= 1 else ""), (before[i] if i >= 0 else "")


def _keywords(words) -> list[Candidate]:  # type: ignore[no-untyped-def]
    return [Candidate(word, "keyword") for word in words]


def _names(index: Index, kinds: tuple[str, ...]) -> list[Candidate]:
    out: list[Candidate] = []
    for kind in kinds:
        for name, symbol in index.declared(kind).items():
            title = getattr(symbol.node, "title", None) if kind not in ("line", "tag") else None
            out.append(Candidate(name, kind, title or kind))
    return out


def _condition(index: Index) -> list[Candidate]:
    fields = [Candidate(f.name, "field", f.doc) for f in FIELDS.values()]
    fields += [Candidate(name, "field", doc) for name, doc in _EVENT_FIELD_DOCS.items()]
    functions = [Candidate(f.name, "function", f.doc) for f in FUNCTIONS.values()]
    return (
        _names(index, ("segment", "attribute"))
        + fields
        + functions
        + _keywords(("not", "true", "false"))
    )
