"""The day/month order of a history's written dates: one order for the whole file.

`13/02/2025` can only be day first and `02/13/2025` only month first, but `03/02/2025` can be
either; read row by row, one file could mix both orders without a word. The order is decided
once, from every row written `NN/NN/YYYY` (or with `.` or `-`, a 2-digit year, a time after):
a first field over 12 anywhere makes the whole file day first, a second field over 12 month
first; a file with both, or with ambiguous dates and neither, is refused at a row. ISO dates
(`2025-02-03`) and `YYYYMMDD` are not of that form and are read as before."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["AmbiguousDates", "one_order"]

WRITTEN = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T].*)?$"
ISO_HINT = "write the dates as YYYY-MM-DD"


class AmbiguousDates(ValueError):
    """A history whose day/month order cannot be decided: at position `row` (0-based); `other`,
    the row that says the opposite order, if any."""

    def __init__(self, row: int, other: int | None = None) -> None:
        super().__init__(row, other)
        self.row, self.other = row, other

    def what(self, place: Callable[[int], str]) -> str:
        """The problem, with `place` naming a position as the caller's messages do."""
        if self.other is None:
            return (
                "an ambiguous date (day/month or month/day?): no date in the file has a "
                f"field over 12 to tell the order; {ISO_HINT}"
            )
        return (
            f"a date month first, while {place(self.other)} is day first (a field over 12): "
            f"one file, one order; {ISO_HINT}"
        )


def one_order(text: pd.Series, dates: pd.Series) -> pd.Series:
    """`dates` (parsed from `text`, row by row) with the rows written `NN/NN/YYYY` read in
    the one order the whole file shows. Raises `AmbiguousDates`."""
    parts = text.str.extract(WRITTEN)
    written = parts[0].notna().to_numpy()
    if not written.any():
        return dates
    rows = np.flatnonzero(written)
    first = parts[0].to_numpy()[written].astype(int)
    second = parts[1].to_numpy()[written].astype(int)
    day_first, month_first = first > 12, second > 12
    if day_first.any() and month_first.any():
        raise AmbiguousDates(int(rows[month_first][0]), int(rows[day_first][0]))
    if not (day_first.any() or month_first.any()):
        ambiguous = first != second
        if ambiguous.any():
            raise AmbiguousDates(int(rows[ambiguous][0]))
        return dates  # 01/01/2025 and the like: either order reads the same
    chosen = text[written]
    try:
        read = pd.to_datetime(
            chosen, dayfirst=bool(day_first.any()), format="mixed", errors="coerce"
        )
        if isinstance(read.dtype, pd.DatetimeTZDtype):
            read = read.dt.tz_localize(None)
    except (ValueError, TypeError):  # offsets differ between rows: each its local date
        read = pd.Series([_local(v, bool(day_first.any())) for v in chosen], index=chosen.index)
    out = dates.copy()
    out[written] = read.to_numpy(dtype=out.dtype)
    return out


def _local(text: str, day_first: bool) -> pd.Timestamp:
    try:
        stamp = pd.to_datetime(text, dayfirst=day_first)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
