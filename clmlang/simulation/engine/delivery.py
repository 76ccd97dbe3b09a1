"""The message phase's compiled kernels (core/compiled.py), the twins of messaging.py's numpy.

A batch of one send step goes through two passes instead of some forty numpy calls:

- `screen`: consent and unsubscribes, the global control group and the frequency caps (each
  cap a per-customer ring of the days of the last `limit` messages in its scope), one pass
  that sorts the batch into sent, not reachable, control, capped and delayed (with the first
  day the caps allow);
- `deliver`: the caps' rings, the customers' message counts and fatigue, then unsubscribes,
  burnout and responses, their uniforms computed in the kernel by the counter-based hash of
  streams.py (`uniform`, the same bits).

What the kernels cannot give bit for bit stays in numpy between them: `exp2`/`exp` (numpy's
vectorised transcendental functions are not libm's), so the fatigue's decay comes from a table
numpy computed for every whole number of days and the response's fatigue damping is a numpy
expression over the batch. Every float expression is evaluated in the dtype numpy gives it
(float32 for fatigue and cap days, float64 where numpy promotes), so both paths store and
compare the same numbers. A batch's customers are distinct (a send step's batch is a set).
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel
from .streams import Purpose
from .streams_kernels import salt_of, salted

__all__ = [
    "SCREENED",
    "decay_table",
    "deliver",
    "draws",
    "effects",
    "rounds",
    "screen",
    "uniform",
]

_ZERO = np.uint64(0)
_RESPONSE, _RESPONSE_TIME = Purpose.RESPONSE, Purpose.RESPONSE_TIME
_UNSUBSCRIBE, _BURNOUT = Purpose.UNSUBSCRIBE, Purpose.BURNOUT

# `screen`'s verdicts, in the order messaging.py logs them (NOT_SENT, after "sent"); a
# capped verdict is 3 and a delayed one 4 (screen computes them)
SCREENED = ("sent", "not_reachable", "control", "capped", "delayed")
_SENT, _UNREACHABLE, _CONTROL, _CAPPED, _DELAYED = range(5)


@kernel
def uniform(key, purpose, customer, counter):
    """Streams.uniform for one (customer, purpose, counter), bit for bit."""
    return salted(key, salt_of(key, purpose), customer, counter)


@kernel
def draws(key, purpose, ids, counter):
    """Streams.uniform(ids, purpose, counter) for a scalar counter."""
    out = np.empty(ids.size)
    for i in range(ids.size):
        out[i] = uniform(key, purpose, ids[i], counter)
    return out


@kernel
def screen(ids, reachable, unsubscribed, bit, control, check_control, rings, which, d, out):
    """Sort the batch `ids` (distinct) of a send on channel bit `bit` on day `d`. `rings`:
    (days, ptr, start, window, skip) of Rings; `which`: the caps that apply to the send
    (none for a transactional one, which skips the control group too). Writes into `out`
    (status, sent, delayed, retry; each of the batch's size): each customer's verdict
    (SCREENED), the sent ones and the delayed ones in batch order with each delayed one's
    first allowed day. Returns the count of each verdict (SCREENED order)."""
    days, ptr, start, window, skip = rings
    status, sent, delayed, retry = out
    n_sent = n_unreachable = n_control = n_capped = n_delayed = 0
    day = np.float32(d)
    for i in range(ids.size):
        c = ids[i]
        if (reachable[c] & bit) == _ZERO or (unsubscribed[c] & bit) != _ZERO:
            status[i] = _UNREACHABLE
            n_unreachable += 1
            continue
        if check_control and control[c]:
            status[i] = _CONTROL
            n_control += 1
            continue
        # the caps in integer arithmetic, without a branch on their outcome (a hit is a coin
        # toss the CPU mispredicts): the verdict is 3 * blocked + waiting (SCREENED's codes)
        blocked = skipped = 0
        for j in range(which.size):
            k = which[j]
            hit = np.int64(day - days[c, start[k] + np.int64(ptr[c, k])] < window[k])
            blocked |= hit  # (float32, as numpy compares them)
            skipped |= hit & np.int64(skip[k])
        wait = blocked & (1 - skipped)
        status[i] = _CAPPED * blocked + wait
        sent[n_sent] = c  # overwritten by the next one unless sent
        n_sent += 1 - blocked
        delayed[n_delayed] = c
        n_delayed += wait
        n_capped += blocked & skipped
    # the delayed ones' first allowed day: the latest end of their caps' windows
    for i in range(n_delayed):
        c = delayed[i]
        first = np.float64(d + 1)
        for j in range(which.size):
            k = which[j]
            oldest = days[c, start[k] + np.int64(ptr[c, k])]
            if day - oldest < window[k]:
                free = oldest + window[k]  # float32; its ceiling by hand
                up = np.float64(np.int64(free))
                up = up + 1.0 if up < free else up
                first = max(first, up)
        retry[i] = first
    return n_sent, n_unreachable, n_control, n_capped, n_delayed


def decay_table(days: int, fatigue_t: np.ndarray, half_life: float) -> np.ndarray:
    """The fatigue's decay after k = 0..days whole days, as messaging.py's numpy computes it
    for `d - fatigue_t` (the same dtype and operations, so the same bits)."""
    k = np.arange(days + 1).astype(fatigue_t.dtype)
    return np.exp2(-k / half_life)


@kernel
def deliver(ids, d, state, rings, which, decay, out):
    """The sends of batch `ids` (distinct) on day `d`, before the responses: the caps in
    `which` remember the day, each customer's message count goes up and their fatigue is
    decayed to today. `state`: (stage, messages_received, fatigue, fatigue_t). Writes
    (stage, count of earlier messages, fatigue before this message) into `out`."""
    stage_of, received, fatigue_of, fatigue_t = state
    days, ptr, start, limit = rings
    stage, counter, fatigue = out
    day = np.float32(d)
    for i in range(ids.size):
        c = ids[i]
        for j in range(which.size):
            k = which[j]
            slot = ptr[c, k]
            days[c, start[k] + np.int64(slot)] = d
            ptr[c, k] = (slot + 1) % limit[k]
        stage[i] = stage_of[c]
        counter[i] = received[c]
        received[c] = received[c] + 1
        waited = day - fatigue_t[c]
        j = np.int64(waited)
        if j != waited or j < 0 or j >= decay.size:
            raise ValueError("fatigue_t: not a whole day within the run")
        fatigue[i] = fatigue_of[c] * decay[j]


@kernel
def effects(ids, d, counter, fatigue, irrelevant, params, state, bit, response, out):
    """What the batch's messages do: fatigue (stored with today's day), unsubscribes from the
    channel `bit`, burnout and, when `response` is given, responses. `params`: (key of the
    run's streams, per_message in fatigue's dtype, irrelevant_extra, tolerance, the channel's
    unsubscribe chance, unsubscribe_growth, churn_per_fatigue, NEVER); `state`: (fatigue,
    fatigue_t, unsubscribed, alive, next_t, response_t, response_site); `response`: (the
    chance before the offer's relevance and reactivation, numpy's exp included; the two
    multipliers and 1 in its dtype; the span of the response window; each one's send step)
    or None. Writes whether each one unsubscribed and burned out, and who responds sooner
    than a pending response (their places in the batch) and when, into `out`; returns
    (unsubscribed, burned out, responding). The batch may hold several send steps of one
    channel (dispatch.py)."""
    key, per_message, extra, tolerance, unsubscribe, growth, churn, never = params
    fatigue_of, fatigue_t, unsubscribed, alive, next_t, response_t, response_site = state
    unsub, burn, who, when = out
    n_unsub = n_burn = n_who = 0
    day = np.float32(d)
    for i in range(ids.size):
        c = ids[i]
        new = np.float64(fatigue[i] + per_message) + extra * (1.0 if irrelevant[i] else 0.0)
        fatigue_of[c] = new
        fatigue_t[c] = day
        excess = new - tolerance
        if excess < 0.0:
            excess = 0.0
        u = uniform(key, _UNSUBSCRIBE, c, counter[i])
        unsub[i] = u < unsubscribe * (1.0 + growth * excess)
        if unsub[i]:
            unsubscribed[c] |= bit
            n_unsub += 1
        # both uniforms are drawn whatever the first says (numpy draws them for all)
        burn[i] = alive[c] and uniform(key, _BURNOUT, c, counter[i]) < churn * excess
        if burn[i]:
            alive[c] = False
            next_t[c] = never
            response_t[c] = never
            response_site[c] = -1
            n_burn += 1
    if response is None:
        return n_unsub, n_burn, n_who
    chance, (irrelevant_response, reactivation, one), span, steps = response
    for i in range(ids.size):
        c = ids[i]
        p = chance[i]
        if irrelevant[i]:
            p = p * irrelevant_response
        if not alive[c]:
            p = p * reactivation
        if p > one:
            p = one
        if not uniform(key, _RESPONSE, c, counter[i]) < p:
            continue
        at = np.float64(d + 1) + uniform(key, _RESPONSE_TIME, c, counter[i]) * span
        pending = response_t[c]
        if at < pending or pending < d:  # one before today is no longer pending
            response_t[c] = at
            response_site[c] = steps[i]
            who[n_who] = i
            when[n_who] = at
            n_who += 1
    return n_unsub, n_burn, n_who


@kernel
def rounds(ids, seen):
    """A batch's rounds (dispatch.py): element i of `ids` (the batch's send steps' customers
    in turn) goes in round k when its customer is in k of the batch's earlier elements.
    Returns the elements by round, in batch order within each (a counting sort, stable), and
    where each round starts (rounds + 1 bounds); `seen` (zeros, one per customer) is left as
    zeros. Its numpy twin is `dispatch.rounds_numpy`."""
    n = ids.size
    k = np.empty(n, dtype=np.int64)
    last = 0
    for i in range(n):
        c = ids[i]
        k[i] = seen[c]
        seen[c] += 1
        last = max(last, k[i] + 1)
    starts = np.zeros(last + 1, dtype=np.int64)
    for i in range(n):
        seen[ids[i]] = 0
        starts[k[i] + 1] += 1
    for j in range(last):
        starts[j + 1] += starts[j]
    at = starts[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        order[at[k[i]]] = i
        at[k[i]] += 1
    return order, starts
