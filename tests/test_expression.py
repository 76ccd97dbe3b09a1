"""Conditions lowered to the IR and evaluated over many customers at once."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from clmlang.language.conditions import Expr, LoweringError, evaluate, lower, required_columns
from clmlang.language.loader import load_text
from clmlang.language.symbols import Symbols

SPEC = """program "x"
product facial role profit price 10 line cosmetology
product implant role profit price 100 line dentistry
audience premium
audience budget
rfm { recency 30 days, 60 days, 120 days, 240 days  frequency 2, 3, 5, 8
      monetary 100, 250, 500, 1000 }
stage new when purchases <= 2
stage loyal when purchases > 2
segment champions when rfm.r >= 4 and rfm.f >= 4
segment premium_champions when champions and audience is premium
segment loop_a when loop_b
segment loop_b when loop_a
"""


@pytest.fixture(scope="module")
def symbols() -> Symbols:
    spec = load_text(SPEC)
    assert spec.diagnostics == ()
    return Symbols.from_spec(spec)


def condition(symbols: Symbols, text: str):
    spec = load_text(f"segment t when {text}")
    return lower(spec.files[0].items[0].condition, symbols)


def columns(**values) -> dict[str, np.ndarray]:
    return {k.replace("__", ":"): np.asarray(v) for k, v in values.items()}


def test_comparison_over_rows(symbols):
    """A comparison is evaluated for every row at once."""
    ir = condition(symbols, "purchases in 3..7 and days_since_purchase >= 60 days")
    cols = columns(purchases=[2.0, 3, 7, 8], days_since_purchase=[90.0, 90, 59, 90])
    assert evaluate(ir, cols).tolist() == [False, True, False, False]


def test_missing_value_makes_any_comparison_false(symbols):
    """A customer who never bought has no recency: `<`, `>=`, `!=`, `in`, `not in` are all false."""
    cols = columns(days_since_purchase=[np.nan])
    for text in (
        "days_since_purchase < 30",
        "days_since_purchase >= 30",
        "days_since_purchase != 30",
        "days_since_purchase in 1..9",
        "days_since_purchase not in 1..9",
    ):
        assert evaluate(condition(symbols, text), cols).tolist() == [False], text


def test_units_become_days(symbols):
    """`2 months` compares in days (calendar-average months)."""
    ir = condition(symbols, "days_since_purchase > 2 months")
    cols = columns(days_since_purchase=[60.0, 61.0])
    assert evaluate(ir, cols).tolist() == [False, True]


def test_is_compares_codes(symbols):
    """`audience is premium` compares the audience column with premium's index."""
    ir = condition(symbols, "audience is budget")
    assert evaluate(ir, columns(audience=[0, 1, -1])).tolist() == [False, True, False]
    ir = condition(symbols, "stage is not loyal")
    assert evaluate(ir, columns(stage=[0, 1, -1])).tolist() == [True, False, True]


def test_rfm_scores(symbols):
    """Recency scores 5 at or under the first bound, 1 past the last or with no purchase."""
    ir = condition(symbols, "rfm.r")
    cols = columns(days_since_purchase=[0.0, 30, 31, 240, 241, np.nan])
    assert evaluate(ir, cols).tolist() == [5, 5, 4, 2, 1, 1]
    ir = condition(symbols, "rfm.f")
    assert evaluate(ir, columns(purchases=[1.0, 2, 7, 8, 20])).tolist() == [1, 2, 4, 5, 5]


def test_segments_are_inlined(symbols):
    """A segment used in a condition is replaced by its own condition."""
    ir = condition(symbols, "premium_champions")
    assert required_columns(ir) == {"days_since_purchase", "purchases", "audience"}
    cols = columns(days_since_purchase=[10.0, 10.0], purchases=[9.0, 9.0], audience=[0, 1])
    assert evaluate(ir, cols).tolist() == [True, False]


def test_segment_cycle_is_refused(symbols):
    """A segment defined through itself cannot be lowered."""
    with pytest.raises(LoweringError, match="in terms of itself"):
        condition(symbols, "loop_a")


def test_function_columns(symbols):
    """State functions read their own columns."""
    ir = condition(
        symbols, "owns(facial) and not owns(line dentistry) and messages(sms, 30 days) < 2"
    )
    assert required_columns(ir) == {"owns:facial", "owns_line:dentistry", "messages:sms:30"}
    cols = columns(
        owns__facial=[True, True], owns_line__dentistry=[False, True], messages__sms__30=[1, 1]
    )
    assert evaluate(ir, cols).tolist() == [True, False]


def test_arithmetic(symbols):
    """Arithmetic is elementwise; division by zero is no crash."""
    ir = condition(symbols, "total_spent / purchases > 50")
    cols = columns(total_spent=[100.0, 100.0, 0.0], purchases=[1.0, 4.0, 0.0])
    assert evaluate(ir, cols).tolist() == [True, False, False]


def test_constant_condition_has_one_value_per_row(symbols):
    """`true` evaluates to a full column."""
    assert evaluate(condition(symbols, "true"), columns(purchases=[1, 2, 3])).tolist() == [True] * 3


def test_ir_round_trips_through_json(symbols):
    """The IR is JSON: dumping and loading gives the same expression."""
    ir = condition(symbols, "not (purchases > 1 or stage is loyal) and -total_spent < 3 * 2")
    adapter = TypeAdapter(Expr)
    assert adapter.validate_json(adapter.dump_json(ir)) == ir


def test_missing_text_makes_every_comparison_false():
    """A text attribute with no value (the empty text) is missing, like NaN for numbers."""
    import numpy as np

    from clmlang.language.conditions import Column, Compare, Const, evaluate

    values = np.array(["compact", "", "suv"], dtype=object)
    for op, expected in (("==", [True, False, False]), ("!=", [False, False, True])):
        node = Compare(op=op, left=Column(key="attr:model"), right=Const(value="compact"))
        assert evaluate(node, {"attr:model": values}, 3).tolist() == expected


def test_bare_flag_is_a_condition():
    """A flag attribute alone is a condition, stored as 0/1, and one not known is false."""
    flags = Symbols.from_spec(load_text('program "x"\nattribute vip flag\n'))
    cols = columns(attr__vip=[1.0, 0.0, np.nan], purchases=[1.0, 1.0, 1.0])
    for text, expected in (
        ("vip", [True, False, False]),
        ("vip and purchases >= 1", [True, False, False]),
        ("vip or purchases > 1", [True, False, False]),
        ("not vip", [False, True, True]),
    ):
        ir = lower(load_text(f"segment t when {text}").files[0].items[0].condition, flags)
        result = evaluate(ir, cols)
        assert result.dtype == bool, text
        assert result.tolist() == expected, text
