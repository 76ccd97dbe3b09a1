"""The frequency caps' memory: for each cap, each customer's ring of the days of their last
`limit` messages in the cap's scope. One table holds every cap (`Rings`, what the compiled
kernels read); each cap's `_Cap` is a view of its columns (what the numpy path reads)."""

from __future__ import annotations

import numpy as np

__all__ = ["Caps", "Rings"]


class Rings:
    """The frequency caps' memory, all caps in one table: cap `k` owns the columns
    `start[k]:start[k] + limit[k]` of `days` (the days of each customer's last messages in
    its scope, -inf for none yet) and column `k` of `ptr` (the oldest slot)."""

    def __init__(self, caps, n: int):
        self.limit = np.array([c.limit for c in caps], dtype=np.int64)
        self.start = (np.cumsum(self.limit) - self.limit).astype(np.int64)
        self.window = np.array([c.window_days for c in caps], dtype=np.float32)
        self.skip = np.array([c.overflow == "skip" for c in caps], dtype=np.bool_)
        self.days = np.full((n, int(self.limit.sum())), -np.inf, dtype=np.float32)
        self.ptr = np.zeros((n, len(caps)), dtype=np.uint16)


class _Cap:
    """One cap's columns of the caps' Rings: each customer's ring of the days of their last
    `limit` messages in its scope (`days`) and its oldest slot (`ptr`)."""

    def __init__(self, cap, days: np.ndarray, ptr: np.ndarray):
        self.cap = cap
        self.window = cap.window_days
        self.days = days
        self.ptr = ptr

    def oldest(self, ids: np.ndarray) -> np.ndarray:
        return self.days[ids, self.ptr[ids]]

    def record(self, ids: np.ndarray, day: int) -> None:
        slot = self.ptr[ids]
        self.days[ids, slot] = day
        self.ptr[ids] = (slot + 1) % self.cap.limit

    def applies(self, send, channel: str) -> bool:
        """Whether the cap counts (and holds back) `send` on `channel`."""
        c = self.cap
        return (
            c.scope == "global"
            or (c.scope == "channel" and c.channel == channel)
            or (c.scope == "tag" and c.tag in send.tags)
        )


class Caps(list):
    """The policy's caps for `n` customers: a list of _Cap (the numpy path's view) over one
    table, `rings` (the kernels')."""

    def __init__(self, caps, n: int):
        self.rings = r = Rings(caps, n)
        super().__init__(
            _Cap(c, r.days[:, r.start[k] : r.start[k] + c.limit], r.ptr[:, k])
            for k, c in enumerate(caps)
        )
        self.of_site: dict[int, np.ndarray] = {}

    def which(self, site_id: int, site, channel: str) -> np.ndarray:
        """The caps that apply to send step `site_id` (`site`, on `channel`), by index."""
        which = self.of_site.get(site_id)
        if which is None:
            which = np.array(
                [k for k, cap in enumerate(self) if cap.applies(site.send, channel)],
                dtype=np.int64,
            )
            self.of_site[site_id] = which
        return which
