"""A history's dates read in one day/month order for the whole file (issue 19 §2): a field
over 12 anywhere decides it; a file mixing the orders, or ambiguous throughout, is refused at
a row with a hint; ISO and YYYYMMDD dates read as before."""

from __future__ import annotations

import pandas as pd
import pytest

from clmlang.forecasting.history import HistoryError, load_history


def _history(tmp_path, *dates: str):
    path = tmp_path / "h.csv"
    rows = "".join(f"1,{d},20\n" for d in dates)
    path.write_text("customer_id,date,amount\n" + rows)
    return path


def _dates(frame: pd.DataFrame) -> list[str]:
    return sorted(str(d.date()) for d in frame["date"])


def test_a_day_over_12_makes_every_row_day_first(tmp_path) -> None:
    """13/02/2025 can only be 13 February, so 03/02/2025 in the same file is 3 February (it
    used to read as 2 March, row by row)."""
    frame = load_history(_history(tmp_path, "13/02/2025", "03/02/2025"))
    assert _dates(frame) == ["2025-02-03", "2025-02-13"]


def test_a_month_field_over_12_makes_every_row_month_first(tmp_path) -> None:
    frame = load_history(_history(tmp_path, "02/13/2025", "03/02/2025", "04.05.2025"))
    assert _dates(frame) == ["2025-02-13", "2025-03-02", "2025-04-05"]


def test_a_file_mixing_both_orders_is_refused_at_the_row(tmp_path) -> None:
    path = _history(tmp_path, "13/02/2025", "2025-01-01", "02/13/2025")
    with pytest.raises(HistoryError) as error:
        load_history(path)
    text = str(error.value)
    assert "row 4, column `date`" in text and "row 2 is day first" in text
    assert "YYYY-MM-DD" in text and "'02/13/2025'" in text


def test_a_file_ambiguous_throughout_is_refused_with_a_hint(tmp_path) -> None:
    path = _history(tmp_path, "2025-01-01", "01/01/2025", "04/02/2025", "03/02/2025")
    with pytest.raises(HistoryError) as error:
        load_history(path)
    text = str(error.value)
    assert "row 4, column `date`: an ambiguous date" in text and "YYYY-MM-DD" in text


def test_a_dataframe_is_refused_by_its_index() -> None:
    frame = pd.DataFrame(
        {"customer_id": ["a", "b"], "date": ["2024-01-01", "07/08/2024"], "amount": [1, 2]}
    )
    with pytest.raises(HistoryError, match="index 1, column `date`: an ambiguous date"):
        load_history(frame)


def test_iso_and_yyyymmdd_dates_read_as_before(tmp_path) -> None:
    frame = load_history(_history(tmp_path, "2025-02-03", "2025-12-01", "2025-01-02T23:30:00"))
    assert _dates(frame) == ["2025-01-02", "2025-02-03", "2025-12-01"]
    frame = load_history(_history(tmp_path, "19970102", "19970311"))
    assert _dates(frame) == ["1997-01-02", "1997-03-11"]
    frame = load_history(_history(tmp_path, "01/01/2025", "2025-03-04"))
    assert _dates(frame) == ["2025-01-01", "2025-03-04"]


def test_a_bad_row_of_a_dataframe_is_named_by_its_index_as_written():
    """A DataFrame's bad row is named by its index label, as the user wrote it: `index 11`,
    not numpy's `np.int64(11)`; a string label keeps its quotes."""
    frame = pd.DataFrame(
        {"customer_id": ["a", "b"], "date": ["2025-01-02", "2025-01-03"], "amount": [5.0, -1.0]},
        index=[10, 11],
    )
    with pytest.raises(HistoryError) as raised:
        load_history(frame)
    assert "index 11," in str(raised.value) and "np.int64" not in str(raised.value)
    with pytest.raises(HistoryError) as raised:
        load_history(frame.set_axis(["x", "y"]))
    assert "index 'y'," in str(raised.value)
