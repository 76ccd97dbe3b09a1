"""The customers: their latent traits and observable state, one numpy array per field.

Struct of arrays, one row per customer, allocated once for the whole run (the initial
population plus every customer acquisition will bring). Latent traits (purchase rate,
dropout probability, spend level, audience, reachability, attribute values, arrival time)
are drawn from a generator of their own before anything else, so they do not depend on the
policy: the same seed gives the same customers to every policy.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...compile.policy import Policy
from ...market.model import Market
from .attributes import draw_dates, draw_growth
from .holdings import Holdings
from .prospects import plan_arrivals

__all__ = ["ActiveBuyers", "Base", "State", "draw_population"]

NEVER = np.inf


@dataclass
class State:
    n: int
    arrival: np.ndarray  # float64: time of the first purchase (negative: before day 0)
    acquired: np.ndarray  # bool: came through acquisition during the run
    audience: np.ndarray  # int16: index into policy.audiences, -1 none
    rate: np.ndarray  # float64: base purchase rate per day
    dropout: np.ndarray  # float64: dropout probability after a repeat purchase
    spend: np.ndarray  # float64: Gamma-Gamma spend level nu
    reachable: np.ndarray  # uint64 bit mask of channels with consent and contact data
    control: np.ndarray  # bool: in the global control group
    attributes: dict[str, np.ndarray]  # float64; dates are day numbers relative to day 0
    # growing numbers: each customer's growth per day (the value above is the day-0 value)
    growth: dict[str, np.ndarray] = None  # type: ignore[assignment]

    # observable and dynamic state
    alive: np.ndarray = None  # type: ignore[assignment]
    next_t: np.ndarray = None  # type: ignore[assignment]
    purchases: np.ndarray = None  # type: ignore[assignment]
    gaps_drawn: np.ndarray = None  # type: ignore[assignment]
    first_t: np.ndarray = None  # type: ignore[assignment]
    last_t: np.ndarray = None  # type: ignore[assignment]
    first_day: np.ndarray = None  # type: ignore[assignment]
    last_day: np.ndarray = None  # type: ignore[assignment]
    spent: np.ndarray = None  # type: ignore[assignment]
    last_product: np.ndarray = None  # type: ignore[assignment]
    owned: np.ndarray = None  # type: ignore[assignment]
    owned_lines: np.ndarray = None  # type: ignore[assignment]
    members: np.ndarray = None  # type: ignore[assignment]
    subscribed: np.ndarray = None  # type: ignore[assignment]
    stage: np.ndarray = None  # type: ignore[assignment]
    previous_stage: np.ndarray = None  # type: ignore[assignment]
    stage_since: np.ndarray = None  # type: ignore[assignment]
    fatigue: np.ndarray = None  # type: ignore[assignment]
    fatigue_t: np.ndarray = None  # type: ignore[assignment]
    unsubscribed: np.ndarray = None  # type: ignore[assignment]
    messages_received: np.ndarray = None  # type: ignore[assignment]
    response_t: np.ndarray = None  # type: ignore[assignment]
    response_site: np.ndarray = None  # type: ignore[assignment]
    # the history before day 0, kept as it was (the fields above move on with the run)
    prior_purchases: np.ndarray = None  # type: ignore[assignment]
    prior_last_t: np.ndarray = None  # type: ignore[assignment]
    prior_stage: np.ndarray = None  # type: ignore[assignment]  # the stage on day 0
    plan: object = None  # prospects.ArrivalPlan: who comes on each day, when there are prospects

    def __post_init__(self) -> None:
        """The state on day 0, for the fields not given: a merge of blocks (merge.py) gives
        them all, and keeps them."""
        n = self.n
        if self.growth is None:
            self.growth = {}
        fresh = {
            "alive": lambda: np.ones(n, dtype=bool),
            "next_t": lambda: self.arrival.copy(),
            "purchases": lambda: np.zeros(n, dtype=np.int32),
            "gaps_drawn": lambda: np.zeros(n, dtype=np.int32),
            "first_t": lambda: np.full(n, np.nan),
            "last_t": lambda: np.full(n, np.nan),
            # floors of first_t and last_t, for conditions
            "first_day": lambda: np.full(n, np.nan, dtype=np.float32),
            "last_day": lambda: np.full(n, np.nan, dtype=np.float32),
            "spent": lambda: np.zeros(n),
            "last_product": lambda: np.full(n, -1, dtype=np.int16),
            "owned": lambda: np.zeros(n, dtype=np.uint64),
            "owned_lines": lambda: np.zeros(n, dtype=np.uint64),
            "members": lambda: np.zeros(n, dtype=bool),
            "subscribed": lambda: np.zeros(n, dtype=np.uint64),
            "stage": lambda: np.full(n, -1, dtype=np.int16),
            "previous_stage": lambda: np.full(n, -1, dtype=np.int16),
            "stage_since": lambda: np.full(n, np.nan, dtype=np.float32),
            "fatigue": lambda: np.zeros(n, dtype=np.float32),
            "fatigue_t": lambda: np.zeros(n, dtype=np.float32),
            "unsubscribed": lambda: np.zeros(n, dtype=np.uint64),
            "messages_received": lambda: np.zeros(n, dtype=np.int32),
            "response_t": lambda: np.full(n, NEVER),
            "response_site": lambda: np.full(n, -1, dtype=np.int32),
            # no history before day 0: read-only views of one value, no memory per customer
            # (`keep_history` makes them arrays for an existing base)
            "prior_purchases": lambda: np.broadcast_to(np.int32(0), (n,)),
            "prior_last_t": lambda: np.broadcast_to(np.float64(np.nan), (n,)),
            "prior_stage": lambda: np.broadcast_to(np.int16(-1), (n,)),
        }
        for name, make in fresh.items():
            if getattr(self, name) is None:
                setattr(self, name, make())

    def keep_history(self) -> None:
        """Arrays for the history before day 0 (an existing base fills them in)."""
        for name in ("prior_purchases", "prior_last_t", "prior_stage"):
            values = getattr(self, name)
            if not values.flags.writeable:
                setattr(self, name, values.copy())


class ActiveBuyers:
    """The arrived customers alive who have bought, counted each day: those alive, less those
    alive who have not bought yet. The latter are a short list kept from day to day (a
    purchase count only grows), so a day reads the `alive` column (a byte a customer), not
    the purchase counts as well (four more)."""

    def __init__(self) -> None:
        self.unbought = np.zeros(0, dtype=np.int64)  # arrived rows with no purchase yet
        self.seen = 0  # the rows arrived by the last count

    def count(self, state: State, arrived: int) -> int:
        pending = self.unbought
        if arrived > self.seen:
            fresh = np.arange(self.seen, arrived, dtype=np.int64)
            pending = np.concatenate([pending, fresh]) if pending.size else fresh
            self.seen = arrived
        self.unbought = pending = pending[state.purchases[pending] == 0]
        alive = np.count_nonzero(state.alive[:arrived])
        return int(alive) - int(np.count_nonzero(state.alive[pending]))


@dataclass(frozen=True)
class Base:
    """Real customers to start from (one row each): their history up to day 0 and their
    latent traits, e.g. drawn from the posterior given that history (`clm forecast`)."""

    purchases: np.ndarray  # int: purchases so far (same-day ones merged)
    first_day: np.ndarray  # float: day of the first purchase (negative: before day 0)
    last_day: np.ndarray  # float: day of the last purchase
    spent: np.ndarray  # money spent so far
    alive: np.ndarray  # bool
    rate: np.ndarray  # purchase rate per day
    dropout: np.ndarray  # dropout probability after a purchase
    spend: np.ndarray  # Gamma-Gamma spend level nu
    holdings: Holdings | None = None  # the products the history names (None: drawn)
    # per rule name: the day each customer last fired it (negative: before day 0; NaN:
    # never), so that a rule's re-entry carries on from the policy in force
    fired: dict[str, np.ndarray] | None = None

    @property
    def size(self) -> int:
        return int(self.purchases.size)


def apply_base(state: State, base: Base, market: Market, rng: np.random.Generator) -> None:
    """Start the first `base.size` customers from `base`; the next purchase of those alive is
    an exponential wait from day 0 (memoryless), and of those dormant, when the market has
    reactivation, a wait to wake up first."""
    idx = slice(0, base.size)
    state.keep_history()
    state.purchases[idx] = base.purchases
    state.prior_purchases[idx] = base.purchases
    state.prior_last_t[idx] = base.last_day
    state.gaps_drawn[idx] = base.purchases
    state.first_t[idx] = base.first_day
    state.last_t[idx] = base.last_day
    state.first_day[idx] = np.floor(base.first_day)
    state.last_day[idx] = np.floor(base.last_day)
    state.arrival[idx] = base.first_day
    state.spent[idx] = base.spent
    state.alive[idx] = base.alive
    state.rate[idx] = base.rate
    state.dropout[idx] = base.dropout
    state.spend[idx] = base.spend
    rate = base.rate * market.buying.rate_multiplier(base.purchases)
    state.next_t[idx] = _next_purchase(base.alive, rate, market.buying.reactivation, rng)


def _next_purchase(
    active: np.ndarray, rate: np.ndarray, wake: float, rng: np.random.Generator
) -> np.ndarray:
    """The first purchase after day 0: an exponential wait for the active; for the dormant, a
    wait to wake (rate `wake` per day) before it, or never without reactivation."""
    gap = rng.exponential(1.0, active.size) / np.maximum(rate, 1e-12)
    asleep = rng.exponential(1.0, active.size) / wake if wake > 0 else np.full(active.size, NEVER)
    return np.where(active, gap, np.minimum(asleep + gap, NEVER))


def _choice(rng: np.random.Generator, shares: list[float], size: int) -> np.ndarray:
    shares_arr = np.asarray(shares, dtype=float)
    rest = max(0.0, 1.0 - shares_arr.sum())
    probs = np.append(shares_arr, rest)
    probs = probs / probs.sum()
    picked = rng.choice(len(probs), size=size, p=probs)
    return np.where(picked == len(shares_arr), -1, picked).astype(np.int16)


def draw_population(
    policy: Policy, market: Market, customers: int, days: int, rng: np.random.Generator
) -> State:
    """Draw the initial customers and all arrivals over `days`, from `rng` alone.

    Each trait has a stream of its own, and each channel and attribute a stream keyed by its
    name, so a spec that adds a channel or an attribute still gets the same customers (the
    same rates, dropout, spend, audiences) as one without it: common random numbers hold
    between different specs too.
    """
    arrivals_rng, audience_rng, buying_rng, spend_rng, control_rng, named_rng = rng.spawn(6)
    named_key = int(named_rng.integers(0, 2**63))

    def by_name(kind: str, name: str) -> np.random.Generator:
        return np.random.default_rng([named_key, zlib.crc32(f"{kind}:{name}".encode())])

    # with prospects, whoever comes during the run takes the next free row on the day they
    # come (engine/prospects.py); without, the acquired customers' arrivals are drawn here
    plan = plan_arrivals(market, customers, days, arrivals_rng)
    arrival = _arrivals(market, customers, days, arrivals_rng) if plan is None else plan.arrival
    n = arrival.size
    acquired = np.zeros(n, dtype=bool)
    acquired[customers:] = plan is None
    audience = _audiences(policy, market, n, audience_rng)
    b = market.buying
    rate = buying_rng.gamma(b.r, 1.0 / b.alpha, size=n)
    dropout = buying_rng.beta(b.a, b.b, size=n)
    sp = market.spend
    spend = spend_rng.gamma(sp.q, 1.0 / sp.gamma, size=n)
    reachable = _reachability(policy, market, n, by_name)
    control = control_rng.random(n) < policy.control_share
    attributes = _attributes(policy, market, n, by_name)
    state = State(
        n=n,
        arrival=arrival,
        acquired=acquired,
        audience=audience,
        rate=rate,
        dropout=dropout,
        spend=spend,
        reachable=reachable,
        control=control,
        attributes=attributes,
        growth=draw_growth(policy, market, n, by_name, attributes),
    )
    state.plan = plan
    if market.population.start == "existing":
        _seed_existing_base(state, market, customers, by_name("population", "existing"))
    return state


def _arrivals(market: Market, customers: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """Arrival times: the initial customers' first, then those acquisition brings each day."""
    rate = market.acquisition.per_day
    if market.acquisition.seasonal:  # the day's calendar multiplier: a time change of arrivals
        rate = rate * market.acquisition.by_day(market.start_date, days)
    acquired_per_day = rng.poisson(rate, size=days) if days else np.zeros(0)
    arrivals_new = np.repeat(np.arange(days, dtype=float), acquired_per_day)
    arrivals_new += rng.random(arrivals_new.size)
    # an existing base's arrival (its first purchase) is set by `_seed_existing_base`
    new = market.population.start == "new"
    arrivals_base = rng.random(customers) if new else np.zeros(customers)
    return np.concatenate([arrivals_base, arrivals_new])


def _audiences(policy: Policy, market: Market, n: int, rng: np.random.Generator) -> np.ndarray:
    """Each customer's audience (-1 none), by the market's shares, or even shares without."""
    audience_names = [a.name for a in policy.audiences]
    if not audience_names:
        return np.full(n, -1, dtype=np.int16)
    pop = market.population
    shares = [pop.audiences.get(name, 0.0) for name in audience_names]
    if not pop.audiences:
        shares = [1.0 / len(audience_names)] * len(audience_names)
    return _choice(rng, shares, n)


def _reachability(
    policy: Policy, market: Market, n: int, by_name: Callable[[str, str], np.random.Generator]
) -> np.ndarray:
    """Each customer's reachable channels as a bit mask, by each channel's reach."""
    reachable = np.zeros(n, dtype=np.uint64)
    for i, channel in enumerate(policy.channels):
        reach = market.channel(channel.name).reach
        draws = by_name("channel", channel.name).random(n)
        reachable |= (draws < reach).astype(np.uint64) << np.uint64(i)
    return reachable


def _attributes(
    policy: Policy, market: Market, n: int, by_name: Callable[[str, str], np.random.Generator]
) -> dict[str, np.ndarray]:
    """Each declared attribute's values, by its type and the market's model of it."""
    attributes: dict[str, np.ndarray] = {}
    for attr in policy.attributes:
        model = market.attributes.get(attr.name)
        draw = by_name("attribute", attr.name)
        ahead = model is not None and (model.window is not None or model.share is not None)
        if attr.type == "date" and ahead:  # the new keys: a window ahead, a share with one
            has = by_name("attribute-share", attr.name)
            attributes[attr.name] = draw_dates(model, n, draw, has)
        elif attr.type == "date":
            span = model.past_days if model else 365.25 * 3
            attributes[attr.name] = -np.floor(draw.random(n) * span)
        elif attr.type == "flag":
            share = model.flag_share() if model else 0.5
            attributes[attr.name] = (draw.random(n) < share).astype(float)
        elif attr.type == "text":
            names = list(model.values) if model else []
            picked = _choice(draw, [model.values[v] for v in names], n) if names else None
            table = np.array([*names, ""], dtype=object)
            attributes[attr.name] = (
                table[picked] if picked is not None else np.full(n, "", dtype=object)
            )
        elif model is not None and model.mean is not None:
            attributes[attr.name] = draw.normal(model.mean, model.sd, size=n)
        else:
            attributes[attr.name] = np.full(n, np.nan)
    return attributes


def _seed_existing_base(
    state: State, market: Market, customers: int, rng: np.random.Generator
) -> None:
    """An existing base: purchase counts from the given distribution, last purchase uniformly
    within the past `recency_days`, earlier purchases spaced by the customer's own rate."""
    pop = market.population
    counts = np.array(sorted(pop.purchases), dtype=np.int32)
    probs = np.array([pop.purchases[c] for c in counts], dtype=float)
    k = counts[rng.choice(len(counts), size=customers, p=probs / probs.sum())]
    last = -rng.random(customers) * pop.recency_days
    mean_gap = 1.0 / np.maximum(state.rate[:customers], 1e-6)
    first = last - (k - 1) * np.minimum(mean_gap, 365.0)
    idx = slice(0, customers)
    state.keep_history()
    state.purchases[idx] = k
    state.prior_purchases[idx] = k
    state.prior_last_t[idx] = last
    state.gaps_drawn[idx] = k
    state.first_t[idx] = first
    state.last_t[idx] = last
    state.first_day[idx] = np.floor(first)
    state.last_day[idx] = np.floor(last)
    state.arrival[idx] = first
    ev = market.spend.p / state.spend[idx]
    state.spent[idx] = k * ev
    # Who is still alive after k-1 repeat purchases under BG/NBD dropout:
    survived = rng.random(customers) < (1.0 - state.dropout[idx]) ** (k - 1)
    state.alive[idx] = survived
    # Memoryless: the next purchase after day 0 is an exponential wait from day 0.
    rate = state.rate[idx] * market.buying.rate_multiplier(k)
    state.next_t[idx] = _next_purchase(survived, rate, market.buying.reactivation, rng)
