"""The calendar's buckets as compiled kernels (calendar.py holds the numpy twin).

The ids scheduled are kept in one arena, an array appended to: a batch filed is sorted by
day with a counting sort (stable: ids keep their order within a day) and appended, and each
of its days gets a *piece* (a run of the arena, under a slot: one slot per kind and key)
linked at the end of that day's list of pieces. Taking a day walks its pieces and groups
them by slot in the order each slot first came that day (the numpy path's dictionary
order); `IdSet.union` then sorts each slot's ids (numpy's sort is ten times numba's). When
the arena is full it is compacted: the pieces still pending are copied into a new one, day
by day.

The store: `head[day]` and `tail[day]` (the day's first and last piece, -1 when none), per
piece its start and end in the arena, slot and next piece, and `meta` = [arena used, pieces
used].
"""

from __future__ import annotations

import numpy as np

from ...core.compiled import kernel


@kernel
def file_ids(days, step, horizon, ids, slot, head, tail, arena, starts, ends, slots, nexts, meta):
    """File `ids[i]` on day `days[i * step]` (dropped outside 0..horizon-1) under `slot`; the
    arena and the pieces have room for all of them (the caller compacts or grows them)."""
    lo, hi = horizon, -1
    for i in range(ids.size):
        day = days[i * step]
        if day >= 0 and day < horizon:
            lo = min(lo, int(day))
            hi = max(hi, int(day))
    if hi < 0:
        return
    counts = np.zeros(hi - lo + 2, dtype=np.int64)
    for i in range(ids.size):
        day = days[i * step]
        if day >= 0 and day < horizon:
            counts[int(day) - lo + 1] += 1
    base = meta[0]
    for j in range(1, counts.size):  # counts[j]: where day lo + j - 1 starts (after base)
        counts[j] += counts[j - 1]
    for j in range(counts.size - 1):  # the pieces, before `counts` becomes the write cursors
        if counts[j + 1] > counts[j]:
            p = meta[1]
            meta[1] += 1
            starts[p] = base + counts[j]
            ends[p] = base + counts[j + 1]
            slots[p] = slot
            nexts[p] = -1
            d = lo + j
            if head[d] < 0:
                head[d] = p
            else:
                nexts[tail[d]] = p
            tail[d] = p
    for i in range(ids.size):
        day = days[i * step]
        if day >= 0 and day < horizon:
            j = int(day) - lo
            arena[base + counts[j]] = ids[i]
            counts[j] += 1
    meta[0] = base + counts[counts.size - 2]


@kernel
def compact(head, tail, arena, starts, ends, slots, nexts, meta, room, piece_room):
    """The store with only the pending pieces, in new arrays with room for `room` more ids
    and `piece_room` more pieces (twice what is needed, so that compactions are rare)."""
    live = 0
    pieces = 0
    for d in range(head.size):
        p = head[d]
        while p >= 0:
            live += ends[p] - starts[p]
            pieces += 1
            p = nexts[p]
    new_arena = np.empty(2 * (live + room) + 1024, dtype=arena.dtype)
    size = 2 * (pieces + piece_room) + 256
    new_starts = np.empty(size, dtype=np.int64)
    new_ends = np.empty(size, dtype=np.int64)
    new_slots = np.empty(size, dtype=slots.dtype)
    new_nexts = np.empty(size, dtype=np.int64)
    w = 0
    q = 0
    for d in range(head.size):
        p = head[d]
        if p < 0:
            continue
        head[d] = q
        while p >= 0:
            new_starts[q] = w
            for i in range(starts[p], ends[p]):
                new_arena[w] = arena[i]
                w += 1
            new_ends[q] = w
            new_slots[q] = slots[p]
            new_nexts[q] = q + 1
            q += 1
            p = nexts[p]
        new_nexts[q - 1] = -1
        tail[d] = q - 1
    meta[0] = w
    meta[1] = q
    return new_arena, new_starts, new_ends, new_slots, new_nexts


@kernel
def take_day(day, kinds, head, tail, arena, starts, ends, slots, nexts):
    """Empty day `day`: (the slots in order of first appearance, their bounds in `ids`, ids),
    each slot's ids in the order they were filed (numpy sorts them: its sort is faster)."""
    counts = np.zeros(kinds, dtype=np.int64)
    rank = np.full(kinds, -1, dtype=np.int64)
    order = np.empty(kinds, dtype=np.int64)
    k = 0
    p = head[day]
    while p >= 0:
        s = slots[p]
        if rank[s] < 0:
            rank[s] = k
            order[k] = s
            k += 1
        counts[s] += ends[p] - starts[p]
        p = nexts[p]
    start = np.zeros(k + 1, dtype=np.int64)
    for j in range(k):
        start[j + 1] = start[j] + counts[order[j]]
    grouped = np.empty(start[k], dtype=np.int64)
    fill = start[:k].copy()
    p = head[day]
    while p >= 0:
        j = rank[slots[p]]
        for i in range(starts[p], ends[p]):
            grouped[fill[j]] = arena[i]
            fill[j] += 1
        p = nexts[p]
    head[day] = -1
    tail[day] = -1
    return order[:k], start, grouped
