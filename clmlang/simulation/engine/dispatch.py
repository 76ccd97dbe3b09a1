"""The day's message queue sent in batches: consecutive send steps that share a channel, the
same caps and the same transactional flag, and whose customers are distinct, go through the
compiled kernels (delivery.py) as one batch instead of one pass each.

A day of a spec with hundreds of rules queues some hundred small send steps; each cost the
same fixed Python and numpy work (the screening, the delivery, its effects and records)
however few customers it had. Merging them changes nothing a customer sees: the kernels
take each customer in batch order and every effect of a message (the caps' rings, fatigue,
message counts, unsubscribes, burnout, responses) is the customer's own, so with distinct
customers the batch's order among them is free; a customer who is in two send steps the
same day starts a new batch, so their second message still sees the first's caps and
fatigue. What is counted per send step (counters by arm, costs, the message counts, the
delayed messages' calendar items, the logs) is split back by step, in queue order, so the
outputs are the same bytes. A channel with a daily capacity (queues.py) and a traced run
keep the one-step path."""

from __future__ import annotations

import numpy as np

from .delivery import SCREENED, decay_table, deliver, effects, screen
from .offers import offer_lift
from .population import NEVER

_NONE = np.zeros(0, dtype=np.int64)
_SENT, _DELAYED = SCREENED.index("sent"), SCREENED.index("delayed")


class Dispatch:
    """Methods of the simulation (mixed into it through Messaging)."""

    def _send_items(self, items: list[tuple[int, np.ndarray, tuple | None]], d: int) -> None:
        """Send the day's queue `items` (send step, ids, capacity share key), in order."""
        if not self.compiled or self.trace is not None:
            for site_id, ids, key in items:
                self.share_key = key if key is not None else self.share_key
                self._send(site_id, ids, d)
            return
        mark = getattr(self, "_batch_mark", None)
        if mark is None:
            mark = self._batch_mark = np.full(self.state.stage.size, -1, dtype=np.int64)
            self._batch_token = 0
        batch: list[tuple[int, np.ndarray]] = []
        batch_key = None
        for site_id, ids, key in items:
            group = self._batch_key(site_id)
            if group is None or not ids.size:
                self._flush(batch, d)
                batch, batch_key = [], None
                self.share_key = key if key is not None else self.share_key
                self._send(site_id, ids, d)
                continue
            if group != batch_key or (mark[ids] == self._batch_token).any():
                self._flush(batch, d)
                batch, batch_key = [], group
                self._batch_token += 1
            mark[ids] = self._batch_token
            batch.append((site_id, ids))
        self._flush(batch, d)

    def _batch_key(self, site_id: int) -> tuple | None:
        """What send steps must share to go in one batch (channel, transactional, caps), or
        None when this one goes alone (its channel has a daily capacity)."""
        site = self.steps.sites[site_id]
        if np.isfinite(self.today.capacity_left[:, site.channel]).any():
            return None
        keys = self.__dict__.setdefault("_batch_keys", {})
        found = keys.get(site_id)
        if found is None:
            which = _NONE
            if not site.send.transactional:
                which = self.caps.which(site_id, site, self.policy.channels[site.channel].name)
            found = keys[site_id] = (site.channel, site.send.transactional, tuple(which.tolist()))
        return found

    def _flush(self, batch: list[tuple[int, np.ndarray]], d: int) -> None:
        if len(batch) == 1:
            self._send(*batch[0], d)
        elif batch:
            self._send_batch(batch, d)

    def _send_batch(self, batch: list[tuple[int, np.ndarray]], d: int) -> None:
        """The send steps of `batch` (distinct customers; one channel, the same caps) screened
        and delivered in one pass of each kernel, as `_send` would one after another."""
        st, rec, r = self.state, self.recorder, self.caps.rings
        sites = [self.steps.sites[s] for s, _ in batch]
        site = sites[0]
        send, ch, m = site.send, site.channel, len(batch)
        arms = self.steps.arm[[s for s, _ in batch]]
        ids = np.concatenate([i for _, i in batch])
        sizes = np.array([i.size for _, i in batch])
        item = np.repeat(np.arange(m), sizes)
        n = ids.size
        which = np.array(self._batch_key(batch[0][0])[2], dtype=np.int64)
        out = (np.empty(n, np.int8), np.empty(n, ids.dtype), np.empty(n, ids.dtype), np.empty(n))
        bit = np.uint64(1) << np.uint64(ch)
        rings = (r.days, r.ptr, r.start, r.window, r.skip)
        counts = screen(
            ids, st.reachable, st.unsubscribed, bit, st.control, not send.transactional,
            rings, which, d, out,
        )  # fmt: skip
        status, sent, delayed, retry = out
        n_sent, _, _, capped, waiting = counts
        per = np.bincount(item * 5 + status, minlength=5 * m).reshape(m, 5)
        counters = rec.arm_counters
        np.add.at(counters["not_reachable"], arms, per[:, 1])
        np.add.at(counters["control"], arms, per[:, 2])
        if capped or waiting:
            np.add.at(counters["capped"], arms, per[:, 3])
            rec.daily["capped"][d] += capped
        if waiting:
            np.add.at(counters["delayed"], arms, per[:, 4])
            rec.daily["delayed"][d] += waiting
        bounds = np.r_[0, np.cumsum(sizes)]
        if rec.logs and n_sent < n:
            for j, (site_id, _) in enumerate(batch):
                part = status[bounds[j] : bounds[j + 1]]
                for code, why in enumerate(SCREENED[1:], start=1):
                    rec.not_sent(why, ids[bounds[j] : bounds[j + 1]][part == code], d, site_id)
        if waiting:
            cut = np.r_[0, np.cumsum(per[:, _DELAYED])]
            for j in np.flatnonzero(per[:, _DELAYED]).tolist():
                lo, hi = cut[j], cut[j + 1]
                self.calendar.add_spread(retry[lo:hi], "send", batch[j][0], delayed[lo:hi])
        if n_sent:
            self._deliver_batch(batch, sites, arms, sent[:n_sent], per[:, _SENT], d)

    def _deliver_batch(self, batch, sites, arms, ids: np.ndarray, sizes: np.ndarray, d: int):
        """`_deliver_compiled` for the batch's delivered `ids` (`sizes`: how many of each send
        step, in order)."""
        st, rec, fat = self.state, self.recorder, self.market.fatigue
        site = sites[0]
        send, ch, n, m = site.send, site.channel, ids.size, len(batch)
        channel = self.policy.channels[ch]
        steps = [s for s, _ in batch]
        for j in np.flatnonzero(sizes).tolist():  # the costs added in queue order
            self._count_sends(channel, int(arms[j]), int(sizes[j]), d)
        if self.decay is None:
            self.decay = decay_table(self.days, st.fatigue_t, fat.half_life_days)
        which = np.array(self._batch_key(steps[0])[2], dtype=np.int64)
        r = self.caps.rings
        stage, counter = np.empty(n, st.stage.dtype), np.empty(n, st.messages_received.dtype)
        fatigue = np.empty(n, np.result_type(st.fatigue, self.decay))
        rings, state = (r.days, r.ptr, r.start, r.limit), (st.stage, st.messages_received)
        state += (st.fatigue, st.fatigue_t)
        deliver(ids, d, state, rings, which, self.decay, (stage, counter, fatigue))
        self.message_log.record(channel.name, ids, d)
        self.event_memory.messaged(ids, d)
        self.today.touched.append(ids)
        bounds = np.r_[0, np.cumsum(sizes)].tolist()
        parts = [ids[bounds[j] : bounds[j + 1]] for j in range(m)]
        for j in range(m):
            self._referral_message(sites[j], parts[j], d)
        if all(s.offer_product < 0 for s in sites):
            irrelevant = np.zeros(n, dtype=bool)
        else:
            irrelevant = np.concatenate([self._irrelevant(sites[j], parts[j], d) for j in range(m)])
        response = None
        if not send.transactional:
            # `_chance` of each step: its scalar times numpy's exp of the fatigue damping
            damping = np.exp(-fat.sensitivity * fatigue)
            chance = np.concatenate(
                [
                    self._chance_factor(sites[j]) * damping[bounds[j] : bounds[j + 1]]
                    for j in range(m)
                ]
            )
            offers, one = self.market.offers, chance.dtype.type
            span = max(self.market.channel(channel.name).window_days - 1.0, 0.0)
            factors = (one(offers.irrelevant_response), one(offers.reactivation), one(1.0))
            response = (chance, factors, span, np.repeat(np.array(steps, np.int64), sizes))
        ch_response = self.market.channel(channel.name)
        params = (self.streams.key, fatigue.dtype.type(fat.per_message), fat.irrelevant_extra)
        params += (fat.tolerance, ch_response.unsubscribe, fat.unsubscribe_growth)
        params += (fat.churn_per_fatigue, float(NEVER))
        state = (st.fatigue, st.fatigue_t, st.unsubscribed, st.alive, st.next_t)
        state += (st.response_t, st.response_site)
        unsub, burn = np.empty(n, np.bool_), np.empty(n, np.bool_)
        who, when = np.empty(n, np.int64), np.empty(n)
        bit = np.uint64(1) << np.uint64(ch)
        n_unsub, n_burn, n_who = effects(
            ids, d, counter, fatigue, irrelevant, params, state, bit, response,
            (unsub, burn, who, when),
        )  # fmt: skip
        rec.messages.add_steps(
            customer=ids, day=d, channel=ch, sites=steps, arms=arms, sizes=sizes,
            stage=stage, unsubscribed=unsub,
        )  # fmt: skip
        if n_unsub:
            rec.unsubscribes.add(customer=ids[unsub], day=d, channel=ch)
            rec.daily["unsubscribes"][d] += n_unsub
        if n_burn:
            rec.daily["burned_out"][d] += n_burn
        if n_who:
            at = who[:n_who]
            per = np.bincount(np.searchsorted(bounds, at, side="right") - 1, minlength=m)
            np.add.at(rec.arm_counters["responses"], arms, per)
            self.calendar.add_spread(np.floor(when[:n_who]), "response", None, ids[at])

    def _chance_factor(self, site):
        """`_chance`'s factor before the fatigue damping: the base response times the lift."""
        channel = self.policy.channels[site.channel].name
        base = self.market.response(self.policy.rules[site.rule].name, channel)
        return base * offer_lift(self.market.offers, site, self.catalogue, self.mean_check)
