"""Behavioural events in the language: `event NAME` declarations, `on event NAME` (as a
trigger, an anchor and a success), `events of NAME` and `days_since_event of NAME`; parsed,
checked, compiled, formatted back, explained, and known to the language server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import clmlang
from clmlang.api import analyse_text, explain
from clmlang.compile.explanation import CustomerError
from clmlang.compile.policy import FORMAT_VERSION
from clmlang.language import syntax as s
from clmlang.language.formatter import format_text
from clmlang.language.parser import parse_text
from clmlang.lsp.completion import complete
from clmlang.lsp.document import Document

SPEC = """program "Shop" currency EUR
channel email cost 0.01 EUR
event cart_abandoned "Left a full cart"
event page_visit

stage browsing when days_since_event of page_visit <= 7
stage other when not days_since_event of page_visit <= 7

rule cart_reminder {
  on event cart_abandoned
  when events of cart_abandoned <= 3
  reentry once per 7 days
  send email "Your cart is waiting"
  success purchase within 7 days
}

rule survey {
  on 3 days after event page_visit
  send email "How was it?"
  success event cart_abandoned within 14 days
}
"""


def _diagnostics(text: str) -> list[tuple[str, str, str | None]]:
    return [(d.code, d.message, d.hint) for d in analyse_text(text, "t.clm").diagnostics]


def test_parsed_as_declarations_triggers_anchors_successes_and_fields():
    """The tree holds the events by name, wherever they are written."""
    result = parse_text(SPEC)
    assert result.ok
    items = result.file.items
    declared = [i for i in items if isinstance(i, s.CustomerEvent)]
    assert [(e.name.text, e.title) for e in declared] == [
        ("cart_abandoned", "Left a full cart"),
        ("page_visit", None),
    ]
    rules = {i.name.text: i for i in items if isinstance(i, s.Rule)}
    trigger = rules["cart_reminder"].trigger
    assert trigger.kind is s.EventKind.EVENT and trigger.behaviour.text == "cart_abandoned"
    anchor = rules["survey"].trigger.anchor
    assert anchor.kind is s.EventKind.EVENT and anchor.behaviour.text == "page_visit"
    success = rules["survey"].flow.success.event
    assert success.behaviour.text == "cart_abandoned"
    condition = rules["cart_reminder"].condition
    assert isinstance(condition.left, s.FieldOf) and condition.left.field.text == "events"


def test_the_spec_checks_clean_formats_back_and_compiles():
    """No diagnostics; `clm fmt` leaves it as it is; the policy names the events."""
    assert _diagnostics(SPEC) == []
    assert format_text(SPEC) == SPEC
    policy = clmlang.loads(SPEC)
    assert [e.name for e in policy.events] == ["cart_abandoned", "page_visit"]
    rule = policy.rule("cart_reminder")
    assert rule.trigger.kind == "event"
    assert (rule.trigger.event.kind, rule.trigger.event.name) == ("event", "cart_abandoned")
    survey = policy.rule("survey")
    assert (survey.trigger.kind, survey.trigger.event.name) == ("after", "page_visit")
    assert {"events:cart_abandoned", "days_since_event:page_visit"} <= set(policy.columns)
    data = json.loads(policy.to_json())
    assert data["format_version"] == FORMAT_VERSION == "1.4"
    assert clmlang.Policy.from_json(policy.to_json()) == policy


def test_an_undeclared_event_is_an_error_with_a_suggestion():
    """CLM100 where the name is used, in a trigger, an anchor, a success and a field."""
    for wrong in (
        "on event cart_abandonned",
        "on 3 days after event cart_abandonned",
        'on event page_visit send email "x" success event cart_abandonned within 3 days',
        "when events of cart_abandonned > 1",
        "when days_since_event of cart_abandonned < 2",
    ):
        step = "" if "success" in wrong else ' send email "x"'
        text = SPEC + f"rule r {{ {wrong}{step} }}\n"
        assert _diagnostics(text) == [
            ("CLM100", "undefined event `cart_abandonned`", "did you mean `cart_abandoned`?")
        ], wrong
    text = SPEC + 'rule r { on event nothing_like_it send email "x" }\n'
    (diagnostic,) = _diagnostics(text)
    assert diagnostic[2] == "declare it with `event nothing_like_it ...`"


def test_types_units_lines_reserved_names_and_unused_events():
    """A count is not a duration; an event is not a product line; `line` cannot be an
    event's name, nor `event` an attribute's; an event nothing reads is a warning."""
    units = _diagnostics(SPEC + 'rule r { when events of page_visit > 3 days send email "x" }\n')
    assert units == [
        (
            "CLM110",
            "this compares a number with a duration",
            "`events of page_visit` is a number, not a duration: write `events of page_visit > 3`",
        )
    ]
    lines = _diagnostics(SPEC + 'rule r { when events of line web > 1 send email "x" }\n')
    assert ("CLM102", "`events` is about an event, not a product line") in [d[:2] for d in lines]
    assert [d.code for d in parse_text("event line").diagnostics] == ["CLM105"]
    assert [d.code for d in parse_text("attribute event date").diagnostics] == ["CLM105"]
    unused = _diagnostics(SPEC + "event newsletter_open\n")
    assert unused == [
        ("CLM135", "event `newsletter_open` is never used", "remove it, or refer to it in a rule")
    ]


def test_explain_reads_event_fields():
    """`clm explain --customer "events of cart_abandoned=4"`: the filter is false."""
    analysis = analyse_text(SPEC, "t.clm")
    got = explain(
        analysis, "purchases=2, events of cart_abandoned=4, days_since_event of page_visit=2"
    )
    assert got.stage == "browsing"
    rule = next(r for r in got.rules if r.rule == "cart_reminder")
    assert not rule.eligible
    assert "events of cart_abandoned=4" in " ".join(rule.reasons)
    assert (
        next(r for r in got.rules if r.rule == "survey").trigger == "3 days after event page_visit"
    )
    with pytest.raises(CustomerError, match="did you mean `page_visit`"):
        explain(analysis, "events of page_vist=1")


def test_language_server_knows_the_events(tmp_path: Path):
    """Completion after `on event` and `events of`, the outline and the hover."""
    path = tmp_path / "shop.clm"
    path.write_text(SPEC)
    doc = Document.open(path.as_uri(), str(path), SPEC)

    def labels(text: str) -> list[str]:
        return [c.label for c in complete(doc.index, text, len(text))]

    body = SPEC + "rule more {\n"
    assert labels(body + "  on event ") == ["cart_abandoned", "page_visit"]
    assert labels(body + "  on 2 days after event p") == ["page_visit"]
    assert labels(body + "  when events of c") == ["cart_abandoned"]
    assert {"events", "days_since_event"} <= set(labels(body + "  when "))
    assert labels("event ") == []
    kinds = {(sym.kind, sym.name) for sym in doc.index.symbols}
    assert ("event", "cart_abandoned") in kinds
    from clmlang.lsp.hover import describe

    ref = doc.index.reference_at(doc.name, SPEC.index("on event cart_abandoned") + 10)
    text = describe(doc.index, ref, doc.analysis.sources)
    assert (
        text is not None
        and "Behavioural event" in text
        and "[market.events.cart_abandoned]" in text
    )


def test_stages_on_events_cover_every_customer():
    """The checker's states know that a customer has had an event exactly when the days since
    the last one are known, and counts are whole: these three stages leave no one out."""
    text = """program "Shop"
channel email cost 0.01
event cart
stage carted when events of cart >= 1 and days_since_event of cart <= 7 days
stage cold when events of cart >= 1 and days_since_event of cart > 7 days
stage never when events of cart == 0
rule r { in stage carted on event cart send email "x" }
"""
    assert _diagnostics(text) == []
    gap = text.replace(
        "stage never when events of cart == 0",
        "stage never when events of cart == 0 and purchases >= 1",
    )
    assert [d[0] for d in _diagnostics(gap)] == ["CLM121"]
