"""Customer state as the columns compiled conditions read (see `expression` for the keys).

`Columns(state, ids, day)` is a lazy mapping: a column is computed for the rows `ids` only
when an expression asks for it, and at most once per mapping.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np

from ...compile.policy import Policy
from ...core.predictions import is_prediction, prediction
from .attributes import clock
from .columns_kernels import count_recent, count_rows
from .population import State

__all__ = ["Columns", "MessageLog"]

RING = 16  # messages(...) counts saturate at this many messages in the window
_BYTES = np.uint64(0x0101010101010101)


class MessageLog:
    """The days of each customer's last `RING` messages, overall and per channel, for the
    `messages(D)` and `messages(C, D)` columns; only the logs a policy reads are kept.

    A slot holds the message's day + 1 as a uint16 (days run below MAX_DAYS, 36,525), 0 for
    no message: 2 bytes a slot, 33 a customer and log."""

    def __init__(self, policy: Policy, n: int):
        self.logs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key in policy.columns:
            if key.startswith("messages:"):
                parts = key.split(":")
                scope = parts[1] if len(parts) == 3 else "*"
                if scope not in self.logs:
                    self.logs[scope] = (
                        np.zeros((n, RING), dtype=np.uint16),
                        np.zeros(n, dtype=np.uint8),
                    )

    def record(self, channel: str, ids: np.ndarray, day: int) -> None:
        for scope in ("*", channel):
            log = self.logs.get(scope)
            if log is not None:
                days, ptr = log
                slot = ptr[ids]
                days[ids, slot] = day + 1
                ptr[ids] = (slot + 1) % RING

    def count(
        self, scope: str, ids: np.ndarray, day: int, window: float, compiled: bool = False
    ) -> np.ndarray:
        """Messages on a day after `day - window` (each slot's day + 1 > day + 1 - window,
        that is, as a whole number, at least its floor + 1; and never the empty slots, 0);
        with `compiled`, by a kernel (columns_kernels.py) for an array of ids or a slice."""
        days, _ = self.logs[scope]
        after = day + 1 - window
        if math.isnan(after):
            return np.zeros(days[ids].shape[0])
        least = 1 if after < 1 else math.floor(after) + 1  # (a window of inf: every message)
        if compiled and isinstance(ids, np.ndarray):
            return count_recent(days, ids.astype(np.int64, copy=False), np.uint16(least))
        if compiled and isinstance(ids, slice) and ids.step in (None, 1):
            return count_rows(days[ids], np.uint16(least))
        # the booleans of a customer's RING slots, 0 or 1 a byte, summed as words: each byte
        # of the words' sum holds at most RING // 8, and a multiplication by 0x0101...01
        # gathers the bytes' sum in the top byte (numpy's sum along a short axis is slow)
        words = (days[ids] >= least).view(np.uint64)
        total = words[:, 0].copy()
        for w in range(1, RING // 8):
            total += words[:, w]
        return ((total * _BYTES) >> np.uint64(56)).astype(float)


class Columns(Mapping[str, np.ndarray]):
    def __init__(self, sim: object, ids: np.ndarray, day: int):
        self.sim = sim
        self.state: State = sim.state  # type: ignore[attr-defined]
        self.ids = ids
        self.day = day
        self.cache: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._compute(key)
        return hit

    def __iter__(self) -> Iterator[str]:
        return iter(self.sim.policy.columns)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.sim.policy.columns)  # type: ignore[attr-defined]

    def _compute(self, key: str) -> np.ndarray:
        st, ids, day, sim = self.state, self.ids, self.day, self.sim
        if key == "purchases":
            return st.purchases[ids].astype(float)
        if key == "days_since_purchase":
            return np.float32(day) - st.last_day[ids]
        if key == "days_since_first_purchase":
            return np.float32(day) - st.first_day[ids]
        if key == "total_spent":
            return st.spent[ids]
        if key == "avg_check":
            count = st.purchases[ids]
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(count > 0, st.spent[ids] / count, np.nan)
        if key in ("last_product", "stage", "previous_stage", "audience"):
            return getattr(st, key)[ids].astype(float)
        if key == "days_in_stage":
            return day - st.stage_since[ids].astype(float)
        if key == "subscribed":
            return st.subscribed[ids] != 0
        if is_prediction(key):  # from the state now: updated as the histories change
            return prediction(
                key,
                st.purchases[ids],
                np.float32(day) - st.first_day[ids],
                np.float32(day) - st.last_day[ids],
                st.spent[ids],
                sim.market.buying_model(),  # type: ignore[attr-defined]
            )
        if key in sim.tally:  # type: ignore[attr-defined]
            return sim.tally.column(key, ids, day)  # type: ignore[attr-defined]
        if key in sim.event_memory:  # type: ignore[attr-defined]
            return sim.event_memory.column(key, ids, day)  # type: ignore[attr-defined]
        kind, _, rest = key.partition(":")
        if kind == "owns":
            return _bit(st.owned[ids], sim.product_index[rest])  # type: ignore[attr-defined]
        if kind == "owns_line":
            return _bit(st.owned_lines[ids], sim.line_index[rest])  # type: ignore[attr-defined]
        if kind == "subscribed":
            return _bit(st.subscribed[ids], sim.product_index[rest])  # type: ignore[attr-defined]
        if kind == "unsubscribed":
            return _bit(st.unsubscribed[ids], sim.channel_index[rest])  # type: ignore[attr-defined]
        if kind == "messages":
            parts = rest.split(":")
            scope, window = ("*", parts[0]) if len(parts) == 1 else parts
            return sim.message_log.count(  # type: ignore[attr-defined]
                scope, ids, day, float(window), getattr(sim, "compiled", False)
            )
        if kind == "days_since":
            return day - st.attributes[rest][ids]
        if kind == "attr":
            rate = st.growth.get(rest)
            if rate is None:
                return st.attributes[rest][ids]
            since = np.maximum(day - clock(st.arrival[ids]), 0.0)
            return st.attributes[rest][ids] + rate[ids] * since
        raise KeyError(key)


def _bit(mask: np.ndarray, index: int) -> np.ndarray:
    return ((mask >> np.uint64(index)) & np.uint64(1)).astype(bool)
