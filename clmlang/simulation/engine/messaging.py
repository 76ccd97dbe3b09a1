"""Messages: the day's queue in priority order, consent, control group, caps, channel
capacities, and delivery with its effects (cost, fatigue, unsubscribes, burnout, responses).

Two twins do the screening and the delivery: numpy's here, and the compiled kernels of
delivery.py when the run takes them (`self.compiled`), giving the same bytes."""

from __future__ import annotations

import numpy as np

from .delivery import decay_table, deliver, effects, screen
from .dispatch import Dispatch
from .offers import offer_lift
from .population import NEVER
from .queues import Queues
from .streams import Purpose

_NONE = np.zeros(0, dtype=np.int64)
# what the screening's verdicts log and trace (delivery.SCREENED, after "sent")
_BURNED_OUT = "burned out: dropped out after one message too many"
_NOT_SENT = (
    ("not_reachable", "not sent: unsubscribed or no consent for this channel"),
    ("control", "not sent: in the global control group"),
    ("capped", "capped: skipped"),
    ("delayed", "capped: delayed to the next allowed day"),
)


class Messaging(Queues, Dispatch):
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _enqueue(self, site_id: int, ids: np.ndarray) -> None:
        site = self.steps.sites[site_id]
        rule = self.rules[site.rule]
        self.seq += 1
        self.today.queue.append((-rule.priority, site.rule, self.seq, site_id, ids))

    def _send_queue(self, d: int) -> None:
        """The day's queue in priority order (dispatch.py sends it, in batches when it can)."""
        if self.share is None:
            self.today.queue.sort(key=lambda item: item[:3])
            items = [(site_id, ids, None) for _, _, _, site_id, ids in self.today.queue]
            self._send_items(items, d)
            return
        # blocks sharing capacities (blocks.py): an order every block can name, by send step
        # rather than by the order of this block's own queue
        self.today.queue.sort(key=lambda item: (item[0], item[1], item[3], item[2]))
        seen: dict[int, int] = {}
        items = []
        for priority, rule, _, site_id, ids in self.today.queue:
            seen[site_id] = seen.get(site_id, -1) + 1
            items.append((site_id, ids, (1, priority, rule, site_id, seen[site_id])))
        self._send_items(items, d)

    def _send(self, site_id: int, ids: np.ndarray, d: int) -> None:
        site = self.steps.sites[site_id]
        arm = int(self.steps.arm[site_id])
        if self.compiled:
            ids = self._screen_compiled(site_id, site, arm, ids, d)
        else:
            ids = self._screen(site_id, site, arm, ids, d)
        if ids.size and np.isfinite(self.today.capacity_left[:, site.channel]).any():
            ids = self._within_capacity(site_id, site, arm, ids, d)
        if not ids.size:
            return
        self._deliver(site, arm, ids, d)

    def _screen(self, site_id: int, site, arm: int, ids: np.ndarray, d: int) -> np.ndarray:
        """Consent, unsubscribes, the control group and the caps: who of `ids` is sent."""
        st, rec = self.state, self.recorder
        send, ch = site.send, site.channel
        counters = rec.arm_counters
        bit = np.uint64(1) << np.uint64(ch)
        reach = ((st.reachable[ids] & bit) != 0) & ((st.unsubscribed[ids] & bit) == 0)
        counters["not_reachable"][arm] += np.count_nonzero(~reach)
        rec.not_sent("not_reachable", ids[~reach], d, site_id)
        self._trace_ids(ids[~reach], d, site, _NOT_SENT[0][1])
        ids = ids[reach]
        if not send.transactional and ids.size:
            ctrl = st.control[ids]
            counters["control"][arm] += np.count_nonzero(ctrl)
            rec.not_sent("control", ids[ctrl], d, site_id)
            self._trace_ids(ids[ctrl], d, site, _NOT_SENT[1][1])
            ids = ids[~ctrl]
        if not send.transactional and ids.size:
            ids = self._apply_caps(site_id, site, ids, d)
        return ids

    def _screen_compiled(self, site_id: int, site, arm: int, ids: np.ndarray, d: int) -> np.ndarray:
        """`_screen` in one pass (delivery.screen)."""
        st, rec, r = self.state, self.recorder, self.caps.rings
        send, ch = site.send, site.channel
        n = ids.size
        which = _NONE
        if not send.transactional:
            which = self.caps.which(site_id, site, self.policy.channels[ch].name)
        out = (np.empty(n, np.int8), np.empty(n, ids.dtype), np.empty(n, ids.dtype), np.empty(n))
        counts = screen(
            ids,
            st.reachable,
            st.unsubscribed,
            np.uint64(1) << np.uint64(ch),
            st.control,
            not send.transactional,
            (r.days, r.ptr, r.start, r.window, r.skip),
            which,
            d,
            out,
        )
        status, sent, delayed, retry = out
        n_sent, unreachable, control, capped, waiting = counts
        counters = rec.arm_counters
        counters["not_reachable"][arm] += unreachable
        counters["control"][arm] += control
        if capped or waiting:
            counters["capped"][arm] += capped
            rec.daily["capped"][d] += capped
        if waiting:
            counters["delayed"][arm] += waiting
            rec.daily["delayed"][d] += waiting
        if (rec.logs or self.trace) and n_sent < n:
            for code, (why, what) in enumerate(_NOT_SENT, start=1):
                rec.not_sent(why, ids[status == code], d, site_id)
                self._trace_ids(ids[status == code], d, site, what)
        if waiting:
            self.calendar.add_spread(retry[:waiting], "send", site_id, delayed[:waiting])
        return sent[:n_sent]

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
        if self.compiled:
            self._deliver_compiled(site, arm, ids, d)
            return
        counter, stage = self._record_sends(site, arm, ids, d)
        self._referral_message(site, ids, d)
        fatigue, new_fatigue, irrelevant = self._fatigue(site, ids, d)
        self._unsubscribes_and_burnout(site, arm, ids, d, counter, stage, new_fatigue)
        if site.send.transactional:
            return
        self._responses(site, arm, ids, d, counter, fatigue, irrelevant)

    def _deliver_compiled(self, site, arm: int, ids: np.ndarray, d: int) -> None:
        """`_deliver` in two kernels (delivery.deliver, delivery.effects), numpy's exp
        between them."""
        st, rec, fat = self.state, self.recorder, self.market.fatigue
        send, ch, n = site.send, site.channel, ids.size
        channel = self.policy.channels[ch]
        step = self.steps.ids[(site.node, site.step)]
        self._count_sends(channel, arm, n, d)
        if self.decay is None:
            self.decay = decay_table(self.days, st.fatigue_t, fat.half_life_days)
        which = _NONE if send.transactional else self.caps.which(step, site, channel.name)
        r = self.caps.rings
        stage, counter = np.empty(n, st.stage.dtype), np.empty(n, st.messages_received.dtype)
        fatigue = np.empty(n, np.result_type(st.fatigue, self.decay))
        rings, state = (r.days, r.ptr, r.start, r.limit), (st.stage, st.messages_received)
        state += (st.fatigue, st.fatigue_t)
        deliver(ids, d, state, rings, which, self.decay, (stage, counter, fatigue))
        self._sent(site, channel, ids, d)
        self._referral_message(site, ids, d)
        irrelevant = self._irrelevant(site, ids, d)
        response = None
        if not send.transactional:
            chance = self._chance(site, fatigue)
            offers, one = self.market.offers, chance.dtype.type
            span = max(self.market.channel(channel.name).window_days - 1.0, 0.0)
            factors = (one(offers.irrelevant_response), one(offers.reactivation), one(1.0))
            response = (chance, factors, span, np.full(n, step, np.int64))
        params, state, (unsub, burn, who, when) = self._effects_inputs(channel, fatigue, n)
        bit = np.uint64(1) << np.uint64(ch)
        n_unsub, n_burn, n_who = effects(
            ids, d, counter, fatigue, irrelevant, params, state, bit, response,
            (unsub, burn, who, when),
        )  # fmt: skip
        rec.messages.add(
            customer=ids, day=d, channel=ch, site=step, arm=arm, stage=stage, unsubscribed=unsub
        )
        if n_unsub:
            rec.unsubscribes.add(customer=ids[unsub], day=d, channel=ch)
            rec.daily["unsubscribes"][d] += n_unsub
            self._trace_ids(ids[unsub], d, site, f"unsubscribed from {channel.name}")
        if n_burn:
            rec.daily["burned_out"][d] += n_burn
            self._trace_ids(ids[burn], d, site, _BURNED_OUT)
        if n_who:
            self._responded(site, arm, ids[who[:n_who]], when[:n_who], d)

    def _count_sends(self, channel, arm: int, n: int, d: int) -> None:
        """The cost and counts of `n` messages on `channel`."""
        rec, ch = self.recorder, self.channel_index[channel.name]
        counters = rec.arm_counters
        counters["sent"][arm] += n
        cost = channel.cost * n
        counters["cost"][arm] += cost
        rec.daily["messages"][d] += n
        rec.daily["message_cost"][d] += cost
        rec.channel_messages[d, ch] += n
        rec.channel_cost[d, ch] += cost

    def _sent(self, site, channel, ids: np.ndarray, d: int) -> None:
        """What else remembers a message sent: the message log (for conditions), the event
        memory (`after_message`), the day's touched customers and the trace."""
        self.message_log.record(channel.name, ids, d)
        self.event_memory.messaged(ids, d)
        self.today.touched.append(ids)
        self._trace_ids(ids, d, site, f'sent {channel.name} "{site.send.content}"')

    def _record_sends(
        self, site, arm: int, ids: np.ndarray, d: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The messages' cost and counts, the message log, the frequency caps' memory; returns
        each customer's count of messages received before this one (their streams' key) and
        their stage when it was sent (logged with whether it made them unsubscribe)."""
        st = self.state
        send, channel = site.send, self.policy.channels[site.channel]
        self._count_sends(channel, arm, ids.size, d)
        stage = st.stage[ids]
        if not send.transactional:
            for cap in self.caps:
                if cap.applies(send, channel.name):
                    cap.record(ids, d)
        counter = st.messages_received[ids]
        st.messages_received[ids] = counter + 1
        self._sent(site, channel, ids, d)
        return counter, stage

    def _irrelevant(self, site, ids: np.ndarray, d: int) -> np.ndarray:
        """Whether the offer is irrelevant to each of `ids` (already owned for good, or not
        for their audience)."""
        st, cat = self.state, self.catalogue
        if site.offer_product < 0:
            return np.zeros(ids.size, dtype=bool)
        p = site.offer_product
        blocked = self.ownership.blocked(st.owned[ids], ids, np.full(ids.size, float(d)))
        owned = (blocked >> np.uint64(p)) & np.uint64(1) == 1  # owned for keeps
        return owned | ~cat.relevant[st.audience[ids].astype(np.int64) + 1, p]

    def _fatigue(self, site, ids: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each customer's fatigue before this message and after it (stored), and whether the
        offer is irrelevant to them."""
        st, fat = self.state, self.market.fatigue
        fatigue = st.fatigue[ids] * np.exp2(-(d - st.fatigue_t[ids]) / fat.half_life_days)
        irrelevant = self._irrelevant(site, ids, d)
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
            self._trace_ids(gone, d, site, _BURNED_OUT)

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
        st, S, offers = self.state, self.streams, self.market.offers
        response = self.market.channel(self.policy.channels[site.channel].name)
        prob = self._chance(site, fatigue)
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
        self._responded(site, arm, who, when, d)

    def _effects_inputs(self, channel, fatigue: np.ndarray, n: int) -> tuple:
        """The `effects` kernel's parameters for `n` messages on `channel` (the delivered
        ones' `fatigue` gives the dtype), the state it updates, and its outputs: unsubscribed,
        burned out, the responders' positions and their response times."""
        st, fat = self.state, self.market.fatigue
        ch_response = self.market.channel(channel.name)
        params = (self.streams.key, fatigue.dtype.type(fat.per_message), fat.irrelevant_extra)
        params += (fat.tolerance, ch_response.unsubscribe, fat.unsubscribe_growth)
        params += (fat.churn_per_fatigue, float(NEVER))
        state = (st.fatigue, st.fatigue_t, st.unsubscribed, st.alive, st.next_t)
        state += (st.response_t, st.response_site)
        outs = (np.empty(n, np.bool_), np.empty(n, np.bool_), np.empty(n, np.int64), np.empty(n))
        return params, state, outs

    def _chance(self, site, fatigue: np.ndarray) -> np.ndarray:
        """The chance of a response to `site`'s message before the offer's relevance and
        reactivation: the base response, lifted by the offer, damped by `fatigue`."""
        fat, channel = self.market.fatigue, self.policy.channels[site.channel].name
        base = self.market.response(self.policy.rules[site.rule].name, channel)
        lift = offer_lift(self.market.offers, site, self.catalogue, self.mean_check)
        return base * lift * np.exp(-fat.sensitivity * fatigue)

    def _responded(self, site, arm: int, who: np.ndarray, when: np.ndarray, d: int) -> None:
        """`who` will buy at `when` in answer to `site`'s message of day `d`."""
        self.recorder.arm_counters["responses"][arm] += who.size
        self.calendar.add_spread(np.floor(when), "response", None, who)
        self._trace_ids(
            who, d, site, f"will respond around day {int(when[0]) if who.size == 1 else 0}"
        )

    def _trace_ids(self, ids: np.ndarray, d: float, site, what: str) -> None:
        if self.trace and ids.size and (ids == self.trace.customer).any():
            rule = self.rules[site.rule]
            self.trace.add(d, "message", f"{rule.name} ({site.send.span}): {what}")
