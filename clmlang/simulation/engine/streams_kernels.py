"""The random streams' hash as a compiled kernel (streams.py holds the numpy twin).

The same SplitMix64 finalisers as `streams._mix`, one customer at a time: unsigned 64-bit
arithmetic wraps in numba as in numpy, so the bits are the same.
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_SCALE = 1.0 / 2**53

# counters of the PRODUCT stream's draws besides a purchase's first pick, added to its
# counter so that they never meet another purchase's: the lead product of a first purchase,
# the pick within an offer's line, a second pick among what the customer can still buy
LEAD_PICK = 7919
LINE_PICK = 104729
SECOND_PICK = 1299709


@kernel
def mix(x):
    """SplitMix64's finaliser (`streams._mix`)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@kernel
def salt_of(key, purpose):
    """A purpose's salt under the run's key, as `Streams` makes it."""
    return mix(key + np.uint64(purpose) * _M2)


@kernel
def salted(key, salt, customer, counter):
    """The uniform of (customer, the purpose whose salt is given, counter): one element of
    `Streams.uniform`, for kernels that draw as they go."""
    x = mix(((np.uint64(customer) * _GOLDEN) ^ salt) + np.uint64(counter) * _M1)
    x = mix(x ^ key)
    return (np.float64(x >> _S11) + 0.5) * _SCALE


@kernel
def uniforms(key, salt, ids, counters, step, out):
    """out[i]: the uniform of (ids[i], the purpose whose salt is given, counters[i * step])."""
    for i in range(ids.size):
        out[i] = salted(key, salt, ids[i], counters[i * step])
