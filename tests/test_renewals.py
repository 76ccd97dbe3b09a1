"""A lifetime product's billings of the day, compiled (`buying_kernels.renewals`) against
`Buying._renew`'s numpy: who is billed, who cancels (dormant, or by the CANCEL stream), the
subscriptions and next billings left, on random states."""

from __future__ import annotations

import numpy as np
import pytest

from clmlang.simulation.engine.buying_kernels import renewals
from clmlang.simulation.engine.streams import Purpose, Streams


@pytest.mark.parametrize("seed", range(6))
def test_renewals_kernel_bills_and_cancels_as_numpy(seed):
    rng = np.random.default_rng(seed)
    n, day, j = 300, 17, int(rng.integers(0, 5))
    bit = np.uint64(1) << np.uint64(j)
    subscribed = rng.integers(0, 32, n).astype(np.uint64)
    billing = np.where(rng.random(n) < 0.5, day + rng.random(n), rng.uniform(0, 40, n))
    billing[rng.random(n) < 0.05] = np.inf
    alive = rng.random(n) < 0.8
    ids = np.unique(rng.integers(0, n, 200)).astype(np.int64)
    streams = Streams(np.random.default_rng(seed + 100))
    cancel_rate, period = float(rng.uniform(0, 0.5)), float(rng.choice([30.4375, 90.0]))

    # the numpy twin, as Buying._renew computes it
    sub, nxt = subscribed.copy(), billing.copy()
    due = ids[((sub[ids] & bit) != 0) & (np.floor(nxt[ids]) == day)]
    cancel = ~alive[due] | (streams.uniform(due, Purpose.CANCEL, day) < cancel_rate)
    sub[due[cancel]] &= ~bit
    keep = due[~cancel]
    nxt[keep] += period

    kept, gone, days = (
        np.empty(ids.size, np.int64),
        np.empty(ids.size, np.int64),
        np.empty(ids.size),
    )
    n_kept, n_gone = renewals(
        ids, subscribed, billing, alive, bit, day, streams.key, streams.salt(Purpose.CANCEL),
        cancel_rate, period, kept, gone, days,
    )  # fmt: skip
    assert kept[:n_kept].tolist() == keep.tolist()
    assert gone[:n_gone].tolist() == due[cancel].tolist()
    assert days[:n_kept].tobytes() == np.floor(nxt[keep]).tobytes()
    assert subscribed.tobytes() == sub.tobytes()
    assert billing.tobytes() == nxt.tobytes()
    assert n_kept > 0 and n_gone > 0  # both branches taken
