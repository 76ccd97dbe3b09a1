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

from ...core.compiled import kernel
from ...core.heap import trim

__all__ = ["Firings", "MessageCounts", "extend_runs"]


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


CHUNK_PARTS = 128  # closed runs' parts joined into one chunk, this many at a time
DAY = np.uint16  # a run's first and last day (a run has at most MAX_DAYS = 36,525 days)


class Firings:
    """Each rule arm's firings: closed runs, the runs still open (fired on the last day that
    was settled) and the day being filled. `log`, when given (a `_Log` with arm, customer and
    day), also gets one row per firing, in the order they happen. A closed run takes 10
    bytes: arm (int16, int32 past 32,767 arms: `arms`), customer (int32), first and last day
    (uint16 each).

    The day being filled is settled in one pass over every arm that fired that day (not one
    per arm or per batch: some hundred rules may fire on a day), when the next day's first
    firing comes or the run ends. Runs are keyed by arm and customer in one int64
    (arm << 32 | customer), sorted, so the day's firings find the open runs they extend by
    one binary search."""

    RUN = ("arm", "customer", "first", "last")

    def __init__(self, log=None, arms: int = 0):
        self.log = log
        self.arm_type = np.int16 if arms < 2**15 else np.int32
        self.closed: dict[str, list[np.ndarray]] = {k: [] for k in self.RUN}
        self.chunks = 0  # the first parts of `closed` that are chunks of parts
        # the open runs: their keys (sorted), first days, and the day they were last extended
        self.open_key = np.zeros(0, np.int64)
        self.open_first = np.zeros(0, np.int32)
        self.open_day = -2
        self.day: int | None = None  # the day being filled, and its batches (arm, ids)
        self.compiled = False  # the runs extended by `extend_runs` (the run's switch)
        self.pending: list[tuple[int, np.ndarray]] = []

    def add(self, *, arm, customer, day) -> None:
        """The arm `arm` fired for `customer` (ids) on day `day` (arm and day: integers; days
        come in order)."""
        if self.log is not None:
            self.log.add(arm=arm, customer=customer, day=day)
        ids = np.asarray(customer, dtype=np.int32).reshape(-1)
        if not ids.size:
            return
        day = int(day)
        if self.day is not None and self.day != day:
            self._settle()
        self.day = day
        self.pending.append((int(arm), ids))

    def _close(self, key: np.ndarray, first: np.ndarray | int, last: int) -> None:
        if key.size:
            self.closed["arm"].append((key >> 32).astype(self.arm_type))
            self.closed["customer"].append((key & 0xFFFFFFFF).astype(np.int32))
            self.closed["first"].append(np.broadcast_to(first, key.shape).astype(DAY))
            self.closed["last"].append(np.full(key.size, last, dtype=DAY))
            if len(self.closed["arm"]) - self.chunks >= CHUNK_PARTS:
                # a chunk of the parts since the last one (recorder.py's logs do the same)
                for v in self.closed.values():
                    v[self.chunks :] = [np.concatenate(v[self.chunks :])]
                self.chunks += 1

    def _settle(self) -> None:
        """The day being filled joins the runs: a firing of an arm for a customer it fired
        for the day before extends that run, the others start one, and the open runs not
        extended close (a run not extended today can never be again)."""
        day, parts = self.day, self.pending
        self.day, self.pending = None, []
        if len(parts) == 1:
            arm, ids = parts[0]
            key = ids.astype(np.int64)
            key |= np.int64(arm) << 32
        else:
            key = np.concatenate([ids for _, ids in parts]).astype(np.int64)
            sizes = [ids.size for _, ids in parts]
            key |= np.repeat(np.array([arm for arm, _ in parts], np.int64) << 32, sizes)
        # the batches usually come in order of arm, each sorted by customer: then the keys
        # are sorted and distinct already
        if key.size > 1 and not (key[1:] > key[:-1]).all():
            key.sort()
            again = np.zeros(key.size, dtype=bool)
            np.equal(key[1:], key[:-1], out=again[1:])
            if again.any():  # fired twice the same day: the second firing is a run of its own
                self._close(key[again], day, day)
                key = key[~again]
        first = np.full(key.size, day, dtype=np.int32)
        o_key, o_first = self.open_key, self.open_first
        if o_key.size:
            extended = np.zeros(o_key.size, dtype=bool)
            if self.open_day == day - 1 and self.compiled:
                extend_runs(o_key, o_first, key, first, extended)
            elif self.open_day == day - 1:
                at = np.minimum(np.searchsorted(o_key, key), o_key.size - 1)
                found = o_key[at] == key
                first[found] = o_first[at[found]]
                extended[at[found]] = True
            self._close(o_key[~extended], o_first[~extended], self.open_day)
        self.open_key, self.open_first, self.open_day = key, first, day

    def finish(self) -> None:
        """Settle the pending days and close every open run (the run is over)."""
        if self.day is not None:
            self._settle()
        self._close(self.open_key, self.open_first, self.open_day)
        self.open_key, self.open_first = np.zeros(0, np.int64), np.zeros(0, np.int32)

    def runs(self) -> dict[str, np.ndarray]:
        """The runs: arm, customer, first and last day (the class's dtypes, read-only), in no
        particular order. Each column's parts are joined once and kept joined (the parts
        freed as each column is joined), so the runs are never held twice."""
        self.finish()
        dtypes = {"arm": self.arm_type, "customer": np.int32, "first": DAY, "last": DAY}
        joins = 0
        for k, v in self.closed.items():
            if len(v) != 1:
                joins += len(v) > 1
                v[:] = [_cat(v, dtypes[k])]
            v[0].flags.writeable = False
        self.chunks = 1  # each column is one part now
        if joins:
            trim()  # the parts' pages back (core/heap.py)
        return {k: v[0] for k, v in self.closed.items()}

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


@kernel
def extend_runs(o_key, o_first, key, first, extended):
    """`Firings._settle`'s binary search as one merge of two sorted arrays of distinct keys:
    each of today's `key` found among the open runs' `o_key` takes that run's first day
    (`first`) and marks it `extended`."""
    j = 0
    for i in range(key.size):
        k = key[i]
        while j < o_key.size and o_key[j] < k:
            j += 1
        if j == o_key.size:
            return
        if o_key[j] == k:
            first[i] = o_first[j]
            extended[j] = True


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
        if self.block_size and ids.max() >= self.block_size:
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

    def add_steps(self, *, customer, day, channel, sites, arms, sizes, **columns) -> None:
        """`add` for several send steps of one channel at once: `customer` holds each step's
        customers in turn (`sizes` of them; `sites`, `arms`: each step's); the same rows, in
        the same order, as one `add` per step."""
        sizes = np.asarray(sizes)
        ids = np.asarray(customer).reshape(-1)
        if not ids.size:
            return
        if self.log is not None:
            self.log.add(
                customer=customer, day=day, channel=channel,
                site=np.repeat(np.asarray(sites), sizes), arm=np.repeat(np.asarray(arms), sizes),
                **columns,
            )  # fmt: skip
        step = np.repeat(np.arange(sizes.size), sizes)
        if self.block_size and ids.max() >= self.block_size:
            blocks = int(ids.max()) // self.block_size + 1
            per = np.bincount(step * blocks + ids // self.block_size)
            row = np.flatnonzero(per)
            step, block, count = row // blocks, row % blocks, per[row]
        else:
            step = np.flatnonzero(sizes)
            block, count = np.zeros(step.size, np.int64), sizes[step]
        p = self.parts
        p["day"].append(np.full(step.size, day, dtype=np.int32))
        p["site"].append(np.asarray(sites, dtype=np.int32)[step])
        p["channel"].append(np.full(step.size, channel, dtype=np.int16))
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
