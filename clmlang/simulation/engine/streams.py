"""Per-customer random numbers that do not depend on the policy (common random numbers).

A counter-based generator: the uniform for (customer, purpose, counter) is a hash of the run's
key and those three numbers (SplitMix64 finalisers), computed for whole arrays at once. The
k-th gap between a customer's purchases, or their dropout after their k-th purchase, is the
same number whatever the policy did before, so two policies run with one seed face the same
customers and their difference is not drowned in noise. The run's key comes from the
`numpy.random.Generator` passed to the simulator.

The hash is pure integer arithmetic, so the compiled kernel (`streams_kernels.py`) computes
the same bits in one pass without numpy's temporaries; `Streams(compiled=True)` takes it.
"""

from __future__ import annotations

import numpy as np

from .streams_kernels import uniforms

__all__ = ["Purpose", "Streams"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


class Purpose:
    """Stream numbers: one per kind of decision, so decisions never share random numbers."""

    GAP = 1
    DROPOUT = 2
    PRODUCT = 3
    CHECK = 4
    UPSELL = 5
    JOIN = 6
    TAKE_UP = 7
    CYCLE = 8
    CYCLE_GAP = 9
    CANCEL = 10
    REACH = 11
    RESPONSE = 12
    RESPONSE_TIME = 13
    UNSUBSCRIBE = 14
    BURNOUT = 15
    HOLDOUT = 16
    VARIANT = 17
    CONTROL = 18
    CAPACITY = 19
    ATTRIBUTE = 20
    WAKE = 21
    ATTRIBUTE_CHANGE = 22
    ATTRIBUTE_VALUE = 23
    SKIP = 24  # the gap after a purchase that found nothing to buy
    EVENT = 25
    EVENT_BUY = 26
    EVENT_BUY_TIME = 27
    ARRIVAL = 28  # a contact's time of arrival within its day
    CONVERT = 29  # a prospect's wait for a first purchase on their own
    LEAVE = 30  # a prospect's wait before leaving the base
    REFERRALS = 31  # how many prospects the customers bring on a day (counter: the day)


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


class Streams:
    """Uniforms in (0, 1) keyed by (customer, purpose, counter)."""

    def __init__(self, rng: np.random.Generator, compiled: bool = False):
        self.key = np.uint64(rng.integers(0, 2**63, dtype=np.int64))
        self.compiled = compiled
        self._salts: dict[int, np.uint64] = {}
        # each row's key when it differs from the row (prospects.py: the customers who come
        # during a run with referrals are keyed by who they are, not by the row they take)
        self.identity: np.ndarray | None = None

    def salt(self, purpose: int) -> np.uint64:
        """The purpose's part of the hash (one per purpose and run)."""
        salt = self._salts.get(purpose)
        if salt is None:
            with np.errstate(over="ignore"):
                salt = self._salts[purpose] = _mix(self.key + np.uint64(purpose) * _M2)
        return salt

    def uniform(self, ids: np.ndarray, purpose: int, counter: np.ndarray | int = 0) -> np.ndarray:
        if self.identity is not None:
            ids = self.identity[ids]
        if self.compiled and isinstance(ids, np.ndarray) and ids.ndim == 1:
            c = np.asarray(counter)
            if c.ndim == 0 or c.shape == ids.shape:
                # two signatures only (fewer to compile): ids as int64, counters as int64 or
                # uint64 (which the numpy path's conversion to uint64 gives the same bits)
                c = c.astype(np.uint64 if c.dtype.kind != "i" else np.int64, copy=False)
                out = np.empty(ids.size)
                ids = ids.astype(np.int64, copy=False)
                uniforms(self.key, self.salt(purpose), ids, c.reshape(-1), int(c.ndim), out)
                return out
        with np.errstate(over="ignore"):
            x = np.asarray(ids, dtype=np.uint64) * _GOLDEN
            x ^= self.salt(purpose)
            x = _mix(x + np.asarray(counter, dtype=np.uint64) * _M1)
            x = _mix(x ^ self.key)
        return ((x >> _S11).astype(np.float64) + 0.5) * (1.0 / 2**53)
