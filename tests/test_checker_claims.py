"""The checker's claims about stages and rules are true: no false gaps or dead rules, carets
on the clause that is at fault, and examples in the words of the spec."""

from __future__ import annotations

import clmlang

HEAD = 'program "Shop" currency USD\nchannel email cost 0.1\n'


def diagnostics(text: str):  # type: ignore[no-untyped-def]
    return clmlang.analyse_text(HEAD + text).diagnostics


def codes(text: str) -> list[str]:
    return [d.code for d in diagnostics(text)]


def test_flag_compared_with_true_can_fire():
    """`for FLAG == true` holds for customers whose flag is set: no CLM130."""
    text = (
        "attribute cart_abandoned flag\n"
        "stage all when purchases >= 0\n"
        'rule r { for cart_abandoned == true send email "x" }\n'
        'rule s { for cart_abandoned == false send email "y" }\n'
        'rule t { for cart_abandoned send email "z" }\n'
    )
    assert codes(text) == []


def test_flag_that_contradicts_itself_never_fires():
    """A flag both set and not set is a real contradiction, still reported."""
    text = (
        "attribute cart_abandoned flag\n"
        "stage all when purchases >= 0\n"
        'rule r { for cart_abandoned when not cart_abandoned send email "x" }\n'
    )
    assert codes(text) == ["CLM130"]


def test_never_fires_points_at_the_clause_at_fault():
    """The caret is on the `for` clause that rules everyone out, not on `when`."""
    text = (
        "stage new when purchases <= 1\n"
        "stage repeat when purchases >= 2\n"
        "rule r {\n"
        "  in stage new\n"
        "  for purchases >= 3\n"
        "  when days_since_purchase >= 0 days\n"
        '  send email "x"\n'
        "}\n"
    )
    (found,) = diagnostics(text)
    assert found.code == "CLM130"
    assert (found.span.line, found.span.column) == (7, 7)  # `purchases >= 3`
    assert "`for purchases >= 3`" in found.message


CARS = (
    "product car role profit price 20000 cost 15000 line cars\n"
    "product service role profit price 200 cost 80 line service\n"
    "stage prospect when not owns(line cars)\n"
    "stage owner when owns(line cars) and days_since_purchase <= 24 months\n"
    "stage lost when owns(line cars) and days_since_purchase > 24 months\n"
    'rule r { send email "x" }\n'
)


def test_owning_implies_a_purchase():
    """An owner always has a last purchase, so `<= 24 months` and `> 24 months` cover them."""
    assert codes(CARS) == []


def test_owning_a_product_implies_its_line():
    """Owning `car` means owning `line cars`: no customer owns the one without the other."""
    text = CARS.replace("not owns(line cars)", "not owns(car)")
    assert codes(text) == []


def test_last_product_is_owned():
    """The product bought last is owned: `last_product is car` implies `owns(car)`."""
    text = (
        "product car role profit price 20000 line cars\n"
        "product tea role profit price 2 line drinks\n"
        "stage a when purchases == 0\n"
        "stage b when purchases >= 1 and owns(car)\n"
        "stage c when purchases >= 1 and not owns(car) and last_product is not car\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == []


def test_a_real_gap_is_shown_in_the_words_of_the_spec():
    """A buyer of services only is in no stage; the example says `owns(line cars)=no`."""
    (found,) = diagnostics(CARS.replace("not owns(line cars)", "purchases == 0"))
    assert found.code == "CLM121"
    assert "owns(line cars)=no" in found.message
    assert "owns_line" not in found.message


def test_gap_points_at_the_nearest_stage():
    """The caret is on the stage the gap state misses by the fewest parts, which is named."""
    text = (
        "stage a when purchases == 0\n"
        "stage b when purchases in 1..3\n"
        "stage c when purchases >= 5 and total_spent >= 0\n"
        'rule r { send email "x" }\n'
    )
    (found,) = diagnostics(text)
    assert found.code == "CLM121"
    assert found.span.line == 5
    assert "purchases=4" in found.message
    assert "`c`, needs `purchases >= 5`" in found.message


def test_gap_missed_by_every_stage_points_at_the_last():
    """When the gap state misses every stage entirely, the caret is on the last stage."""
    text = (
        "stage b when purchases in 1..3\n"
        "stage c when purchases >= 5\n"
        "stage a when purchases == 0\n"
        'rule r { send email "x" }\n'
    )
    (found,) = diagnostics(text)
    assert found.code == "CLM121"
    assert found.span.line == 5


def test_explain_quotes_fields_in_the_words_of_the_spec():
    """`explain` shows `owns(line cosmetology)=no` and `need=unknown`, not column keys."""
    from clmlang.api import explain

    analysis = clmlang.analyse_text(
        HEAD + "attribute need text\n"
        "product facial role profit price 20 line cosmetology\n"
        "stage all when purchases >= 0\n"
        'rule r { for need == "skin" and owns(line cosmetology) send email "x" }\n'
    )
    (verdict,) = explain(analysis, "purchases=1").rules
    assert verdict.reasons == (
        '`for need == "skin"` is false (need=unknown)',
        "`for owns(line cosmetology)` is false (owns(line cosmetology)=no)",
    )


LAPSING = (
    "stage new when purchases == 0\n"
    "stage active when purchases >= 1 and days_since_purchase < 90 days\n"
    "stage lapsing when purchases >= 1 and days_since_purchase >= 90 days\n"
)


def test_trigger_outside_the_rules_stage_never_fires():
    """30 days of inactivity come at exactly 30 silent days; lapsing needs 90 or more."""
    text = (
        LAPSING + 'rule r {\n  in stage lapsing\n  on 30 days of inactivity\n  send email "x"\n}\n'
    )
    (found,) = diagnostics(text)
    assert found.code == "CLM130"
    assert (found.span.line, found.span.column) == (8, 6)  # `30 days of inactivity`
    assert "`in stage lapsing`" in found.message


def test_trigger_inside_the_rules_stage_is_fine():
    """120 days of inactivity come while the customer is lapsing."""
    text = LAPSING + 'rule r { in stage lapsing on 120 days of inactivity send email "x" }\n'
    assert codes(text) == []


def test_purchase_trigger_with_a_recency_condition_never_fires():
    """On the day of a purchase the last purchase is 0 days ago, never 30 or more."""
    text = (
        LAPSING + 'rule r { on purchase when days_since_purchase >= 30 days send email "x" }\n'
        "rule s { on 10 days after purchase of line x when days_since_purchase <= 10 days and "
        'owns(line x) send email "y" }\n'
        "product p role profit price 1 line x\n"
    )
    assert codes(text) == ["CLM130"]
