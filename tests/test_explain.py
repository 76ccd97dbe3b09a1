"""`explain`: a customer's stage, segments and rule verdicts, with the clause that stops a rule."""

from __future__ import annotations

import pytest

from clmlang.api import analyse_text, explain
from clmlang.compile.explanation import CustomerError, parse_customer

SPEC = """program "Clinic" currency RUB
channel sms cost 3
channel call cost 120 capacity 200 per day
product facial role profit price 4500 cost 1800 line cosmetology every 60 days
product implant role profit price 60000 cost 30000 line dentistry
audience premium
audience budget
attribute birthday date
stage potential when purchases == 0
stage new when purchases in 1..2
stage forming when purchases in 3..7 goal return within 74 days
stage loyal when purchases >= 8 goal return within 60 days
segment big_spender when total_spent >= 50000
rule keep_rhythm {
  in stage forming
  when days_since_purchase >= 60 days and audience is premium
  send sms "Time for your next visit" offer line cosmetology discount 10%
  holdout 10%
}
rule cross_sell {
  in stage loyal
  for not owns(line dentistry)
  on 30 days after purchase
  send call "Have you met our dentists?" offer implant
}
rule birthday_gift {
  on anniversary of birthday
  when days_since(birthday) >= 0
  send sms "Happy birthday"
}
"""


@pytest.fixture(scope="module")
def analysis():
    result = analyse_text(SPEC, "clinic.clm")
    assert result.policy is not None, result.diagnostics
    return result


def verdict(result, name):
    return next(v for v in result.rules if v.rule == name)


def test_stage_is_the_first_match(analysis):
    """The customer is in the first stage whose condition holds."""
    assert explain(analysis, {"purchases": 0}).stage == "potential"
    assert explain(analysis, {"purchases": 5}).stage == "forming"
    assert explain(analysis, {"purchases": 30}).stage == "loyal"


def test_rule_fires_when_everything_holds(analysis):
    """All filters true: the rule would fire, with its holdout noted."""
    result = explain(analysis, "purchases=4, days_since_purchase=70 days, audience=premium")
    keep = verdict(result, "keep_rhythm")
    assert keep.fires and keep.reasons == ()
    assert any("10%" in note for note in keep.notes)


def test_failing_clause_is_quoted_with_values(analysis):
    """The reason names the clause as written and the values that made it false."""
    result = explain(analysis, "purchases=4, days_since_purchase=50 days, audience=budget")
    reasons = verdict(result, "keep_rhythm").reasons
    assert "`when days_since_purchase >= 60 days` is false (days_since_purchase=50)" in reasons
    assert "`when audience is premium` is false (audience=budget)" in reasons


def test_stage_filter_reason(analysis):
    """A rule for another stage says which stage the customer is in."""
    result = explain(analysis, {"purchases": 4})
    assert verdict(result, "cross_sell").reasons == ("not in stage loyal (is in forming)",)


def test_owns_and_lines(analysis):
    """`owns=implant` makes `owns(line dentistry)` true."""
    fires = explain(analysis, {"purchases": 9, "owns": ["facial"]})
    stops = explain(analysis, {"purchases": 9, "owns": ["implant"]})
    assert verdict(fires, "cross_sell").fires
    assert not verdict(stops, "cross_sell").fires


def test_segments(analysis):
    """Segment membership is reported."""
    result = explain(analysis, "purchases=9, total_spent=60000")
    assert dict(result.segments) == {"big_spender": True}


def test_unknown_values_are_unknown(analysis):
    """An attribute not given is unknown, and a comparison on it is false."""
    assert not verdict(explain(analysis, {}), "birthday_gift").fires
    assert verdict(explain(analysis, {"birthday": 100}), "birthday_gift").fires


def test_customer_text_forms():
    """Durations, lists with `+`, booleans and names are read from text."""
    assert parse_customer("a=3, b=2 weeks, c=x+y, d=true, e=none") == {
        "a": 3.0,
        "b": 14.0,
        "c": ["x", "y"],
        "d": True,
        "e": None,
    }


@pytest.mark.parametrize(
    ("customer", "message"),
    [
        ("purchses=3", "did you mean `purchases`?"),
        ("audience=premum", "did you mean `premium`?"),
        ("rfm.r=4", "computed from"),
        ("purchases", "not `key=value`"),
        ("purchases=many", "not a number"),
        # no customer has these: each put them in no stage, or matched nothing, silently
        ("purchases=-3", "`purchases=-3`: a count, a whole number from 0"),
        ("purchases=2.5", "`purchases=2.5`: a count, a whole number from 0"),
        ("purchases of facial=-1", "`purchases of facial=-1`: a count"),
        ("total_spent=-100", "`total_spent=-100`: cannot be below 0"),
        ("days_since_purchase=-5", "`days_since_purchase=-5`: cannot be below 0"),
        ("days_since_purchase of line dentistry=-5 days", "cannot be below 0"),
    ],
)
def test_bad_customer(analysis, customer, message):
    """A customer description that cannot be read says why."""
    with pytest.raises(CustomerError, match=message.replace("?", r"\?")):
        explain(analysis, customer)


def test_activity_window_is_noted():
    """`clm explain` has no date for the customer: a window is a note, not a reason."""
    text = SPEC.replace(
        "  holdout 10%\n", "  holdout 10%\n  active from 2026-01-01 until 2026-03-31\n"
    )
    text = text.replace(
        "  on anniversary of birthday\n",
        "  on anniversary of birthday\n  active until 2026-06-30\n",
    )
    result = explain(
        analyse_text(text, "clinic.clm"),
        "purchases=4, days_since_purchase=70 days, audience=premium",
    )
    keep = verdict(result, "keep_rhythm")
    assert keep.fires and keep.reasons == ()
    assert "fires only from 2026-01-01 until 2026-03-31 (both days included)" in keep.notes
    assert (
        "fires only until 2026-06-30 (that day included)" in verdict(result, "birthday_gift").notes
    )
    assert not any("fires only" in n for n in verdict(result, "cross_sell").notes)


def test_stage_goal_is_shown_as_written():
    """The customer's stage comes with its return goal, a range kept as a range; a stage
    without a goal has none."""
    ranged = analyse_text(SPEC.replace("within 60 days", "within 47..60 days"))
    assert explain(ranged, {"purchases": 30}).goal == "47..60 days"
    assert explain(ranged, {"purchases": 4}).goal == "74 days"
    assert explain(ranged, {"purchases": 1}).goal is None


def test_a_date_attribute_ahead_is_not_refused(analysis):
    """`birthday=-3`: a date 3 days ahead, which rules may wait for (not a negative count)."""
    assert explain(analysis, "birthday=-3").stage == "potential"


def test_a_name_of_a_kind_the_spec_does_not_declare():
    """`audience=vip` in a spec without audiences said `known: ` and nothing after it."""
    bare = analyse_text('program "x"\nstage all when purchases >= 0\n', "x.clm")
    with pytest.raises(
        CustomerError, match="unknown audience `vip`; the spec declares no audiences"
    ):
        explain(bare, "audience=vip")


def test_an_endless_count_given_as_data_is_refused_as_a_customer_problem(analysis):
    """`{"purchases": inf}` (a dict, which the API takes): not a whole number either; it
    raised OverflowError from the whole-number test, not `CustomerError`."""
    with pytest.raises(CustomerError, match="`purchases=inf`: a count, a whole number from 0"):
        explain(analysis, {"purchases": float("inf")})
