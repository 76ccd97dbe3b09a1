"""`clm explain` in a strategist's words: triggers as written, whether a trigger can come for
the customer, the control group and transactional messages, and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clmlang.api import analyse_text, explain
from clmlang.compile.policy import EventSpec, Trigger
from clmlang.compile.triggers import describe_trigger, duration_words

from .conftest import clm

SPEC = """program "Dealer" currency EUR
channel email cost 0.1
channel sms cost 0.05
control group 10%
product new_car role profit price 30000 cost 26000 line cars
product service role profit price 300 cost 150 line care
attribute wedding date
stage prospect when purchases == 0
stage owner when purchases >= 1
rule maintenance {
  on 10 months after purchase of new_car
  send email "Time for maintenance"
}
rule care_follow_up {
  on 14 days after purchase of line care
  send email "How was the service?"
}
rule first_visit {
  on first purchase
  send email "Welcome"
}
rule receipt {
  on purchase of new_car
  send email "Your receipt" transactional
}
rule wedding_flowers {
  on 7 days before wedding
  send sms "Congratulations"
}
rule wedding_day {
  on anniversary of wedding
  send sms "Happy anniversary"
  success purchase within 7 days
  on failure send email "Happy anniversary" transactional
}
rule newsletter {
  on every 30 days
  send email "News"
}
rule winback {
  in stage owner
  on 2 years of inactivity
  send email "We miss you"
}
"""


@pytest.fixture(scope="module")
def analysis():
    result = analyse_text(SPEC, "dealer.clm")
    assert result.policy is not None, result.diagnostics
    return result


def verdict(result, name):
    return next(v for v in result.rules if v.rule == name)


def test_triggers_are_said_as_written(analysis):
    """Units as the spec wrote them, the product and line kept, natural word order."""
    words = {v.rule: v.trigger for v in explain(analysis, {}).rules}
    assert words == {
        "maintenance": "10 months after purchase of new_car",
        "care_follow_up": "14 days after purchase of line care",
        "first_visit": "on first purchase",
        "receipt": "on purchase of new_car",
        "wedding_flowers": "7 days before wedding",
        "wedding_day": "on the anniversary of wedding",
        "newsletter": "every 30 days",
        "winback": "after 2 years of inactivity",
    }


def test_durations_without_the_spec_use_the_largest_whole_unit():
    """304.375 days is 10 months, 14 days 2 weeks, 365.25 days 1 year; 10 days stays days."""
    assert duration_words(304.375) == "10 months"
    assert duration_words(14) == "2 weeks"
    assert duration_words(365.25) == "1 year"
    assert duration_words(10) == "10 days"
    assert duration_words(1.5) == "1.5 days"
    compiled = Trigger(kind="after", event=EventSpec(kind="purchase", line="plastic"), days=91.3125)
    assert describe_trigger(compiled) == "3 months after purchase of line plastic"
    assert describe_trigger(Trigger(kind="every", days=30)) == "every 30 days"


def test_a_prospect_is_eligible_but_the_car_reminder_cannot_come(analysis):
    """No car bought: `10 months after purchase of new_car` cannot come, so it does not fire."""
    v = verdict(explain(analysis, "purchases=0"), "maintenance")
    assert v.eligible and not v.trigger_can_come and not v.fires
    assert v.trigger_blocked == "they have not bought new_car"
    owner = verdict(explain(analysis, "purchases=1, owns=new_car"), "maintenance")
    assert owner.eligible and owner.trigger_can_come and owner.fires


def test_timers_that_came_already_cannot_come(analysis):
    """80 days after a service, the 14-day follow-up came 66 days ago; inactivity counts from
    a purchase; a first purchase cannot come to someone who has bought."""
    served = "purchases=2, owns=service, last_product=service, days_since_purchase=80"
    v = verdict(explain(analysis, served), "care_follow_up")
    assert not v.trigger_can_come and "came 66 days ago" in v.trigger_blocked
    due = verdict(explain(analysis, served.replace("=80", "=14")), "care_follow_up")
    assert due.fires
    assert not verdict(explain(analysis, "purchases=0"), "winback").trigger_can_come
    assert verdict(explain(analysis, "purchases=0"), "first_visit").fires
    assert not verdict(explain(analysis, "purchases=3"), "first_visit").trigger_can_come


def test_dates_must_be_known_and_ahead(analysis):
    """`7 days before wedding`: unknown, past or too close weddings cannot trigger it."""

    def blocked(customer: str) -> str:
        return verdict(explain(analysis, customer), "wedding_flowers").trigger_blocked

    assert blocked("purchases=0") == "their wedding is not known"
    assert blocked("wedding=-30") == ""  # 30 days ahead
    assert blocked("wedding=-7") == ""  # exactly a week ahead: today
    assert "3 days ahead" in blocked("wedding=-3")
    assert "was 10 days ago" in blocked("wedding=10")
    # an anniversary comes every year, past or not
    assert verdict(explain(analysis, "wedding=400"), "wedding_day").trigger_can_come


def test_transactional_rules_are_not_held_back_by_the_control_group(analysis):
    """The global control group gets transactional messages; the note says so."""
    result = explain(analysis, "purchases=1")
    assert "transactional: the global control group gets it too" in verdict(result, "receipt").notes
    mixed = " ".join(verdict(result, "wedding_day").notes)
    assert "only its transactional messages" in mixed
    marketing = " ".join(verdict(result, "newsletter").notes)
    assert "10% of all customers are in the global control group" in marketing
    assert "none of its messages" in marketing


def test_explanation_as_json(analysis):
    """`to_dict`/`to_json`: stage, segments and each rule's eligibility and trigger."""
    data = json.loads(explain(analysis, "purchases=0").to_json())
    assert data["stage"] == "prospect"
    assert data["customer"] == {"purchases": 0.0}
    rule = next(r for r in data["rules"] if r["rule"] == "maintenance")
    assert rule["eligible"] is True and rule["fires"] is False
    assert rule["trigger"] == "10 months after purchase of new_car"
    assert rule["trigger_blocked"] == "they have not bought new_car"


def test_cli_explain_json_and_table(tmp_path: Path):
    """`clm explain --json` prints the same data; the table has no doubled spaces."""
    path = tmp_path / "dealer.clm"
    path.write_text(SPEC)
    run = clm("explain", str(path), "--customer", "purchases=0", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["program"] == "Dealer"
    assert {r["rule"] for r in data["rules"]} >= {"maintenance", "newsletter"}
    table = clm("explain", str(path), "--customer", "purchases=0")
    assert table.returncode == 0, table.stderr
    assert "can come" in table.stdout and "every 30 days" in table.stdout
    assert "they have not bought new_car" in table.stdout
