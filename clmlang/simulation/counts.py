"""Counts in the frames and in the files: integers in a Forecast's frames, written as the
files always wrote them.

The recorder keeps some daily and per-rule counts in float arrays; the frames hold them as
int64. daily.csv and rules.csv wrote those columns with "%.6g", so a count of a million or
more reads 1.23457e+06 there: `as_written` gives them back as floats for the files, which keep
their bytes.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["DAILY_COUNTS", "FLOAT_COUNTS", "as_written", "count"]

# daily.csv's counts the recorder keeps as floats (the money beside them stays float)
DAILY_COUNTS = (
    "new_customers",
    "purchases",
    "messages",
    "capped",
    "delayed",
    "over_capacity",
    "unsubscribes",
    "burned_out",
)

# the counts daily.csv and rules.csv wrote as floats before the frames held them as integers
FLOAT_COUNTS = re.compile(
    "|".join(DAILY_COUNTS) + "|messages_.*|fired|sent|capped|delayed|over_capacity"
    "|not_reachable|control|responses|converted|failed|holdout"
)


def as_written(frame: pd.DataFrame, columns: re.Pattern) -> pd.DataFrame:
    """`frame` with the integer count columns matching `columns` as floats, so the files keep
    their bytes: "%.6g" writes a count of a million or more as 1.23457e+06."""
    counts = [c for c in frame.columns if columns.fullmatch(c) and frame[c].dtype == np.int64]
    return frame.astype(dict.fromkeys(counts, np.float64)) if counts else frame


def count(values: np.ndarray) -> np.ndarray:
    """A count the recorder keeps in a float array, as integers."""
    return np.rint(np.asarray(values, dtype=np.float64)).astype(np.int64)
