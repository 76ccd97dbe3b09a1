"""The simulation's state besides the customers' own arrays (`population.State`), in small
components that say who reads and writes what.

- `StageEffects` (read by buying): what each stage does to buying, indexed by stage code + 1.
- `Arms` (read by rules and messaging; written by nobody): a rule's variants and holdout as
  counter rows of the recorder, and how variants and holdouts are drawn.
- `SendSteps` (read by messaging and responses): every `send` step of every flow, with its
  arm and its offer as arrays, so a batch of responses looks its offers up at once.
- `Eligibility` (read by rules): each rule's stage look-up table and the rest of its filters.
- `RuleMemory` (written by rules, stages and buying): what rules remember between days:
  when each customer last fired, the edge detectors of condition triggers, anchors of `after`
  triggers, and the deadlines of flows waiting for success.
- `DayWork` (written and read within one day): the day's events, message queue and channel
  capacity left.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from ...compile.policy import Policy
from ...language.conditions import Expr, Logic, required_columns
from ...market.model import MAX_DAYS, Market
from .program import Program

__all__ = [
    "Arms",
    "DayWork",
    "Eligibility",
    "RuleMemory",
    "SendSteps",
    "StageEffects",
    "waiting_on",
]

# Columns whose value changes with the passing of time alone, not only at events.
# The buying model's predictions too: p_alive falls day by day without a purchase.
_TIME_PREFIXES = (
    "days_since",
    "days_in_stage",
    "messages:",
    "days_since:",
    "p_alive",
    "expected_purchases:",
    "predicted_value:",
)


def time_driven(expr: Expr | None, growing: frozenset[str] = frozenset()) -> bool:
    """Whether a condition's value can change on a day with no event for the customer
    (`growing`: the columns of attributes that grow day by day)."""
    if expr is None:
        return False
    return any(key.startswith(_TIME_PREFIXES) or key in growing for key in required_columns(expr))


def growing_columns(market: Market) -> frozenset[str]:
    """The condition columns of the attributes that grow day by day."""
    return frozenset(f"attr:{name}" for name, m in market.attributes.items() if m.growth)


@dataclass(frozen=True)
class StageEffects:
    rate: np.ndarray  # purchase-rate multiplier, row 0 for no stage
    dropout: np.ndarray  # dropout-probability multiplier
    check: np.ndarray  # average-check multiplier
    rate_after: object  # the market's rate multiplier by purchases made
    time_driven: bool  # some stage changes with time alone

    @classmethod
    def of(cls, policy: Policy, market: Market) -> StageEffects:
        effects = [market.stage(s.name) for s in policy.stages]
        return cls(
            rate=np.array([1.0] + [e.rate for e in effects]),
            dropout=np.array([1.0] + [e.dropout for e in effects]),
            check=np.array([1.0] + [e.check for e in effects]),
            rate_after=market.buying.rate_multiplier,
            time_driven=any(
                time_driven(s.condition, growing_columns(market)) for s in policy.stages
            ),
        )


@dataclass(frozen=True)
class Arms:
    labels: list[tuple[int, str]]  # (rule index, variant name | "" | "holdout"), by arm
    of: dict[tuple[int, int], int]  # (rule, variant index or -1) -> arm
    holdout: list[int]  # each rule's holdout arm
    variant_cumulative: list[np.ndarray | None]  # each rule's cumulative variant shares
    rule_keys: list[int]  # holdout and variant draws are keyed by the rule's name, so
    # switching another rule off does not reshuffle them

    @classmethod
    def of_policy(cls, policy: Policy) -> Arms:
        labels: list[tuple[int, str]] = []
        of: dict[tuple[int, int], int] = {}
        holdout: list[int] = []
        for r, rule in enumerate(policy.rules):
            for v, variant in enumerate(rule.variants or [None]):
                of[(r, v if variant else -1)] = len(labels)
                labels.append((r, variant.name if variant else ""))
            holdout.append(len(labels))
            labels.append((r, "holdout"))
        cumulative = [
            np.cumsum([v.share for v in r.variants]) / sum(v.share for v in r.variants)
            if r.variants
            else None
            for r in policy.rules
        ]
        keys = [zlib.crc32(r.name.encode()) for r in policy.rules]
        return cls(labels, of, holdout, cumulative, keys)


@dataclass(frozen=True)
class SendSteps:
    ids: dict  # the program's site key -> index in the message log
    sites: list  # the send steps, by index
    arm: np.ndarray  # each step's arm
    offers: dict[str, np.ndarray]  # each step's offer, by field

    @classmethod
    def of(cls, program: Program, arms: Arms) -> SendSteps:
        sites = list(program.sites.values())
        return cls(
            ids={key: i for i, key in enumerate(program.sites)},
            sites=sites,
            arm=np.array([arms.of[(s.rule, s.variant)] for s in sites] or [0]),
            offers={
                name: np.array([getattr(s, name) for s in sites])
                for name in (
                    "offer_product",
                    "offer_line",
                    "discount_share",
                    "discount_amount",
                    "bonus",
                )
            },
        )


@dataclass(frozen=True)
class Eligibility:
    stage_lut: list[np.ndarray | None]  # by rule: which stage codes (+1) are in its stages
    stage_codes: list[list[np.int16]]  # by rule: its stages' codes
    rest: list[Expr | None]  # by rule: the filters besides the stages
    time_driven: list[bool]  # by rule: eligibility can change with time alone

    @classmethod
    def of(
        cls, policy: Policy, stages_time_driven: bool, growing: frozenset[str] = frozenset()
    ) -> Eligibility:
        stage_index = {s.name: i for i, s in enumerate(policy.stages)}
        luts: list[np.ndarray | None] = []
        codes: list[list[np.int16]] = []
        rest: list[Expr | None] = []
        for rule in policy.rules:
            if rule.stages:
                lut = np.zeros(len(policy.stages) + 1, dtype=bool)
                for name in rule.stages:
                    lut[stage_index[name] + 1] = True
                luts.append(lut)
                codes.append([np.int16(stage_index[s]) for s in rule.stages])
                parts = tuple(e for e in (rule.audience, rule.condition) if e is not None)
                rest.append(
                    None
                    if not parts
                    else parts[0]
                    if len(parts) == 1
                    else Logic(op="and", args=parts)
                )
            else:
                luts.append(None)
                codes.append([])
                rest.append(rule.eligible)
        driven = [
            time_driven(r.eligible, growing)
            or (stages_time_driven and bool(r.stages))
            or _uses_stage_time(r.eligible, stages_time_driven)
            for r in policy.rules
        ]
        return cls(luts, codes, rest, driven)


def _uses_stage_time(expr: Expr | None, stages_time_driven: bool) -> bool:
    return (
        stages_time_driven
        and expr is not None
        and any(key in ("stage", "previous_stage") for key in required_columns(expr))
    )


class Deadlines:
    """Each customer's success deadline at one waiting flow step (a day; NaN: not waiting),
    read and written by ids as a float32 array would be, kept as uint16 (day + 1, 0: not
    waiting): 2 bytes a customer, not 4."""

    def __init__(self, n: int):
        self.days = np.zeros(n, dtype=np.uint16)

    def __getitem__(self, ids) -> np.ndarray:
        code = self.days[ids]
        out = code.astype(np.float32) - np.float32(1)
        out[code == 0] = np.nan
        return out

    def __setitem__(self, ids, value) -> None:
        if isinstance(value, float) and math.isnan(value):  # no longer waiting
            self.days[ids] = 0
            return
        day = np.asarray(value, dtype=np.float64)
        self.days[ids] = np.where(np.isnan(day), 0, day + 1).astype(np.uint16)


def waiting_on(until: Deadlines | np.ndarray, ids: np.ndarray, day: int) -> np.ndarray:
    """Whether each of `ids` waits with a deadline of `day` or later (`until[ids] >= day`;
    a `Deadlines`' codes are compared as they are: day + 1 > `day`, 0 never)."""
    if isinstance(until, Deadlines):
        return until.days[ids] > day
    return until[ids] >= day


class FiredDays:
    """The day each customer last fired a rule (NaN: never), read and written by ids as a
    float32 array would be (and read whole, `np.asarray`), kept as int16 (-32,768: never)
    while every day written is a whole day that fits it, as float32 from the first that
    does not (a base's firings long before day 0): 2 bytes a customer, not 4."""

    NEVER = -32768

    def __init__(self, n: int):
        self.days: np.ndarray = np.full(n, self.NEVER, dtype=np.int16)

    def __getitem__(self, ids) -> np.ndarray:
        if self.days.dtype == np.float32:
            return self.days[ids]
        code = self.days[ids]
        out = code.astype(np.float32)
        out[code == self.NEVER] = np.nan
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[slice(None)]
        return out if dtype is None else out.astype(dtype)

    def allows(self, ids: np.ndarray, d: int, period: float | None) -> np.ndarray:
        """Those of `ids` whom `reentry once` (`period` None) or `once per period days`
        lets fire on day `d`: never fired, or `d - last >= period` as float32 compares it
        (on the int16 codes, a whole-day difference is exact in float32)."""
        code = self.days[ids]
        if self.days.dtype == np.float32:
            if period is None:
                return ids[np.isnan(code)]
            return ids[np.isnan(code) | (d - code >= period)]
        if period is None or period > 1e30:  # past any day difference
            return ids[code == self.NEVER]
        if period < -1e30:
            return ids
        since = np.subtract(d, code, dtype=np.int32)  # never: d + 32,768
        # a whole number of days passes float32's `period` when it passes its ceiling
        wait = math.ceil(np.float32(period))
        if wait <= d - self.NEVER:  # the never-fired pass it too: one comparison
            return ids[since >= wait]
        return ids[(code == self.NEVER) | (since >= wait)]

    def __setitem__(self, ids, value) -> None:
        if type(value) is int and self.days.dtype == np.int16 and abs(value) <= 32767:
            self.days[ids] = value  # the usual write: today, a whole day that fits
            return
        day = np.asarray(value, dtype=np.float32)
        if self.days.dtype == np.int16:
            known = day[~np.isnan(day)]
            if known.size and ((known != np.round(known)).any() or np.abs(known).max() > 32767):
                self.days = self[slice(None)]  # float32 from now on
            else:
                day = np.where(np.isnan(day), self.NEVER, day).astype(np.int16)
        self.days[ids] = day


DEADLINES_UP_TO = 65_534 - MAX_DAYS  # success windows up to this many days: `Deadlines`


@dataclass
class RuleMemory:
    # `reentry once` rules (the others never read it): the time each customer last fired
    # the rule (NaN: never)
    last_fired: dict[int, FiredDays]  # (int16 days)
    was_true: dict[int, np.ndarray]  # condition and `every` rules: yesterday's condition
    eligible_since: dict[int, np.ndarray]  # `every` rules: since when eligible
    anchor: dict[int, np.ndarray]  # `after EVENT` rules: when the event happened
    # by flow node: the success deadline (NaN: not waiting), as uint16 days (`Deadlines`)
    waiting: dict[int, Deadlines | np.ndarray]

    @classmethod
    def of(cls, policy: Policy, program: Program, n: int) -> RuleMemory:
        memory = cls(
            last_fired={
                r: FiredDays(n)
                for r, rule in enumerate(policy.rules)
                if rule.reentry.kind == "once"
            },
            was_true={},
            eligible_since={},
            anchor={},
            waiting={
                node.id: Deadlines(n)
                if math.ceil(node.success.within_days) <= DEADLINES_UP_TO
                else np.full(n, np.nan, dtype=np.float32)
                for node in program.waiting_nodes
            },
        )
        for r, rule in enumerate(policy.rules):
            kind = rule.trigger.kind
            if kind in ("condition", "every"):
                memory.was_true[r] = np.zeros(n, dtype=bool)
            if kind == "every":
                memory.eligible_since[r] = np.full(n, np.nan, dtype=np.float32)
            if kind == "after" and rule.trigger.event is not None:
                memory.anchor[r] = np.full(n, np.nan, dtype=np.float32)
        return memory


@dataclass
class DayWork:
    capacity_left: np.ndarray  # per block and channel: messages the channel can still take
    queue: list[tuple[int, int, int, int, np.ndarray]] = field(default_factory=list)
    # per purchase batch: buyers, products, and what they owned (products, lines) before it
    events_purchase: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    events_first: list[np.ndarray] = field(default_factory=list)
    events_stage: list[tuple[str, int, np.ndarray]] = field(default_factory=list)
    events_segment: list[tuple[str, int, np.ndarray]] = field(default_factory=list)
    events_behaviour: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (event, ids)
    touched: list[np.ndarray] = field(default_factory=list)  # whose state changed today
    pending_flows: list[tuple[int, int, np.ndarray]] = field(default_factory=list)

    @classmethod
    def start(cls, policy: Policy, blocks: int) -> DayWork:
        """A new day: no events yet, every block with each channel's whole capacity."""
        capacity = np.zeros((blocks, len(policy.channels)))
        capacity[:] = [
            c.capacity_per_day if c.capacity_per_day is not None else np.inf
            for c in policy.channels
        ]
        return cls(capacity)
