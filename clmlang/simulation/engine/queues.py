"""The channels' daily capacities and queues: a capacity-bound batch is sent as far as the
capacity left today reaches, chosen at random; messages it could not take wait in the
channel's queue (up to its `max_wait_days`), are served first the next days, oldest first,
and are dropped as over capacity when they have waited too long."""

from __future__ import annotations

import numpy as np

from .delivery import draws
from .streams import Purpose


class Queues:
    """Methods of the simulation (mixed into it through Messaging)."""

    def _within_capacity(self, site_id: int, site, arm: int, ids: np.ndarray, d: int) -> np.ndarray:
        """The customers the channel's capacity left today still reaches, chosen at random
        within each block; the rest are dropped and counted."""
        ch, counters, rec = site.channel, self.recorder.arm_counters, self.recorder
        if self.share is not None:  # the other blocks' demand counts too (blocks.py)
            u = self._capacity_draws(ids, d)
            order = np.argsort(u, kind="stable")
            keep = np.arange(ids.size) < self.share.allot(self.share_key, ch, u[order])
        else:
            block = self._block(ids)
            left = self.today.capacity_left[:, ch]
            order = np.lexsort((self._capacity_draws(ids, d), block))
            ranked = block[order]
            rank = np.arange(ids.size) - np.searchsorted(ranked, ranked)  # place within its block
            keep = rank < left[ranked]
            left -= np.bincount(ranked[keep], minlength=self.blocks)
        if keep.all():
            return ids
        dropped = ids[order[~keep]]  # by block, in random order within each
        if self.max_wait[ch] > 0:  # they wait in the channel's queue, in order of arrival
            self.backlog[ch].append((d, site_id, arm, dropped, self.share_key))
            self._trace_ids(dropped, d, site, "waiting: the channel's daily capacity is used up")
            return np.sort(ids[order[keep]])
        counters["over_capacity"][arm] += dropped.size
        rec.daily["over_capacity"][d] += dropped.size
        rec.not_sent("over_capacity", dropped, d, site_id)
        self._trace_ids(dropped, d, site, "not sent: the channel's daily capacity is used up")
        return np.sort(ids[order[keep]])

    def _block(self, ids: np.ndarray) -> np.ndarray:
        if self.blocks > 1:
            return ids // self.block_size
        return np.zeros(ids.size, dtype=np.int64)

    def _capacity_draws(self, ids: np.ndarray, d: int) -> np.ndarray:
        """The uniforms that rank a capacity-bound batch of day `d` (the kernel's when the
        run is compiled: the same bits)."""
        if self.compiled:
            return draws(self.streams.key, Purpose.CAPACITY, ids, d)
        return self.streams.uniform(ids, Purpose.CAPACITY, d)

    def _serve_backlog(self, d: int) -> None:
        """The messages waiting in the channels' queues go first, oldest first, as far as
        each block's capacity today reaches; whoever has unsubscribed meanwhile is not sent."""
        st, rec = self.state, self.recorder
        for ch, batches in self.backlog.items():
            left = self.today.capacity_left[:, ch]
            bit = np.uint64(1) << np.uint64(ch)
            waiting = []
            for arrived, site_id, arm, ids, key in batches:
                site = self.steps.sites[site_id]
                gone = (st.unsubscribed[ids] & bit) != 0
                if gone.any():
                    rec.arm_counters["not_reachable"][arm] += np.count_nonzero(gone)
                    rec.not_sent("not_reachable", ids[gone], d, site_id)
                    self._trace_ids(ids[gone], d, site, "not sent: unsubscribed while waiting")
                    ids = ids[~gone]
                if self.share is not None:  # in random order of arrival: first in, first out
                    u = self.streams.uniform(ids, Purpose.CAPACITY, arrived)
                    order = np.arange(ids.size)
                    keep = order < self.share.allot((0, ch, arrived, *key), ch, u)
                else:
                    block = self._block(ids)
                    order = np.argsort(block, kind="stable")  # first in, first out within a block
                    ranked = block[order]
                    rank = np.arange(ids.size) - np.searchsorted(ranked, ranked)
                    keep = rank < left[ranked]
                    left -= np.bincount(ranked[keep], minlength=self.blocks)
                if keep.any():
                    sent = np.sort(ids[order[keep]])
                    rec.channel_waited[d, ch] += np.count_nonzero(keep) * (d - arrived)
                    self._deliver(site, arm, sent, d)
                if not keep.all():
                    waiting.append((arrived, site_id, arm, ids[order[~keep]], key))
            self.backlog[ch] = waiting

    def _expire_backlog(self, d: int) -> None:
        """At the end of day `d`: the messages that have waited as long as their channel
        lets them are dropped (`over_capacity`); the rest are the day's backlog."""
        rec = self.recorder
        for ch, batches in self.backlog.items():
            waiting = []
            for batch in batches:
                arrived, site_id, arm, ids, _ = batch
                if d - arrived < self.max_wait[ch]:
                    waiting.append(batch)
                    continue
                rec.arm_counters["over_capacity"][arm] += ids.size
                rec.daily["over_capacity"][d] += ids.size
                rec.channel_expired[d, ch] += ids.size
                rec.not_sent("over_capacity", ids, d, site_id)
                self._trace_ids(
                    ids, d, self.steps.sites[site_id], "not sent: waited too long in the queue"
                )
            self.backlog[ch] = waiting
            rec.channel_backlog[d, ch] = sum(b[3].size for b in waiting)
