"""A customer's purchases as of a day: the first purchase within a window after it (did a
message convert?), and the history up to it as the buying models read it (x, t_x, T).

Both look up many (customer, day) pairs at once in a history merged by day and sorted by
customer and date (`history.merge_days`), by binary search over one sorted key per purchase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["history_at", "purchase_after"]


@dataclass(frozen=True)
class _DayKeys:
    """A history's purchase days as sorted keys, each customer in a stretch of keys of their
    own (customer code x span + day), and the asked (customer, day) pairs in the same terms."""

    key: np.ndarray  # per purchase, in the history's order (sorted by customer and date)
    day: np.ndarray  # per purchase: days since the epoch
    asked: np.ndarray  # per asked pair: its day
    code: np.ndarray  # per asked pair: the customer's code (-1: not in the history)
    span: float
    low: int

    @classmethod
    def of(cls, history: pd.DataFrame, customers, days, reach: int = 0) -> _DayKeys:
        epoch = np.datetime64("1970-01-01")
        ids = pd.Index(history["customer_id"].unique())
        day = (history["date"].to_numpy() - epoch) // np.timedelta64(1, "D")
        low = int(day.min()) if day.size else 0
        asked = (pd.to_datetime(days).to_numpy() - epoch) // np.timedelta64(1, "D")
        span = float(max(day.max(initial=0), asked.max(initial=0)) - low + reach + 2)
        key = ids.get_indexer(history["customer_id"]) * span + (day - low)
        return cls(key, day, asked, ids.get_indexer(customers), span, low)

    def at(self, offset: np.ndarray) -> np.ndarray:
        """The key of each asked pair's customer at `offset` days after the pair's day
        (clipped to the customer's stretch)."""
        return np.maximum(self.code, 0) * self.span + np.maximum(self.asked - self.low + offset, -1)


def purchase_after(
    history: pd.DataFrame, customers: pd.Series, days: pd.Series, windows: pd.Series
) -> np.ndarray:
    """For each (customer, day, window in days): the row of `history` (merged by day, sorted
    by customer and date, as `merge_days` gives it) of the customer's first purchase in
    [day + 1, day + window], or -1 when there is none."""
    width = np.asarray(windows, dtype=np.int64)
    k = _DayKeys.of(history, customers, days, int(width.max(initial=0)))
    at = np.searchsorted(k.key, k.at(1), side="left")
    found = (k.code >= 0) & (at < np.searchsorted(k.key, k.at(1 + width), side="left"))
    return np.where(found, at, -1)


def history_at(
    history: pd.DataFrame, customers: pd.Series, days: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each (customer, day)'s history up to and including the day, as the buying models
    read it: (purchases, repeat purchases x, t_x, T), times in weeks since the first
    purchase. `history` as for `purchase_after`; a customer with no purchase yet has 0."""
    k = _DayKeys.of(history, customers, days)
    day, asked = k.day, k.asked
    begin = np.searchsorted(k.key, np.maximum(k.code, 0) * k.span, side="left")
    end = np.searchsorted(k.key, k.at(0), side="right")
    count = np.where(k.code >= 0, np.maximum(end - begin, 0), 0)
    some = count > 0
    first = np.where(some, day[np.minimum(begin, day.size - 1)], asked)
    last = np.where(some, day[np.maximum(end - 1, 0)], asked)
    x = np.maximum(count - 1, 0)
    return count, x, (last - first) / 7.0, (asked - first) / 7.0
