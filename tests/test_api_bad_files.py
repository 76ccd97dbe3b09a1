"""The API on the wrong file or argument: what it is and what is expected, as the command
line says it (core/file_kinds.py), not pandas', TOML's or numpy's own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import clmlang

SPEC = "specs/clinic.clm"


def test_an_empty_history_says_it_is_empty_with_the_command_lines_hint(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(clmlang.HistoryError) as raised:
        clmlang.load_history(empty)
    assert str(raised.value) == (
        f"{empty}: the file is empty\n  hint: a purchase history is a CSV file with a header"
        " line (customer_id,date,amount) and a line per purchase (docs/calibration.md)"
    )
    with pytest.raises(clmlang.HistoryError, match=r"empty\.csv: the file is empty$"):
        clmlang.load_messages(empty)  # a message log: no history's hint


def test_a_spec_where_a_scenario_is_read_is_named_as_a_spec():
    expected = re.escape(
        "it is a spec (.clm), not a scenario or market file (TOML); a spec goes as"
    )
    with pytest.raises(clmlang.MarketError, match=r"\(file\): " + expected + " `policy`") as got:
        clmlang.simulate(SPEC, SPEC, customers=10, days=5)
    assert "Expected" not in str(got.value) and got.value.source == SPEC
    with pytest.raises(clmlang.MarketError, match=expected + " `spec`"):
        clmlang.run_scenario(SPEC)
    with pytest.raises(clmlang.MarketError, match="it is a test file"):
        clmlang.explain(SPEC, "purchases=1", "specs/clinic.test.toml")


@pytest.mark.parametrize("rng, error", [("abc", TypeError), (-1, ValueError), (1.5, TypeError)])
def test_an_rng_that_is_neither_a_generator_nor_a_seed_says_what_rng_takes(rng, error):
    with pytest.raises(error, match=r"^rng: a numpy\.random\.Generator or a seed \(a whole"):
        clmlang.simulate(SPEC, customers=10, days=5, rng=rng)
