"""Checker behaviour beyond the snapshots: semantics of the analyses and their limits."""

from __future__ import annotations

from pathlib import Path

import clmlang

HEAD = 'program "Shop" currency USD\nchannel email cost 0.1\n'


def codes(text: str) -> list[str]:
    return [d.code for d in clmlang.analyse_text(HEAD + text).diagnostics]


def test_whole_days_leave_no_gap():
    """`90..179 days` and `>= 180 days` meet: days since a purchase are whole days."""
    text = (
        "stage none when purchases == 0\n"
        "stage lapsing when purchases >= 1 and days_since_purchase in 0..179 days\n"
        "stage lost when purchases >= 1 and days_since_purchase >= 180 days\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == []


def test_money_is_continuous():
    """Between `< 100` and `> 100` there is a gap: spending exactly 100 is a real state."""
    text = (
        "stage small when total_spent < 100\n"
        "stage big when total_spent > 100\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == ["CLM121"]


def test_impossible_states_are_not_gaps():
    """A customer with purchases but no purchase date does not exist, so it is no gap."""
    text = (
        "stage prospect when purchases == 0\n"
        "stage buyer when days_since_purchase >= 0\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == []


def test_arithmetic_is_never_called_impossible():
    """A condition with arithmetic is not proven impossible, even when it is."""
    text = (
        "stage all when purchases >= 0\n"
        'rule r { when total_spent - total_spent > 1 send email "x" }\n'
    )
    assert "CLM130" not in codes(text)


def test_sampled_grid_makes_no_absence_claim():
    """With more columns than the exact grid holds, an impossible rule is not reported."""
    fields = " and ".join(f"messages(email, {d} days) >= {d}" for d in range(1, 12))
    text = (
        "stage all when purchases >= 0\n"
        f'rule r {{ when {fields} and purchases > 5 and purchases < 3 send email "x" }}\n'
    )
    assert "CLM130" not in codes(text)


def test_unsatisfiable_rule_with_exact_grid_is_reported():
    """The same contradiction with few columns is proven and reported."""
    text = 'stage all when purchases >= 0\nrule r { when purchases > 5 and purchases < 3 send email "x" }\n'
    assert codes(text) == ["CLM130"]


def test_every_error_of_a_file_is_reported():
    """Independent mistakes are all reported in one run."""
    text = (
        "stage all when purchases >= 0\n"
        "product tee role profitt price 20\n"
        'rule a { send emial "x" }\n'
        'rule b { holdout 120% send email "y" offer tea }\n'
    )
    assert sorted(codes(text)) == ["CLM100", "CLM100", "CLM100", "CLM111"]


def test_unused_only_in_own_file(tmp_path: Path):
    """Channels defined in a used file and not used here are not warned about."""
    (tmp_path / "common.clm").write_text("channel sms cost 3\nchannel push cost 0.1\n")
    spec = tmp_path / "shop.clm"
    spec.write_text(
        'use "common.clm"\nprogram "x"\nstage all when purchases >= 0\nrule r { send sms "x" }\n'
    )
    assert clmlang.analyse(spec).diagnostics == ()


def test_transactional_messages_are_not_capped():
    """Two sends a day apart break a cap of one per week, unless the second is transactional."""
    base = 'stage all when purchases >= 0\ncap 1 per 7 days\nrule r { send email "a" wait 1 day send email "b"'
    assert codes(base + " }\n") == ["CLM132"]
    assert codes(base + " transactional }\n") == []


def test_caps_follow_branches():
    """A send on the failure branch is counted after the success window has passed."""
    text = (
        "stage all when purchases >= 0\ncap 1 per 7 days\n"
        'rule r { send email "a" success purchase within 10 days on failure send email "b" }\n'
    )
    assert codes(text) == []


def unit_errors(condition: str) -> list[tuple[str, str, str | None]]:
    """(code, message, hint) of each diagnostic of a rule `when` with this condition."""
    text = HEAD + f'stage all when purchases >= 0\nrule r {{ when {condition} send email "x" }}\n'
    return [(d.code, d.message, d.hint) for d in clmlang.analyse_text(text).diagnostics]


def test_count_compared_with_duration():
    """A count is not a length of time: `purchases >= 3 days` is an error, with the fix."""
    assert unit_errors("purchases >= 3 days") == [
        (
            "CLM110",
            "this compares a number with a duration",
            "`purchases` is a number, not a duration: write `purchases >= 3`",
        )
    ]


def test_count_compared_with_money():
    """A count is not an amount: `purchases >= 10 USD` is an error, with the fix."""
    assert unit_errors("purchases >= 10 USD") == [
        (
            "CLM110",
            "this compares a number with money",
            "`purchases` is a number, not money: write `purchases >= 10`",
        )
    ]


def test_duration_compared_with_money():
    """Days are not money, and money is not days; the hint writes the field's unit."""
    assert unit_errors("days_since_purchase > 20 USD") == [
        (
            "CLM110",
            "this compares a duration with money",
            "`days_since_purchase` is a duration, not money: write `days_since_purchase > 20 days`",
        )
    ]
    assert unit_errors("total_spent > 3 days") == [
        (
            "CLM110",
            "this compares money with a duration",
            "`total_spent` is money, not a duration: write `total_spent > 3`",
        )
    ]


def test_unit_mismatch_in_every_form_of_comparison():
    """Counts from functions and attributes, ranges, values on the left, negated values."""
    hints = {
        "messages(7 days) >= 2 days": "write `messages(7 days) >= 2`",
        "purchases in 1..3 days": "write `purchases in 1..3`",
        "purchases not in 1..3 USD": "write `purchases not in 1..3`",
        "3 days < purchases": "write `3 < purchases`",
        "-1 USD < days_since_purchase": "write `-1 day < days_since_purchase`",
        "rfm.f >= 4 weeks": "write `rfm.f >= 4`",
        "visits > 2 USD": "write `visits > 2`",
        "purchases > 10%": "write `purchases > 10`",
    }
    for condition, hint in hints.items():
        head = "rfm { recency 30 days, 60 days, 90 days, 120 days frequency 2, 3, 5, 8 "
        head += "monetary 1, 2, 3, 4 }\n"
        text = (
            HEAD + head + "attribute visits number\nstage all when purchases >= 0\n"
            f'rule r {{ when {condition} and visits >= 0 send email "x" }}\n'
        )
        found = [(d.code, d.hint) for d in clmlang.analyse_text(text).diagnostics]
        assert len(found) == 1 and found[0][0] == "CLM110", (condition, found)
        assert found[0][1] is not None and found[0][1].endswith(hint), (condition, found)


def test_two_fields_of_different_units():
    """Two fields of different units are an error too; the hint cannot tell which is meant."""
    found = unit_errors("purchases > days_since_purchase")
    assert [(code, message) for code, message, _ in found] == [
        ("CLM110", "this compares a number with a duration")
    ]


def test_unit_mismatch_is_found_wherever_a_condition_is():
    """Stages, segments and a rule's `for`, `when` and `exit when` are all checked."""
    sites = [
        "stage all when purchases >= 3 days\nstage none when purchases < 3\n"
        'rule r { send email "x" }\n',
        "stage all when purchases >= 0\nsegment s when purchases >= 3 days\n"
        'rule r { for s send email "x" }\n',
        'stage all when purchases >= 0\nrule r { for purchases >= 3 days send email "x" }\n',
        'stage all when purchases >= 0\nrule r { when purchases >= 3 days send email "x" }\n',
        'stage all when purchases >= 0\nrule r { exit when purchases >= 3 days send email "x" }\n',
    ]
    for text in sites:
        assert codes(text) == ["CLM110"], text


def test_values_in_the_unit_of_the_field_are_not_flagged():
    """Bare numbers adapt to any field; a unit that matches the field is right."""
    conditions = [
        "purchases >= 3",
        "purchases in 3..7",
        "messages(sms, 30 days) < 2",
        "days_since_purchase >= 60",
        "days_since_purchase >= 60 days",
        "days_since_purchase in 90..179 days",
        "days_in_stage > 2 weeks",
        "days_since_purchase < days_since_first_purchase",
        "total_spent >= 500",
        "total_spent >= 500 USD",
        "avg_check * purchases > total_spent",
        "total_spent / purchases > 20 USD",
        "total_spent / avg_check > purchases",
    ]
    for condition in conditions:
        text = (
            "channel sms cost 1\nstage all when purchases >= 0\n"
            f'rule r {{ when {condition} send email "x" send sms "y" }}\n'
        )
        assert codes(text) == [], condition


def arithmetic_errors(condition: str) -> list[tuple[str, str, str, str | None]]:
    """(code, the text under the caret, message, hint) of each diagnostic of a rule `when`."""
    text = (
        HEAD + "attribute visits number\nstage all when purchases >= 0\n"
        f'rule r {{ when {condition} and visits >= 0 send email "x" }}\n'
    )
    return [
        (d.code, text[d.span.start : d.span.end] if d.span else "", d.message, d.hint)
        for d in clmlang.analyse_text(text).diagnostics
    ]


def test_count_plus_duration():
    """A count and a duration cannot be added; the operation is marked, the fix is given."""
    assert arithmetic_errors("purchases + 3 days > 5") == [
        (
            "CLM110",
            "purchases + 3 days",
            "this adds a duration to a number",
            "`purchases` is a number and `3 days` a duration: they cannot be added; "
            "write `purchases + 3`",
        )
    ]


def test_money_plus_duration():
    """Money and days cannot be added: `total_spent + 3 days` is an error."""
    assert arithmetic_errors("total_spent + 3 days > 100") == [
        (
            "CLM110",
            "total_spent + 3 days",
            "this adds a duration to money",
            "`total_spent` is money and `3 days` a duration: they cannot be added; "
            "write `total_spent + 3`",
        )
    ]


def test_addition_and_subtraction_need_one_unit():
    """Every pair of different units is an error under `+` and `-`, fields or values."""
    cases = {
        "purchases - 10 USD > 1": ("this subtracts money from a number", "write `purchases - 10`"),
        "days_since_purchase + 3 USD > 5 days": (
            "this adds money to a duration",
            "write `days_since_purchase + 3 days`",
        ),
        "3 days + purchases > 1": ("this adds a number to a duration", "write `3 + purchases`"),
        "total_spent - days_since_purchase > 0": (
            "this subtracts a duration from money",
            "one cannot be subtracted from the other",
        ),
        "visits + total_spent > 0": ("this adds money to a number", "they cannot be added"),
    }
    for condition, (message, hint) in cases.items():
        found = arithmetic_errors(condition)
        assert len(found) == 1 and found[0][0] == "CLM110", (condition, found)
        assert found[0][2] == message and found[0][3] is not None, (condition, found)
        assert found[0][3].endswith(hint), (condition, found)


def test_two_amounts_cannot_be_multiplied():
    """Days times days, money times days: no such unit; an amount is scaled by a number."""
    assert arithmetic_errors("days_since_purchase * 3 days > 10 days") == [
        (
            "CLM110",
            "days_since_purchase * 3 days",
            "this multiplies a duration by a duration",
            "`days_since_purchase` is a duration and `3 days` a duration: they cannot be "
            "multiplied; write `days_since_purchase * 3`",
        )
    ]
    cases = {
        "total_spent * 3 days > 1": (
            "this multiplies money by a duration",
            "write `total_spent * 3`",
        ),
        "total_spent * days_since_purchase > 1": (
            "this multiplies money by a duration",
            "multiply money only by a number or a count",
        ),
        "avg_check * total_spent > 1": (
            "this multiplies money by money",
            "multiply money only by a number or a count",
        ),
    }
    for condition, (message, hint) in cases.items():
        found = arithmetic_errors(condition)
        assert [(f[0], f[2]) for f in found] == [("CLM110", message)], (condition, found)
        assert found[0][3] is not None and found[0][3].endswith(hint), (condition, found)


def test_division_across_units():
    """An amount divides only by a number, a count or its own unit; nothing divides by days."""
    cases = {
        "total_spent / 3 days > 1": (
            "total_spent / 3 days",
            "this divides money by a duration",
            "money cannot be divided by a duration; write `total_spent / 3`",
        ),
        "total_spent / days_since_purchase > 1": (
            "total_spent / days_since_purchase",
            "this divides money by a duration",
            "divide money by a number or a count, or by money for a ratio",
        ),
        "purchases / days_since_first_purchase > 1": (
            "purchases / days_since_first_purchase",
            "this divides a number by a duration",
            "divide the other way round: `days_since_first_purchase / purchases` is a duration",
        ),
        "100 / avg_check > 1": ("100 / avg_check", "this divides a number by money", "is money"),
    }
    for condition, (under, message, hint) in cases.items():
        found = arithmetic_errors(condition)
        assert [(f[0], f[1], f[2]) for f in found] == [("CLM110", under, message)], found
        assert found[0][3] is not None and found[0][3].endswith(hint), (condition, found)


def test_legal_arithmetic_is_not_flagged():
    """One unit under `+ -`, an amount scaled by a number or a count, and ratios are right.

    A count is a plain number of things, so it scales an amount: `purchases * 30 days` is
    30 days per purchase, `total_spent / purchases` the money per purchase.
    """
    conditions = [
        "purchases + 3 > 5",
        "purchases - visits > 0",
        "3 + total_spent > 100",
        "total_spent - avg_check > 0 USD",
        "days_since_purchase - 7 days > 30 days",
        "days_since_purchase + 7 > 30",
        "2 weeks + days_in_stage < 2 months",
        "avg_check * 2 > 100 USD",
        "2 * days_in_stage < 30 days",
        "3 * 2 < days_since_purchase",
        "purchases * 30 days < days_since_first_purchase",
        "avg_check * purchases > total_spent",
        "purchases * visits > 10",
        "total_spent / 2 > 100 USD",
        "days_since_purchase / 2 < 30 days",
        "total_spent / purchases > 20 USD",
        "days_since_first_purchase / purchases < 30 days",
        "purchases / visits > 2",
        "10 / purchases < 2",
        "days_since_purchase / days_since_first_purchase < 0.5",
        "-total_spent < 3 * 2",
        "-days_since_purchase > -30 days",
        "(total_spent + 100) / 2 > avg_check",
        "messages(30 days) * 2 < purchases",
    ]
    for condition in conditions:
        assert arithmetic_errors(condition) == [], condition


def test_ratio_is_a_plain_number():
    """Money over money is a plain number: it meets numbers and counts, not money or days."""
    for condition in [
        "total_spent / avg_check > 3",
        "total_spent / avg_check > purchases",
        "total_spent / avg_check in 1..3",
        "(total_spent / avg_check) * 30 days < days_since_first_purchase",
    ]:
        assert arithmetic_errors(condition) == [], condition
    assert arithmetic_errors("total_spent / avg_check > 3 USD") == [
        (
            "CLM110",
            "total_spent / avg_check > 3 USD",
            "this compares a number with money",
            "`total_spent / avg_check` is a number, not money: write `total_spent / avg_check > 3`",
        )
    ]
    for condition in ["total_spent / avg_check > 3 days", "total_spent / avg_check + 1 USD > 0"]:
        assert [f[0] for f in arithmetic_errors(condition)] == ["CLM110"], condition


def test_a_unit_error_is_reported_once():
    """The operation with no unit is reported, not again the comparison or operation around it."""
    found = arithmetic_errors("(purchases + 3 days) * 2 > 1")
    assert [(f[0], f[2]) for f in found] == [("CLM110", "this adds a duration to a number")]


def test_hint_keeps_the_grouping():
    """A rewritten operation keeps the parentheses that its meaning needs."""
    (found,) = arithmetic_errors("3 days * (total_spent - 1) > 1")
    assert found[3] is not None and found[3].endswith("write `3 * (total_spent - 1)`")
    (found,) = arithmetic_errors("purchases / (days_since_purchase + 1) > 1")
    assert found[3] is not None
    assert found[3].endswith("`(days_since_purchase + 1) / purchases` is a duration")


def test_percentage_in_arithmetic():
    """A percentage is for clauses; in arithmetic the hint gives the fraction."""
    found = arithmetic_errors("total_spent * 10% > 3")
    assert [(f[0], f[2]) for f in found] == [
        ("CLM110", "`*` needs numbers, but this has a percentage")
    ]
    assert found[0][3] is not None and found[0][3].endswith("write `0.1`")


def test_bad_operands_in_arithmetic_are_diagnostics():
    """Text, stages, unknown names and calls in arithmetic give diagnostics, never a crash."""
    for condition in [
        '"a" + 1 > 2',
        "stage + 1 > 2",
        "nosuch * 3 days > 1",
        "owns(nosuch) / 2 > 1",
        "-(total_spent + 1) * 3 days > 1",
        "-(stage) > 1",
        "purchases + 3 days",
    ]:
        found = arithmetic_errors(condition)
        assert found and all(f[0].startswith("CLM1") for f in found), (condition, found)


WINDOW = 'stage all when purchases >= 0\nrule r {{\n  active {}\n  send email "x"\n}}\n'


def test_window_that_ends_before_it_starts_is_clm118():
    """`from` after `until` is an error with its code, the clause's place and a hint."""
    analysis = clmlang.analyse_text(HEAD + WINDOW.format("from 2026-03-31 until 2026-01-01"))
    (d,) = analysis.diagnostics
    assert (d.code, d.severity.value) == ("CLM118", "error")
    assert (d.span.line, d.span.column, d.span.end_column) == (5, 3, 42)
    assert "2026-01-01 until 2026-03-31" in d.hint
    assert analysis.policy is None


def test_window_bounds_that_are_fine():
    """A one-day window, one bound alone, and bounds in order are all clean."""
    for window in (
        "from 2026-01-01 until 2026-01-01",
        "from 2026-01-01 until 2026-03-31",
        "from 2026-01-01",
        "until 2026-01-01",
    ):
        assert codes(WINDOW.format(window)) == [], window


def test_window_date_that_does_not_exist_is_clm006():
    """Each date is checked, and no CLM118 is guessed from a date that is not one."""
    found = clmlang.analyse_text(HEAD + WINDOW.format("from 2026-02-30 until 2025-13-01"))
    assert [(d.code, d.span.column) for d in found.diagnostics] == [("CLM006", 15), ("CLM006", 32)]


def errors(text: str) -> list[str]:
    return [d.code for d in clmlang.analyse_text(HEAD + text).diagnostics if d.is_error]


def test_goal_range_must_not_be_empty():
    """`within 60..47 days` is CLM111; `within 47..60 days` and `within 0..5 days` are checked
    like single goals (positive durations)."""
    stages = "stage new when purchases <= 1\nstage regular when purchases > 1 goal return within "
    assert errors(stages + "47..60 days\n") == []
    assert errors(stages + "60..47 days\n") == ["CLM111"]
    assert errors(stages + "0..5 days\n") == ["CLM111"]
    assert errors(stages + "47..60\n") == ["CLM110", "CLM110"]


def test_attach_to_an_undeclared_line():
    """`attach to line X` needs a line some product is in; a product name is not a line."""
    products = "product tee role profit price 20 line apparel\nstage all when purchases >= 0\n"
    upsell = "product socks role upsell price 4 attach to "
    assert errors(products + upsell + "line apparel\n") == []
    assert errors(products + upsell + "line tee\n") == ["CLM100"]


def test_an_undefined_line_says_how_lines_are_declared():
    """There is no `line` declaration: CLM100 for a line had no hint at all."""
    text = (
        "stage all when purchases >= 0\n"
        "product cake role profit price 35 line pastry\n"
        'rule a { on purchase of line bread send email "x" }\n'
    )
    (found,) = [d for d in clmlang.analyse_text(HEAD + text).diagnostics if d.code == "CLM100"]
    assert found.message == "undefined line `bread`"
    assert found.hint == (
        "a line is declared by a product of it: `product NAME ... line bread`;"
        " the spec's lines: pastry"
    )


def test_an_undefined_stage_or_segment_says_how_to_declare_either():
    """`on enter X` takes a stage or a segment: the hint names both declarations."""
    text = 'stage all when purchases >= 0\nrule a { on enter vips send email "x" }\n'
    (found,) = [d for d in clmlang.analyse_text(HEAD + text).diagnostics if d.code == "CLM100"]
    assert found.hint == "declare it with `stage vips when ...` or `segment vips when ...`"


def test_a_variant_named_holdout_is_refused():
    """The simulation's outputs call a rule's control group arm `holdout` (rules.csv, the
    logs, the effects against it): a variant of that name would be taken for it."""
    rule = (
        "product tee price 20\nstage all when purchases >= 0\n"
        'rule r {{\n  on purchase\n  variant {name} 50% {{ send email "a" }}\n'
        '  variant other 50% {{ send email "b" }}\n}}\n'
    )
    found = clmlang.analyse_text(HEAD + rule.format(name="holdout")).diagnostics
    clash = [d for d in found if d.code == "CLM101"]
    assert len(clash) == 1 and "control group" in clash[0].message
    assert clash[0].span.line == 7 and clash[0].span.column == 11  # on the name
    assert "CLM101" not in codes(rule.format(name="held"))
