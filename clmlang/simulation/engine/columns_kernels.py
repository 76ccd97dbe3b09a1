"""The `messages(D)` column as compiled kernels (columns.MessageLog.count holds the numpy
twin): one pass over the customers' slots, no gathered copy of their logs, for an array of
ids (`count_recent`) or for a range of them, the log's rows as a view (`count_rows`: a rule
read over everyone, `on schedule daily when messages(7 days) == 0`)."""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel


@kernel(inline=True)
def slots_from(days, row, least):
    """How many of row `row`'s slots in `days` hold at least `least`."""
    n = 0
    for j in range(days.shape[1]):
        if days[row, j] >= least:
            n += 1
    return n


@kernel
def count_recent(days, ids, least):
    """For each of `ids`, how many of its slots in `days` (a row of message days + 1 per
    customer, 0 for none) hold at least `least`, as float64."""
    out = np.empty(ids.size)
    for i in range(ids.size):
        out[i] = slots_from(days, ids[i], least)
    return out


@kernel
def count_rows(days, least):
    """`count_recent` for every row of `days` (a view of the log's rows for a range of ids)."""
    out = np.empty(days.shape[0])
    for i in range(days.shape[0]):
        out[i] = slots_from(days, i, least)
    return out
