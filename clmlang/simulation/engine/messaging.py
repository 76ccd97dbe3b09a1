"""Messages: the day's queue in priority order, consent, control group, caps, channel
capacities, and delivery with its effects (cost, fatigue, unsubscribes, burnout, responses)."""

from __future__ import annotations

import numpy as np

from .offers import offer_lift
from .population import NEVER
from .streams import Purpose


class _Cap:
    def __init__(self, cap, n: int):
        self.cap = cap
        self.window = cap.window_days
        self.days = np.full((n, cap.limit), -np.inf, dtype=np.float32)
        self.ptr = np.zeros(n, dtype=np.uint16)

    def oldest(self, ids: np.ndarray) -> np.ndarray:
        return self.days[ids, self.ptr[ids]]

    def record(self, ids: np.ndarray, day: int) -> None:
        slot = self.ptr[ids]
        self.days[ids, slot] = day
        self.ptr[ids] = (slot + 1) % self.cap.limit


class Messaging:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _enqueue(self, site_id: int, ids: np.ndarray) -> None:
        site = self.steps.sites[site_id]
        rule = self.rules[site.rule]
        self.seq += 1
        self.today.queue.append((-rule.priority, site.rule, self.seq, site_id, ids))

    def _send_queue(self, d: int) -> None:
        if self.share is None:
            self.today.queue.sort(key=lambda item: item[:3])
            for _, _, _, site_id, ids in self.today.queue:
                self._send(site_id, ids, d)
            return
        # blocks sharing capacities (blocks.py): an order every block can name, by send step
        # rather than by the order of this block's own queue
        self.today.queue.sort(key=lambda item: (item[0], item[1], item[3], item[2]))
        seen: dict[int, int] = {}
        for priority, rule, _, site_id, ids in self.today.queue:
            seen[site_id] = seen.get(site_id, -1) + 1
            self.share_key = (1, priority, rule, site_id, seen[site_id])
            self._send(site_id, ids, d)

    def _send(self, site_id: int, ids: np.ndarray, d: int) -> None:
        st, rec = self.state, self.recorder
        site = self.steps.sites[site_id]
        send, ch = site.send, site.channel
        arm = int(self.steps.arm[site_id])
        counters = rec.arm_counters
        bit = np.uint64(1) << np.uint64(ch)
        reach = ((st.reachable[ids] & bit) != 0) & ((st.unsubscribed[ids] & bit) == 0)
        counters["not_reachable"][arm] += np.count_nonzero(~reach)
        rec.not_sent("not_reachable", ids[~reach], d, site_id)
        self._trace_ids(
            ids[~reach], d, site, "not sent: unsubscribed or no consent for this channel"
        )
        ids = ids[reach]
        if not send.transactional and ids.size:
            ctrl = st.control[ids]
            counters["control"][arm] += np.count_nonzero(ctrl)
            rec.not_sent("control", ids[ctrl], d, site_id)
            self._trace_ids(ids[ctrl], d, site, "not sent: in the global control group")
            ids = ids[~ctrl]
        if not send.transactional and ids.size:
            ids = self._apply_caps(site_id, site, ids, d)
        if ids.size and np.isfinite(self.today.capacity_left[:, ch]).any():
            ids = self._within_capacity(site_id, site, arm, ids, d)
        if not ids.size:
            return
        self._deliver(site, arm, ids, d)

    def _within_capacity(self, site_id: int, site, arm: int, ids: np.ndarray, d: int) -> np.ndarray:
        """The customers the channel's capacity left today still reaches, chosen at random
        within each block; the rest are dropped and counted."""
        ch, counters, rec = site.channel, self.recorder.arm_counters, self.recorder
        if self.share is not None:  # the other blocks' demand counts too (blocks.py)
            u = self.streams.uniform(ids, Purpose.CAPACITY, d)
            order = np.argsort(u, kind="stable")
            keep = np.arange(ids.size) < self.share.allot(self.share_key, ch, u[order])
        else:
            block = self._block(ids)
            left = self.today.capacity_left[:, ch]
            order = np.lexsort((self.streams.uniform(ids, Purpose.CAPACITY, d), block))
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

    def _block(self, ids: np.ndarray) -> np.ndarray:
        if self.blocks > 1:
            return ids // self.block_size
        return np.zeros(ids.size, dtype=np.int64)

    def _apply_caps(self, site_id: int, site, ids: np.ndarray, d: int) -> np.ndarray:
        rec = self.recorder
        send = site.send
        channel = self.policy.channels[site.channel].name
        blocked = np.zeros(ids.size, dtype=bool)
        skip = np.zeros(ids.size, dtype=bool)
        retry = np.full(ids.size, -np.inf)
        for cap in self.caps:
            c = cap.cap
            if c.scope == "channel" and c.channel != channel:
                continue
            if c.scope == "tag" and c.tag not in send.tags:
                continue
            oldest = cap.oldest(ids)
            hit = d - oldest < cap.window
            blocked |= hit
            if c.overflow == "skip":
                skip |= hit
            retry = np.where(hit, np.maximum(retry, np.ceil(oldest + cap.window)), retry)
        if blocked.any():
            arm = int(self.steps.arm[site_id])
            delay = blocked & ~skip
            capped = ids[blocked & skip]
            rec.arm_counters["capped"][arm] += capped.size
            rec.daily["capped"][d] += capped.size
            rec.not_sent("capped", capped, d, site_id)
            self._trace_ids(capped, d, site, "capped: skipped")
            if delay.any():
                rec.arm_counters["delayed"][arm] += delay.sum()
                rec.daily["delayed"][d] += delay.sum()
                rec.not_sent("delayed", ids[delay], d, site_id)
                self._trace_ids(ids[delay], d, site, "capped: delayed to the next allowed day")
                self.calendar.add_spread(
                    np.maximum(retry[delay], d + 1), "send", site_id, ids[delay]
                )
        return ids[~blocked]

    def _deliver(self, site, arm: int, ids: np.ndarray, d: int) -> None:
        """`site`'s message sent to `ids` on day `d`, and its effects: cost, fatigue,
        unsubscribes, burnout and, unless it is transactional, responses."""
        counter, stage = self._record_sends(site, arm, ids, d)
        self._referral_message(site, ids, d)
        fatigue, new_fatigue, irrelevant = self._fatigue(site, ids, d)
        self._unsubscribes_and_burnout(site, arm, ids, d, counter, stage, new_fatigue)
        if site.send.transactional:
            return
        self._responses(site, arm, ids, d, counter, fatigue, irrelevant)

    def _record_sends(
        self, site, arm: int, ids: np.ndarray, d: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The messages' cost and counts, the message log, the frequency caps' memory; returns
        each customer's count of messages received before this one (their streams' key) and
        their stage when it was sent (logged with whether it made them unsubscribe)."""
        st, rec = self.state, self.recorder
        send, ch = site.send, site.channel
        channel = self.policy.channels[ch]
        n = ids.size
        counters = rec.arm_counters
        counters["sent"][arm] += n
        cost = channel.cost * n
        counters["cost"][arm] += cost
        rec.daily["messages"][d] += n
        rec.daily["message_cost"][d] += cost
        rec.channel_messages[d, ch] += n
        rec.channel_cost[d, ch] += cost
        stage = st.stage[ids]
        if not send.transactional:
            for cap in self.caps:
                c = cap.cap
                if (
                    c.scope == "global"
                    or (c.scope == "channel" and c.channel == channel.name)
                    or (c.scope == "tag" and c.tag in send.tags)
                ):
                    cap.record(ids, d)
        self.message_log.record(channel.name, ids, d)
        self.event_memory.messaged(ids, d)
        counter = st.messages_received[ids]
        st.messages_received[ids] = counter + 1
        self.today.touched.append(ids)
        self._trace_ids(ids, d, site, f'sent {channel.name} "{send.content}"')
        return counter, stage

    def _fatigue(self, site, ids: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each customer's fatigue before this message and after it (stored), and whether the
        offer is irrelevant to them (already owned for good, or not for their audience)."""
        st, cat, fat = self.state, self.catalogue, self.market.fatigue
        fatigue = st.fatigue[ids] * np.exp2(-(d - st.fatigue_t[ids]) / fat.half_life_days)
        irrelevant = np.zeros(ids.size, dtype=bool)
        if site.offer_product >= 0:
            p = site.offer_product
            blocked = self.ownership.blocked(st.owned[ids], ids, np.full(ids.size, float(d)))
            owned = (blocked >> np.uint64(p)) & np.uint64(1) == 1  # owned for keeps
            irrelevant = owned | ~cat.relevant[st.audience[ids].astype(np.int64) + 1, p]
        new_fatigue = fatigue + fat.per_message + fat.irrelevant_extra * irrelevant
        st.fatigue[ids] = new_fatigue
        st.fatigue_t[ids] = d
        return fatigue, new_fatigue, irrelevant

    def _unsubscribes_and_burnout(
        self,
        site,
        arm: int,
        ids: np.ndarray,
        d: int,
        counter: np.ndarray,
        stage: np.ndarray,
        new_fatigue: np.ndarray,
    ) -> None:
        """Fatigue past the tolerance: some unsubscribe from the channel, some drop out; the
        message is logged with whether it made them unsubscribe."""
        st, rec, S, fat = self.state, self.recorder, self.streams, self.market.fatigue
        ch = site.channel
        channel = self.policy.channels[ch]
        response = self.market.channel(channel.name)
        excess = np.maximum(new_fatigue - fat.tolerance, 0.0)
        unsub = S.uniform(ids, Purpose.UNSUBSCRIBE, counter) < response.unsubscribe * (
            1 + fat.unsubscribe_growth * excess
        )
        rec.messages.add(
            customer=ids,
            day=d,
            channel=ch,
            site=self.steps.ids[(site.node, site.step)],
            arm=arm,
            stage=stage,
            unsubscribed=unsub,
        )
        if unsub.any():
            st.unsubscribed[ids[unsub]] |= np.uint64(1) << np.uint64(ch)
            rec.unsubscribes.add(customer=ids[unsub], day=d, channel=ch)
            rec.daily["unsubscribes"][d] += unsub.sum()
            self._trace_ids(ids[unsub], d, site, f"unsubscribed from {channel.name}")
        burn = st.alive[ids] & (
            S.uniform(ids, Purpose.BURNOUT, counter) < fat.churn_per_fatigue * excess
        )
        if burn.any():
            gone = ids[burn]
            st.alive[gone] = False
            st.next_t[gone] = NEVER
            st.response_t[gone] = NEVER
            st.response_site[gone] = -1
            rec.daily["burned_out"][d] += gone.size
            self._trace_ids(gone, d, site, "burned out: dropped out after one message too many")

    def _responses(
        self,
        site,
        arm: int,
        ids: np.ndarray,
        d: int,
        counter: np.ndarray,
        fatigue: np.ndarray,
        irrelevant: np.ndarray,
    ) -> None:
        """Who answers: a purchase within the window, of the offer when there is one, lifted
        by the offer's terms and damped by fatigue; a sooner response replaces a later one."""
        st, S, fat = self.state, self.streams, self.market.fatigue
        channel = self.policy.channels[site.channel].name
        response = self.market.channel(channel)
        base = self.market.response(self.policy.rules[site.rule].name, channel)
        offers = self.market.offers
        lift = offer_lift(offers, site, self.catalogue, self.mean_check)
        prob = base * lift * np.exp(-fat.sensitivity * fatigue)
        prob = np.where(irrelevant, prob * offers.irrelevant_response, prob)
        prob = np.where(st.alive[ids], prob, prob * offers.reactivation)
        responds = S.uniform(ids, Purpose.RESPONSE, counter) < np.minimum(prob, 1.0)
        if not responds.any():
            return
        who = ids[responds]
        u = S.uniform(who, Purpose.RESPONSE_TIME, counter[responds])
        when = d + 1 + u * max(response.window_days - 1.0, 0.0)
        pending = st.response_t[who]
        sooner = (when < pending) | (pending < d)  # one before today is no longer pending
        who, when = who[sooner], when[sooner]
        st.response_t[who] = when
        st.response_site[who] = self.steps.ids[(site.node, site.step)]
        self.recorder.arm_counters["responses"][arm] += who.size
        self.calendar.add_spread(np.floor(when), "response", None, who)
        self._trace_ids(
            who, d, site, f"will respond around day {int(when[0]) if who.size == 1 else 0}"
        )

    def _trace_ids(self, ids: np.ndarray, d: float, site, what: str) -> None:
        if self.trace and ids.size and (ids == self.trace.customer).any():
            rule = self.rules[site.rule]
            self.trace.add(d, "message", f"{rule.name} ({site.send.span}): {what}")
