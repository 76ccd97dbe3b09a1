"""What a run records: daily counters, the purchase log, rule firings and delivered messages
(aggregated as they happen: firings.py; one row each only when the run keeps its logs),
per-rule counters.

Logs grow by whole batches (a list of arrays per field, concatenated once at the end), so
recording costs a few appends per day, not a Python call per customer.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from ...core.heap import trim
from .firings import Firings, MessageCounts

__all__ = [
    "DAILY",
    "DAILY_FLOWS",
    "DAILY_MARKETING",
    "ITEM_KINDS",
    "NOT_SENT",
    "RULE_COUNTERS",
    "Recorder",
    "Trace",
]

# What the recorder counts each day, one array of `days` each. daily.csv (`metrics`) shows the
# flows and the marketing counts as they are, in these orders; the rest feed computed columns.
DAILY_FLOWS = ("new_customers", "purchases", "revenue", "subscription_revenue")
DAILY_MARKETING = (
    "messages",
    "message_cost",
    "capped",
    "delayed",
    "over_capacity",
    "unsubscribes",
    "burned_out",
    "discounts",
    "rewards",
    "acquisition_cost",
)
DAILY = ("customers", "alive", "active", *DAILY_FLOWS, "cost_of_goods", *DAILY_MARKETING)
# What the recorder counts for each rule arm (a rule's variant, or its holdout), in the order
# rules.csv shows them.
RULE_COUNTERS = (
    "fired",
    "sent",
    "capped",
    "delayed",
    "over_capacity",
    "not_reachable",
    "control",
    "responses",
    "converted",
    "failed",
    "cost",
    "revenue",
    "profit",
)
# Why a message a rule's flow reached was not delivered, as `Recorder.unsent` codes them
# (index + 1); recorded only when a run keeps its logs (`Recorder(logs=True)`).
NOT_SENT = ("not_reachable", "control", "capped", "delayed", "over_capacity")
# What a row of `Recorder.items` is (its `kind` code is the index).
ITEM_KINDS = ("main", "add_on", "renewal")


class _Log:
    """A log's columns as parts, a batch of rows each. The batches since the last chunk are
    joined into one chunk every CHUNK_PARTS batches or CHUNK_ROWS rows, so a long run holds
    a few big arrays per column, not thousands of small ones scattered over the C heap
    between the day's temporaries (whose pages the heap could then not give back); a
    chunk whose rows all hold the same value is one read-only view of it (no memory)."""

    CHUNK_PARTS = 128
    CHUNK_ROWS = 1 << 18

    def __init__(self, **dtypes: type):
        self.dtypes = dtypes
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in dtypes}
        self.joined: dict[str, np.ndarray] = {}  # each column's parts, joined by `arrays`
        self.chunks = 0  # the first parts of each column that are chunks
        self.pending_rows = 0  # rows in the parts after them

    def add(self, **columns: np.ndarray | float | int) -> None:
        """A batch of rows: arrays of one length, and scalars repeated (as read-only views
        that take no memory)."""
        size = max(np.size(v) for v in columns.values())
        for key, value in columns.items():
            value = np.asarray(value, dtype=self.dtypes[key])
            if value.shape != (size,):  # what np.broadcast_to gives, for a fraction of its cost
                value = np.ndarray((size,), value.dtype, value.reshape(1), strides=(0,))
                value.flags.writeable = False
            self.parts[key].append(value)
        self.pending_rows += size
        count = len(next(iter(self.parts.values()))) - self.chunks
        if count >= self.CHUNK_PARTS or self.pending_rows >= self.CHUNK_ROWS:
            self._chunk()

    def _chunk(self) -> None:
        """The parts since the last chunk, joined into one (`_joined`)."""
        for v in self.parts.values():
            v[self.chunks :] = [_joined(v[self.chunks :])]
        self.chunks += 1
        self.pending_rows = 0

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns, each one array (read-only): the parts are joined once and kept joined,
        so the log is never held twice by the readers of a finished run. The heap's pages the
        parts took are given back once joined (core/heap.py)."""
        out, joins = {}, 0
        for k, v in self.parts.items():
            if not (len(v) == 1 and v[0] is self.joined.get(k)):
                joins += len(v) > 1
                joined = _concatenated(v, self.dtypes[k])
                joined.flags.writeable = False
                v[:] = [joined]
                self.joined[k] = joined
            out[k] = v[0]
        if joins:
            trim()
        return out


class _Coded:
    """A chunk of a float column with few distinct values: each row's code (uint8) into
    `values`; the same bytes once decoded."""

    def __init__(self, codes: np.ndarray, values: np.ndarray):
        self.codes, self.values = codes, values
        self.size = codes.size


_NARROW = (np.int8, np.int16, np.int32)
_CODES = 256  # a float chunk of at most this many distinct values is coded (`_Coded`)


def _joined(parts: list[np.ndarray]) -> np.ndarray | _Coded:
    """`parts` as one chunk in the least memory that gives back the same bytes: a read-only
    view of one value when every row holds it (the same bytes: 0.0 and -0.0 differ), an
    integer column in the narrowest integer type that holds its values, a float column of
    few distinct values as codes (`_Coded`), else the parts joined."""
    rows = [p for p in parts if p.size]
    if rows and all(p.strides == (0,) for p in rows):
        value = rows[0][:1]
        if all(p[:1].tobytes() == value.tobytes() for p in rows):
            return np.broadcast_to(value, (sum(p.size for p in rows),))
    joined = np.concatenate(parts)
    if not joined.size or joined.dtype.kind not in "biuf":
        return joined
    bits = joined.view(f"u{joined.itemsize}")
    if (bits == bits[0]).all():
        return np.broadcast_to(joined[:1].copy(), joined.shape)
    if joined.dtype.kind == "i" and joined.itemsize > 1:
        low, high = int(joined.min()), int(joined.max())
        for narrow in _NARROW:
            info = np.iinfo(narrow)
            if np.dtype(narrow).itemsize < joined.itemsize and info.min <= low <= high <= info.max:
                return joined.astype(narrow)
        return joined
    if joined.dtype.kind == "f" and joined.itemsize == 8:
        values = np.unique(bits[:4096])
        if values.size < _CODES:
            codes = np.minimum(np.searchsorted(values, bits), values.size - 1)
            if (values[codes] == bits).all():
                return _Coded(codes.astype(np.uint8), values.view(joined.dtype))
    return joined


def _concatenated(parts: list, dtype) -> np.ndarray:
    """A column's parts (arrays, narrowed or coded chunks) as one array of `dtype`."""
    if not any(isinstance(p, _Coded) for p in parts):
        return np.concatenate(parts, dtype=dtype) if parts else np.zeros(0, dtype=dtype)
    out = np.empty(sum(p.size for p in parts), dtype=dtype)
    at = 0
    for p in parts:
        if isinstance(p, _Coded):
            np.take(p.values, p.codes, out=out[at : at + p.size])
        else:
            out[at : at + p.size] = p
        at += p.size
    return out


@dataclass
class Trace:
    """One customer's journey: (day, what happened, detail) lines, in time order and, within
    a day, in the order things happened."""

    customer: int
    lines: list[tuple[float, str, str]] = field(default_factory=list)

    def add(self, day: float, kind: str, detail: str) -> None:
        """A line for `day`. Purchases carry their time of day (141.88); what the engine does
        after them on the same day (the stage change a purchase causes, the rules and
        messages of the day) is stamped with the latest time already traced that day, so
        the journey never goes back in time and a cause comes before its effect."""
        if self.lines:
            last = self.lines[-1][0]
            if math.floor(last) == math.floor(day) and day < last:
                day = last
        # a line of an earlier day than the last goes after that day's lines (stable)
        at = bisect.bisect_right(self.lines, math.floor(day), key=lambda line: math.floor(line[0]))
        self.lines.insert(at, (day, kind, detail))


class Recorder:
    def __init__(
        self,
        days: int,
        stages: int,
        channels: int,
        arms: int,
        logs: bool = False,
        segments: int = 0,
        events: int = 0,
        block_size: int = 0,
    ):
        self.days = days
        self.logs = logs  # keep the messages that were not delivered too (`unsent`)
        self.daily = {k: np.zeros(days) for k in DAILY}
        self.channel_messages = np.zeros((days, channels))
        self.channel_cost = np.zeros((days, channels))
        # the channels' queues: messages waiting at the end of the day, messages dropped after
        # waiting too long, and the days waited by the messages the queue sent that day
        self.channel_backlog = np.zeros((days, channels), dtype=np.int64)
        self.channel_expired = np.zeros((days, channels), dtype=np.int64)
        self.channel_waited = np.zeros((days, channels), dtype=np.int64)
        self.stage_counts = np.zeros((days, stages + 1), dtype=np.int64)  # column 0: no stage
        self.transitions = np.zeros((stages + 1, stages + 1), dtype=np.int64)
        self.segment_counts = np.zeros((days, segments), dtype=np.int64)
        self.event_counts = np.zeros((days, events), dtype=np.int64)  # behavioural events
        # the behavioural events, one row per customer, event and day (kept with `logs`)
        self.events = _Log(customer=np.int32, day=np.int32, event=np.int16, count=np.int32)
        self.arm_counters = {k: np.zeros(arms) for k in RULE_COUNTERS}
        self.purchases = _Log(
            customer=np.int32,
            time=np.float64,
            revenue=np.float64,
            profit=np.float64,
            product=np.int16,
            arm=np.int32,
            stage=np.int16,  # the customer's stage after the purchase (-1: none)
        )
        # what each purchase was made of, and each subscription renewal: one row per product
        # (a check's main product, each add-on attached to it, a renewal: ITEM_KINDS), with
        # its share of the check's revenue, cost of goods, members' reward and offer cost
        self.items = _Log(
            customer=np.int32,
            time=np.float64,
            product=np.int16,
            kind=np.int8,
            revenue=np.float64,
            cost_of_goods=np.float64,
            reward=np.float64,
            offer_cost=np.float64,
        )
        # rule firings as runs of days (firings.py); one row per firing only with `logs`
        self.rule_events = Firings(
            _Log(arm=np.int32, customer=np.int32, day=np.int32) if logs else None, arms
        )
        # delivered messages counted per day, send step and block (`block_size`: the blocks'
        # size, 0: one block); one row per message only with `logs`
        self.messages = MessageCounts(
            _Log(
                customer=np.int32,
                day=np.int32,
                channel=np.int16,
                site=np.int32,
                arm=np.int32,
                stage=np.int16,
                unsubscribed=np.bool_,  # this message made the customer unsubscribe
            )
            if logs
            else None,
            block_size,
        )
        # messages a flow reached but did not deliver: site, arm and why (NOT_SENT index + 1)
        self.unsent = _Log(customer=np.int32, day=np.int32, site=np.int32, status=np.int8)
        self.unsubscribes = _Log(customer=np.int32, day=np.int32, channel=np.int16)
        self.node_outcomes: dict[int, list[int]] = {}  # flow node -> [succeeded, failed]
        # rule index -> customers its trigger picked, before its filters and re-entry
        self.triggered: dict[int, int] = {}
        # with prospects (prospects.py): the funnel's daily counts (FUNNEL_DAILY) and the rows
        # that arrived by the end (starting customers, acquired, prospects)
        self.funnel: dict[str, np.ndarray] | None = None
        self.rows: int | None = None
        # referred prospects the day's room (prospects.py) could not take, and on how many days
        self.referrals_beyond_room = 0
        self.referral_room_full_days = 0
        self.referral_room = 0

    def not_sent(self, why: str, ids: np.ndarray, day: int, site: int) -> None:
        """Log the messages of send step `site` that `ids` did not get today, and `why`
        (one of NOT_SENT); only when the run keeps its logs."""
        if self.logs and ids.size:
            self.unsent.add(customer=ids, day=day, site=site, status=NOT_SENT.index(why) + 1)
