"""Hints a new user needs (issue 19 §6): a history whose columns have other names points to
the option naming them; an unknown customer field of `clm explain` suggests the fields that
start like it when none is close."""

from __future__ import annotations

from .conftest import ROOT, clm

CLINIC = ROOT / "specs" / "clinic.clm"


def test_a_history_with_other_column_names_points_to_the_options(tmp_path) -> None:
    history = tmp_path / "h.csv"
    history.write_text("client,day,value\n1,2025-01-01,10\n1,2025-02-01,20\n")
    done = clm("calibrate", history, "--calibration-end", "2025-03-01")
    assert done.returncode == 1
    assert "no column `customer_id`; the columns are: client, day, value" in done.stderr
    assert "hint: name the history's column that holds it: --customer-col NAME" in done.stderr
    done = clm("calibrate", history, "--calibration-end", "2025-03-01", "--customer-col", "client")
    assert done.returncode == 1
    assert "hint: name the history's column that holds it: --date-col NAME" in done.stderr


def test_an_unknown_customer_field_suggests_the_fields_alike() -> None:
    done = clm("explain", CLINIC, "--customer", "dayz=5")
    assert done.returncode == 2
    assert "unknown field `dayz`; did you mean one of `days_since_purchase`," in done.stderr
    done = clm("explain", CLINIC, "--customer", "purchase=5")
    assert "unknown field `purchase`; did you mean `purchases`?" in done.stderr
    done = clm("explain", CLINIC, "--customer", "xq=5")
    assert "unknown field `xq`; the fields are purchases, days_since_purchase" in done.stderr
