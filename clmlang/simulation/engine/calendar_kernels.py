"""The calendar's buckets as compiled kernels (calendar.py holds the numpy twin).

Each day is a linked list of entries (a customer id under a slot, one slot per kind and
key), in the order they were scheduled: filing a batch is one pass over it (a counting sort
by day, with no sort and no Python loop over its days), and taking a day walks its list
once, groups the entries by slot in the order each slot first came that day (the numpy
path's dictionary order) and gives each slot's ids sorted and distinct (as `IdSet.union`).
Entries taken go back on a free list, so the store holds only what is pending.

The store is arrays: `head[day]` and `tail[day]` (the first and last entry, -1 when empty),
per entry its id, slot and next entry, the free entries, and `meta` = [entries ever used,
entries free].
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel


@kernel
def file_ids(
    days, step, horizon, ids, slot, head, tail, entry_id, entry_slot, entry_next, free, meta
):
    """File `ids[i]` on day `days[i * step]` (dropped outside 0..horizon-1) under `slot`;
    the entry arrays have room for all of them (the caller grows them)."""
    for i in range(ids.size):
        day = days[i * step]
        if not (day >= 0 and day < horizon):
            continue
        d = int(day)
        if meta[1] > 0:
            meta[1] -= 1
            e = free[meta[1]]
        else:
            e = meta[0]
            meta[0] += 1
        entry_id[e] = ids[i]
        entry_slot[e] = slot
        entry_next[e] = -1
        if head[d] < 0:
            head[d] = e
        else:
            entry_next[tail[d]] = e
        tail[d] = e


@kernel
def take_day(day, slots, head, tail, entry_id, entry_slot, entry_next, free, meta, marks):
    """Empty day `day`: (the slots in order of first appearance, their bounds in `ids`, ids)
    with each slot's ids sorted and distinct."""
    counts = np.zeros(slots, dtype=np.int64)
    rank = np.full(slots, -1, dtype=np.int64)
    order = np.empty(slots, dtype=np.int64)
    k = 0
    e = head[day]
    while e >= 0:
        s = entry_slot[e]
        if rank[s] < 0:
            rank[s] = k
            order[k] = s
            k += 1
        counts[s] += 1
        e = entry_next[e]
    start = np.zeros(k + 1, dtype=np.int64)
    for j in range(k):
        start[j + 1] = start[j] + counts[order[j]]
    grouped = np.empty(start[k], dtype=np.int64)
    fill = start[:k].copy()
    e = head[day]
    while e >= 0:
        j = rank[entry_slot[e]]
        grouped[fill[j]] = entry_id[e]
        fill[j] += 1
        free[meta[1]] = e
        meta[1] += 1
        e = entry_next[e]
    head[day] = -1
    tail[day] = -1
    # each slot's ids sorted and distinct: sorted when few, else marked and read back
    bounds = np.zeros(k + 1, dtype=np.int64)
    out = np.empty(start[k], dtype=np.int64)
    w = 0
    for j in range(k):
        part = grouped[start[j] : start[j + 1]]
        if part.size * 32 < marks.size:
            ordered = np.sort(part)
            for i in range(ordered.size):
                if i == 0 or ordered[i] != ordered[i - 1]:
                    out[w] = ordered[i]
                    w += 1
        else:
            for i in range(part.size):
                marks[part[i]] = True
            for c in range(marks.size):
                if marks[c]:
                    marks[c] = False
                    out[w] = c
                    w += 1
        bounds[j + 1] = w
    return order[:k], bounds, out[:w]
