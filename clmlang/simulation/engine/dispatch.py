"""The day's message queue sent in batches: consecutive send steps that share a channel
without a daily capacity, the same caps, the transactional flag and the dtype of the response
chance go through the compiled kernels (delivery.py) together instead of one pass each.

A day of a spec with hundreds of rules queues some hundred small send steps; each cost the
same fixed Python and numpy work (the screening, the delivery, its effects and records)
however few customers it had. A batch is sent in rounds: round k holds each customer's
(k+1)-th message of the batch, so a round's customers are distinct and each customer's
messages keep their queue order. Every effect of a message (the caps' rings, fatigue,
message counts, unsubscribes, burnout, responses) is its customer's own, so a customer's
second message sees the first's caps and fatigue as when the steps went one by one, and the
order among distinct customers is free. What is counted per send step (counters by arm,
costs, the message counts, the delayed messages' calendar items, the logs) is split back by
step after the rounds, in queue order, so the outputs are the same bytes. A channel with a
daily capacity (queues.py), a traced run and the numpy path keep the one-step path."""

from __future__ import annotations

import numpy as np

from .delivery import SCREENED, decay_table, deliver, effects, rounds, screen
from .offers import offer_lift

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
        bounded = np.isfinite(self.today.capacity_left).any(axis=0).tolist()
        batch: list[tuple[int, np.ndarray]] = []
        batch_key = None
        for site_id, ids, key in items:
            group = self._batch_key(site_id)
            if bounded[group[0]] or not ids.size:
                self._flush(batch, d)
                batch, batch_key = [], None
                self.share_key = key if key is not None else self.share_key
                self._send(site_id, ids, d)
                continue
            if group != batch_key:
                self._flush(batch, d)
                batch, batch_key = [], group
            batch.append((site_id, ids))
        self._flush(batch, d)

    def _batch_key(self, site_id: int) -> tuple:
        """What send steps must share to go in one batch: channel, transactional, the caps
        that apply, and the dtype of the response chance (`_chance`'s factor may be a Python
        float, which keeps the fatigue's float32, or a numpy one)."""
        keys = self.__dict__.setdefault("_batch_keys", {})
        found = keys.get(site_id)
        if found is None:
            site = self.steps.sites[site_id]
            channel = self.policy.channels[site.channel].name
            which = _NONE
            if not site.send.transactional:
                which = self.caps.which(site_id, site, channel)
            base = self.market.response(self.policy.rules[site.rule].name, channel)
            factor = base * offer_lift(self.market.offers, site, self.catalogue, self.mean_check)
            weak = type(factor) is float
            found = (site.channel, site.send.transactional, tuple(which.tolist()), weak)
            keys[site_id] = found
            self.__dict__.setdefault("_batch_factors", {})[site_id] = factor
        return found

    def _flush(self, batch: list[tuple[int, np.ndarray]], d: int) -> None:
        if len(batch) == 1:
            self._send(*batch[0], d)
        elif batch:
            self._send_batch(batch, d)

    def _send_batch(self, batch: list[tuple[int, np.ndarray]], d: int) -> None:
        """The send steps of `batch` (one channel, the same caps), in rounds of distinct
        customers: round k holds each customer's (k+1)-th message of the batch, so a
        customer's messages keep their queue order and each sees the ones before it."""
        sizes = np.array([i.size for _, i in batch])
        ids = np.concatenate([i for _, i in batch])
        n, m = ids.size, len(batch)
        # each element's round: how many of the batch's earlier steps have its customer
        seen = getattr(self, "_batch_seen", None)
        if seen is None:
            seen = self._batch_seen = np.zeros(self.state.stage.size, dtype=np.int32)
        order, starts = rounds(ids, seen)
        out = _Outcome(n, np.repeat(np.arange(m), sizes), sizes, self.state.stage.dtype)
        if starts.size == 2:
            self._round(batch, ids, np.arange(n), d, out)
        else:
            bounds = starts.tolist()
            for k in range(starts.size - 1):
                at = order[bounds[k] : bounds[k + 1]]
                self._round(batch, ids[at], at, d, out)
        self._record_batch(batch, ids, d, out)

    def _round(self, batch, ids: np.ndarray, at: np.ndarray, d: int, out: _Outcome) -> None:
        """One round of distinct customers `ids` (the batch's elements `at`): screened,
        delivered and their effects, as `_screen_compiled` and `_deliver_compiled` do."""
        st, r, fat = self.state, self.caps.rings, self.market.fatigue
        ch, transactional, which, _ = self._batch_key(batch[0][0])
        which = np.array(which, dtype=np.int64)
        n = ids.size
        status, sent = np.empty(n, np.int8), np.empty(n, ids.dtype)
        delayed, retry = np.empty(n, ids.dtype), np.empty(n)
        bit = np.uint64(1) << np.uint64(ch)
        rings = (r.days, r.ptr, r.start, r.window, r.skip)
        n_sent, *_, waiting = screen(
            ids, st.reachable, st.unsubscribed, bit, st.control, not transactional,
            rings, which, d, (status, sent, delayed, retry),
        )  # fmt: skip
        out.status[at] = status
        if waiting:
            out.retry[at[status == _DELAYED]] = retry[:waiting]
        if not n_sent:
            return
        at = at[status == _SENT]
        ids = sent[:n_sent]
        n = n_sent
        if self.decay is None:
            self.decay = decay_table(self.days, st.fatigue_t, fat.half_life_days)
        stage, counter = np.empty(n, st.stage.dtype), np.empty(n, st.messages_received.dtype)
        fatigue = np.empty(n, np.result_type(st.fatigue, self.decay))
        rings, state = (r.days, r.ptr, r.start, r.limit), (st.stage, st.messages_received)
        state += (st.fatigue, st.fatigue_t)
        deliver(ids, d, state, rings, which, self.decay, (stage, counter, fatigue))
        channel = self.policy.channels[ch]
        self.message_log.record(channel.name, ids, d)
        self.event_memory.messaged(ids, d)
        self.today.touched.append(ids)
        item = out.item[at]
        irrelevant = out.irrelevant(self, batch, d)[at]
        response = None
        if not transactional:
            # `_chance` of each step: its factor times numpy's exp of the fatigue damping
            damping = np.exp(-fat.sensitivity * fatigue)
            factors = self.__dict__["_batch_factors"]
            factor = np.array([factors[s] for s, _ in batch])
            if type(factors[batch[0][0]]) is float:  # a Python float takes numpy's dtype
                factor = factor.astype(damping.dtype)
            chance = factor[item] * damping
            offers, one = self.market.offers, chance.dtype.type
            span = max(self.market.channel(channel.name).window_days - 1.0, 0.0)
            lifts = (one(offers.irrelevant_response), one(offers.reactivation), one(1.0))
            steps = np.array([s for s, _ in batch], np.int64)
            response = (chance, lifts, span, steps[item])
        params, state, (unsub, burn, who, when) = self._effects_inputs(channel, fatigue, n)
        _, n_burn, n_who = effects(
            ids, d, counter, fatigue, irrelevant, params, state, bit, response,
            (unsub, burn, who, when),
        )  # fmt: skip
        out.stage[at] = stage
        out.unsubscribed[at] = unsub
        out.burned += n_burn
        if n_who:
            out.responders.append((item[who[:n_who]], ids[who[:n_who]], when[:n_who]))

    def _record_batch(self, batch, ids: np.ndarray, d: int, out: _Outcome) -> None:
        """What is counted and logged per send step, step by step in queue order."""
        rec, m = self.recorder, len(batch)
        ch = self._batch_key(batch[0][0])[0]
        channel = self.policy.channels[ch]
        steps = [s for s, _ in batch]
        arms = self.steps.arm[steps]
        per = np.bincount(out.item * 5 + out.status, minlength=5 * m).reshape(m, 5)
        counters = rec.arm_counters
        np.add.at(counters["not_reachable"], arms, per[:, 1])
        np.add.at(counters["control"], arms, per[:, 2])
        capped, waiting = per[:, 3].sum(), per[:, 4].sum()
        if capped or waiting:
            np.add.at(counters["capped"], arms, per[:, 3])
            rec.daily["capped"][d] += capped
        if waiting:
            np.add.at(counters["delayed"], arms, per[:, 4])
            rec.daily["delayed"][d] += waiting
        bounds = np.concatenate(([0], np.cumsum(out.sizes))).tolist()
        if rec.logs and per[:, _SENT].sum() < ids.size:
            for j, site_id in enumerate(steps):
                mine, part = ids[bounds[j] : bounds[j + 1]], out.status[bounds[j] : bounds[j + 1]]
                for code, why in enumerate(SCREENED[1:], start=1):
                    rec.not_sent(why, mine[part == code], d, site_id)
        if waiting:
            for j in np.flatnonzero(per[:, _DELAYED]).tolist():
                part = slice(bounds[j], bounds[j + 1])
                late = out.status[part] == _DELAYED
                self.calendar.add_spread(out.retry[part][late], "send", steps[j], ids[part][late])
        sent = out.status == _SENT
        for j in np.flatnonzero(per[:, _SENT]).tolist():  # the costs added in queue order
            self._count_sends(channel, int(arms[j]), int(per[j, _SENT]), d)
            part = slice(bounds[j], bounds[j + 1])
            self._referral_message(self.steps.sites[steps[j]], ids[part][sent[part]], d)
        unsub = out.unsubscribed & sent
        rec.messages.add_steps(
            customer=ids[sent], day=d, channel=ch, sites=steps, arms=arms, sizes=per[:, _SENT],
            stage=out.stage[sent], unsubscribed=unsub[sent],
        )  # fmt: skip
        n_unsub = int(unsub.sum())
        if n_unsub:
            rec.unsubscribes.add(customer=ids[unsub], day=d, channel=ch)
            rec.daily["unsubscribes"][d] += n_unsub
        if out.burned:
            rec.daily["burned_out"][d] += out.burned
        if out.responders:
            item, who, when = (np.concatenate(x) for x in zip(*out.responders, strict=True))
            np.add.at(counters["responses"], arms, np.bincount(item, minlength=m))
            self.calendar.add_spread(np.floor(when), "response", None, who)


def rounds_numpy(parts: list[np.ndarray], seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`delivery.rounds` in numpy, for the batch's `parts` (its send steps' customers): the
    elements by round, in batch order within each, and where each round starts."""
    k = []
    for part in parts:
        k.append(seen[part])
        seen[part] += 1
    ids = np.concatenate(parts)
    seen[ids] = 0
    k = np.concatenate(k).astype(np.int64)
    order = np.argsort(k, kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(k, minlength=int(k.max()) + 1))))
    return order, starts


class _Outcome:
    """A batch's results by element (its send steps' customers in turn), filled round by
    round: the screening's verdict, the first allowed day of the delayed, and the delivered
    ones' stage and unsubscribes; the responders by round."""

    def __init__(self, n: int, item: np.ndarray, sizes: np.ndarray, stage_dtype):
        self.item, self.sizes = item, sizes
        self.status = np.empty(n, np.int8)
        self.retry = np.empty(n)
        self.stage = np.zeros(n, stage_dtype)
        self.unsubscribed = np.zeros(n, np.bool_)
        self.burned = 0
        self.responders: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._irrelevant: np.ndarray | None = None

    def irrelevant(self, sim, batch, d: int) -> np.ndarray:
        """Whether each element's offer is irrelevant to its customer (`_irrelevant`)."""
        if self._irrelevant is None:
            if all(sim.steps.sites[s].offer_product < 0 for s, _ in batch):
                self._irrelevant = np.zeros(self.item.size, dtype=bool)
            else:
                self._irrelevant = np.concatenate(
                    [sim._irrelevant(sim.steps.sites[s], i, d) for s, i in batch]
                )
        return self._irrelevant
