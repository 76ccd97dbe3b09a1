"""The next crossing day of clock thresholds as a compiled kernel (wakeups.next_crossing holds
the numpy twin): one pass over the customers instead of a few numpy passes per threshold,
the same float operations in the same order, so the same days."""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel


@kernel
def earliest_crossing(anchor, ks, after, spare, d, out):
    """Lower `out[i]` to the first day after `d` on which `anchor[i] + ks[j]` is crossed:
    `floor(t) + 1` for the thresholds crossed the day after (`after[j]`), else `ceil(t)`, and
    with `spare` also `floor(t)`; a NaN anchor crosses nothing."""
    for i in range(anchor.size):
        a = anchor[i]
        best = out[i]
        for j in range(ks.size):
            t = a + ks[j]
            day = np.floor(t) + 1.0 if after[j] else np.ceil(t)
            if day > d and day < best:
                best = day
            if spare:
                day = np.floor(t)
                if day > d and day < best:
                    best = day
        out[i] = best
