"""The `messages(D)` column as a compiled kernel (columns.MessageLog.count holds the numpy
twin): one pass over the customers' slots, no gathered copy of their logs."""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel


@kernel
def count_recent(days, ids, least):
    """For each of `ids`, how many of its slots in `days` (a row of message days + 1 per
    customer, 0 for none) hold at least `least`, as float64."""
    out = np.empty(ids.size)
    for i in range(ids.size):
        row = ids[i]
        n = 0
        for j in range(days.shape[1]):
            if days[row, j] >= least:
                n += 1
        out[i] = n
    return out
