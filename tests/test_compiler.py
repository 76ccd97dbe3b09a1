"""The compiler: a spec becomes a policy in base units, with defaults resolved and spans kept."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from clmlang.compile.compiler import compile_spec
from clmlang.compile.policy import FORMAT_VERSION, Policy
from clmlang.language.conditions import evaluate
from clmlang.language.loader import load_text

SPEC = """program "Tyres" currency EUR
channel sms cost 0.05 EUR
channel managers kind call cost 4 capacity 200 per day
cap 3 per 7 days
cap sms 1 per 2 weeks then delay
control group 10%
product change role profit price 40 cost 15 line service every 6 months
product storage role lifetime price 60 every 6 months cost 10
product alignment role upsell price 30 attach to change
product club role repeat reward 5%
product crm role platform cost 200
stage new when purchases <= 1
stage regular when purchases > 1 goal return within 6 months
rule season {
  in stage regular
  when days_since_purchase > 150 days
  on 5 months after purchase of change
  send sms "Season is coming" offer change discount 10% tag promo
  success purchase of line service within 3 weeks
  on failure send managers "Shall we book you?" offer storage discount 5
  holdout 10%
  priority 3
}
rule welcome {
  when purchases == 1
  send sms "Welcome" transactional
}
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    spec = load_text(SPEC, "tyres.clm")
    assert spec.diagnostics == ()
    return compile_spec(spec)


def test_header(policy):
    """Program, currency, format version and control group share."""
    assert (policy.program, policy.currency) == ("Tyres", "EUR")
    assert policy.format_version == FORMAT_VERSION
    assert policy.control_share == pytest.approx(0.10)


def test_channel_kinds_default_to_the_name(policy):
    """`sms` is of kind sms; `managers` says it is a call channel with a capacity."""
    sms, managers = policy.channels
    assert sms.kind == "sms" and sms.cost == pytest.approx(0.05)
    assert managers.kind == "call" and managers.capacity_per_day == 200


def test_caps_in_days(policy):
    """Cap windows are days; scope and overflow are explicit."""
    global_cap, sms_cap = policy.caps
    assert (global_cap.scope, global_cap.limit, global_cap.window_days) == ("global", 3, 7)
    assert (sms_cap.scope, sms_cap.channel, sms_cap.window_days, sms_cap.overflow) == (
        "channel",
        "sms",
        14,
        "delay",
    )


def test_products_and_roles(policy):
    """Cycles in days, reward as a fraction, internal products not sold."""
    products = {p.name: p for p in policy.products}
    assert products["storage"].cycle_days == pytest.approx(182.625)
    assert products["club"].reward_share == pytest.approx(0.05)
    assert products["alignment"].attach_to == ("change",)
    assert not products["crm"].sold and products["change"].sold
    assert policy.lines == ("service",)


def test_rule_units_and_defaults(policy):
    """Durations in days, shares as fractions, event triggers re-enter by default."""
    rule = policy.rule("season")
    assert rule.trigger.kind == "after" and rule.trigger.event.product == "change"
    assert rule.trigger.days == pytest.approx(5 * 30.4375)
    assert rule.holdout == pytest.approx(0.1) and rule.priority == 3
    assert rule.reentry.kind == "always"
    send = rule.flow.steps[0]
    assert send.offer.discount_share == pytest.approx(0.1) and send.tags == ("promo",)
    assert rule.flow.success.within_days == 21
    assert rule.flow.success.event.line == "service"
    assert rule.flow.on_failure.steps[0].offer.discount_amount == 5


def test_condition_rules_fire_on_the_edge(policy):
    """A rule with no `on` is condition-triggered and re-enters once per edge."""
    rule = policy.rule("welcome")
    assert rule.trigger.kind == "condition" and rule.reentry.kind == "edge"
    assert rule.flow.steps[0].transactional


def test_eligible_combines_stage_and_condition(policy):
    """`eligible` is the stage filter and the condition together."""
    rule = policy.rule("season")
    cols = {"stage": np.array([1, 1, 0]), "days_since_purchase": np.array([200.0, 100, 200])}
    assert evaluate(rule.eligible, cols).tolist() == [True, False, False]


def test_columns_list_what_is_read(policy):
    """The policy lists every state column its expressions read."""
    assert set(policy.columns) == {"purchases", "days_since_purchase", "stage"}


def test_spans_survive(policy):
    """Items keep the file and line they were written at."""
    rule = policy.rule("season")
    assert (rule.span.file, rule.span.line) == ("tyres.clm", 14)
    assert rule.flow.steps[0].span.line == 18


def test_json_round_trip_is_exact(policy):
    """The policy survives JSON, and the same policy gives the same bytes."""
    text = policy.to_json()
    assert Policy.from_json(text) == policy
    assert Policy.from_json(text).to_json() == text


def test_semantics_ignore_layout():
    """The same spec laid out differently has the same semantics, not the same spans."""
    a = compile_spec(load_text(SPEC))
    b = compile_spec(load_text("\n\n" + SPEC.replace("\n  ", "\n      ")))
    assert a != b and a.semantics() == b.semantics()


def test_json_schema_validates_policy(policy):
    """The exported JSON Schema accepts the exported policy and rejects a broken one."""
    schema = json.loads(Policy.json_schema())
    document = json.loads(policy.to_json())
    jsonschema.validate(document, schema)
    document["rules"][0]["trigger"]["kind"] = "whenever"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_activity_window_compiles_to_dates():
    """`active` bounds become ISO dates in the policy (None where left out), through JSON and
    the schema; a policy of format 1.0, without the fields, still reads."""
    text = SPEC.replace(
        "  priority 3\n", "  priority 3\n  active from 2026-10-01 until 2026-11-30\n"
    )
    text = text.replace(
        "  when purchases == 1\n", "  when purchases == 1\n  active until 1997-09-30\n"
    )
    window = compile_spec(load_text(text))
    season, welcome = window.rules
    assert (str(season.active_from), str(season.active_until)) == ("2026-10-01", "2026-11-30")
    assert (welcome.active_from, str(welcome.active_until)) == (None, "1997-09-30")
    document = json.loads(window.to_json())
    assert document["rules"][0]["active_from"] == "2026-10-01"
    jsonschema.validate(document, json.loads(Policy.json_schema()))
    assert Policy.from_json(window.to_json()) == window
    old = json.loads(compile_spec(load_text(SPEC)).to_json())
    old["format_version"] = "1.0"
    for rule in old["rules"]:
        del rule["active_from"], rule["active_until"]
    assert Policy.model_validate(old).rules[0].active_from is None


def test_goal_ranges_attach_lines_and_first_purchases_of():
    """A goal range compiles to its low and high in days (one number: the high end alone);
    `attach to line` lists the line apart from products; `first purchase of` keeps the product."""
    spec = load_text(
        'program "P" currency USD\nchannel email cost 0.1\n'
        "product coffee role lead price 0\nproduct tee price 20 line apparel\n"
        "product socks role upsell price 4 attach to line apparel, coffee\n"
        "stage new when purchases <= 1 goal return within 2 months\n"
        "stage regular when purchases > 1 goal return within 6..8 weeks\n"
        'rule r { on first purchase of line apparel send email "Hi" }\n',
        "p.clm",
    )
    assert spec.diagnostics == ()
    policy = compile_spec(spec)
    new, regular = policy.stages
    assert (new.goal_return_min_days, new.goal_return_days) == (None, pytest.approx(60.875))
    assert (regular.goal_return_min_days, regular.goal_return_days) == (42, 56)
    socks = policy.products[2]
    assert (socks.attach_to, socks.attach_to_lines) == (("coffee",), ("apparel",))
    event = policy.rule("r").trigger.event
    assert (event.kind, event.line, event.product) == ("first_purchase", "apparel", None)
