"""Rule firings as runs of consecutive days, and delivered messages as counts.

A rule that fires every day (`on schedule daily`, or a condition that holds for weeks) would
log one row per eligible customer per day: 35 million rows for 100,000 customers over a year.
What the outputs need from the firings is, per rule arm, which customer it fired for on which
day (rules.csv compares the revenue after each firing with the holdout's), and that fits in
runs: one row (arm, customer, first day, last day) for each stretch of consecutive days an arm
fired for a customer. A customer who fires daily between two purchases is one run, so the runs
grow with the purchases, not with the days.

Delivered messages are counted per day, send step, channel and block (what products.csv and a
forecast's blocks need); the message-per-row log is kept only when the run keeps its logs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Firings", "MessageCounts"]


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


class Firings:
    """Each rule arm's firings: closed runs, the runs still open (the arm fired for them on
    the last day it fired) and the day being filled. `log`, when given (a `_Log` with
    arm, customer and day), also gets one row per firing, in the order they happen."""

    RUN = ("arm", "customer", "first", "last")

    def __init__(self, log=None):
        self.log = log
        self.closed: dict[str, list[np.ndarray]] = {k: [] for k in self.RUN}
        self.open: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # arm: day, ids, firsts
        self.pending: dict[int, tuple[int, list[np.ndarray]]] = {}  # arm: day, id batches

    def add(self, *, arm, customer, day) -> None:
        """The arm `arm` fired for `customer` (ids) on day `day` (arm and day: integers)."""
        if self.log is not None:
            self.log.add(arm=arm, customer=customer, day=day)
        ids = np.asarray(customer, dtype=np.int32).reshape(-1)
        if not ids.size:
            return
        arm, day = int(arm), int(day)
        pending = self.pending.get(arm)
        if pending is not None and pending[0] != day:
            self._settle(arm)
            pending = None
        if pending is None:
            self.pending[arm] = (day, [ids])
        else:
            pending[1].append(ids)

    def _close(self, arm: int, ids: np.ndarray, first: np.ndarray, last: int) -> None:
        if ids.size:
            self.closed["arm"].append(np.full(ids.size, arm, dtype=np.int32))
            self.closed["customer"].append(ids)
            self.closed["first"].append(first.astype(np.int32, copy=False))
            self.closed["last"].append(np.full(ids.size, last, dtype=np.int32))

    def _settle(self, arm: int) -> None:
        """The pending day of `arm` joins its runs: a customer it fired for the day before
        extends that run, the others start one, and runs not extended close."""
        day, parts = self.pending.pop(arm)
        ids = np.sort(parts[0] if len(parts) == 1 else np.concatenate(parts))
        if len(parts) > 1 and ids.size > 1:
            again = np.zeros(ids.size, dtype=bool)
            np.equal(ids[1:], ids[:-1], out=again[1:])
            if again.any():  # fired twice the same day: the second firing is a run of its own
                self._close(arm, ids[again], np.full(int(again.sum()), day), day)
                ids = ids[~again]
        first = np.full(ids.size, day, dtype=np.int32)
        if arm in self.open:
            last, o_ids, o_first = self.open.pop(arm)
            extended = np.zeros(o_ids.size, dtype=bool)
            if last == day - 1:
                at = np.minimum(np.searchsorted(o_ids, ids), o_ids.size - 1)
                found = o_ids[at] == ids
                first[found] = o_first[at[found]]
                extended[at[found]] = True
            self._close(arm, o_ids[~extended], o_first[~extended], last)
        self.open[arm] = (day, ids, first)

    def finish(self) -> None:
        """Settle the pending days and close every open run (the run is over)."""
        for arm in list(self.pending):
            self._settle(arm)
        for arm, (last, ids, first) in list(self.open.items()):
            self._close(arm, ids, first, last)
        self.open.clear()

    def runs(self) -> dict[str, np.ndarray]:
        """The runs: arm, customer, first and last day (int32 each), in no particular order."""
        self.finish()
        return {k: _cat(v, np.int32) for k, v in self.closed.items()}

    def extend(self, other: Firings, offset: int) -> None:
        """Add the runs of `other`, its customers shifted by `offset` (merging shards)."""
        runs = other.runs()
        runs["customer"] = runs["customer"] + np.int32(offset)
        for k, v in runs.items():
            self.closed[k].append(v)
        if self.log is not None and other.log is not None:
            rows = other.log.arrays()
            rows["customer"] = rows["customer"] + offset
            self.log.add(**rows)

    def arrays(self) -> dict[str, np.ndarray]:
        """One row per firing (arm, customer, day): the kept log when there is one, else the
        runs spelled out, in the order of day, arm, customer."""
        if self.log is not None:
            return self.log.arrays()
        return expand(self.runs())


def expand(runs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs as one row per firing, in the order of day, arm, customer."""
    length = (runs["last"] - runs["first"] + 1).astype(np.int64)
    total = int(length.sum())
    start = np.cumsum(length) - length
    day = (np.arange(total) - np.repeat(start, length) + np.repeat(runs["first"], length)).astype(
        np.int32
    )
    arm, customer = np.repeat(runs["arm"], length), np.repeat(runs["customer"], length)
    order = np.lexsort((customer, arm, day))
    return {"arm": arm[order], "customer": customer[order], "day": day[order]}


class MessageCounts:
    """Delivered messages per (day, send step, channel, block), one row per batch sent (a
    day's send step to some customers); `log`, when given, also gets one row per message."""

    def __init__(self, log=None, block_size: int = 0):
        self.log = log
        self.block_size = block_size  # blocks of consecutive ids (0: one block)
        self.parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("day", "site", "channel", "block", "count")
        }

    def add(self, *, customer, day, channel, site, **columns) -> None:
        if self.log is not None:
            self.log.add(customer=customer, day=day, channel=channel, site=site, **columns)
        ids = np.asarray(customer).reshape(-1)
        if not ids.size:
            return
        if self.block_size:
            per_block = np.bincount(ids // self.block_size)
            block = np.flatnonzero(per_block)
            count = per_block[block]
        else:
            block, count = np.zeros(1, np.int64), np.array([ids.size])
        p = self.parts
        p["day"].append(np.full(block.size, day, dtype=np.int32))
        p["site"].append(np.full(block.size, site, dtype=np.int32))
        p["channel"].append(np.full(block.size, channel, dtype=np.int16))
        p["block"].append(block.astype(np.int32))
        p["count"].append(count.astype(np.int64))

    def counts(self) -> dict[str, np.ndarray]:
        """day, site (send step), channel, block and count of the delivered messages."""
        dtypes = {"day": np.int32, "site": np.int32, "channel": np.int16, "block": np.int32}
        return {k: _cat(v, dtypes.get(k, np.int64)) for k, v in self.parts.items()}

    def extend(self, other: MessageCounts, offset: int) -> None:
        """Add `other`'s counts (a shard's; its blocks stay as they were) and kept rows."""
        for k, v in other.counts().items():
            self.parts[k].append(v)
        if self.log is not None and other.log is not None:
            rows = other.log.arrays()
            rows["customer"] = rows["customer"] + offset
            self.log.add(**rows)

    def arrays(self) -> dict[str, np.ndarray]:
        """One row per delivered message; only when the run kept its logs."""
        if self.log is None:
            raise ValueError("the run kept no message log: simulate with logs=True")
        return self.log.arrays()
