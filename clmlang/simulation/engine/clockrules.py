"""Clock rules: wake-up rules of one shape, evaluated together as (rule, customer) pairs.

A wake-up rule (wakeups.py) already looks only at the customers whose condition may have
changed: today's touched customers, newcomers and its own wake-ups. Evaluated rule by rule,
though, each one still costs a few dozen numpy calls a day whether it has two customers to
look at or none. A *clock rule* is a wake-up rule whose filters are its stages and a
conjunction of comparisons of the purchase and stage clocks (`days_since_purchase`,
`days_since_first_purchase`, `days_in_stage`) with constants (`>=`, `>`, `<=`, `<`), with
`reentry once`, `once per P days` or the default edge: the common "in stage X when
days_since_purchase >= 60 days" shape. All clock rules are evaluated at once each day:

- their yesterday's values are one matrix (customer x rule, a bit each: 8 rules a byte), so
  today's touched customers are a block of rows: their stages say which rules they are
  inside (a look-up table, stage x rule); outside, the value is cleared; inside, they are
  (rule, customer) pairs;
- their wake-ups are (rule, customer) pairs kept per day in one store (not one calendar item
  per rule), so a day takes them all with one sort;
- the pairs are evaluated with one comparison per clock term against per-rule thresholds, the
  edges found and the next wake-ups computed and stored together.

A rule nobody touched or woke today costs nothing; the rules with edges (or re-entries due)
get their candidates, sorted by customer as the rule-by-rule evaluation gave them, and go on
to the usual entry (re-entry, holdout, variants, flows: rules.py) in rule order. On a rule's
first day everyone is evaluated for it, in blocks of rows, the same way.
"""

from __future__ import annotations

import numpy as np

from ...compile.policy import SendStep
from ...language.conditions import Expr
from .clockrules_kernels import day_edges as _day_edges

__all__ = ["ClockRules", "clock_terms"]

CLOCKS = ("days_since_purchase", "days_since_first_purchase", "days_in_stage")
_COMPARE = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
_AFTER = {">": True, "<=": True, ">=": False, "<": False}  # crossing: floor(t) + 1, or ceil(t)
_OP_CODES = {">=": 0, ">": 1, "<=": 2, "<": 3}


def _number(node: Expr) -> float | None:
    if node.op == "const" and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else float(node.value)
    return None


def clock_terms(expr: Expr | None) -> list[tuple[int, str, float]] | None:
    """The (clock, comparison, constant) terms of a conjunction of clock comparisons, the
    clock on the left; None when the condition has any other shape."""
    if expr is None:
        return None
    if expr.op == "and":
        found: list[tuple[int, str, float]] = []
        for arg in expr.args:
            terms = clock_terms(arg)
            if terms is None:
                return None
            found += terms
        return found
    if expr.op not in _COMPARE:
        return None
    left, right = expr.left, expr.right
    if left.op == "column" and left.key in CLOCKS and _number(right) is not None:
        return [(CLOCKS.index(left.key), expr.op, _number(right))]
    if right.op == "column" and right.key in CLOCKS and _number(left) is not None:
        return [(CLOCKS.index(right.key), _FLIP[expr.op], _number(left))]
    return None


class ClockRules:
    """The clock rules of a simulation: their stage table, thresholds, yesterday's values
    (one bit matrix, `was`: rule g is bit g % 8 of byte g // 8 of a customer's row; it
    stands for their `RuleMemory.was_true`) and wake-up store."""

    def __init__(self, sim):
        members: list[int] = []
        terms: dict[int, list[tuple[int, str, float]]] = {}
        for r in sim.wakeups.thresholds:
            rule = sim.rules[r]
            found = clock_terms(sim.eligibility.rest[r])
            if (
                found is None
                or rule.reentry.kind not in ("edge", "once")
                or r in sim.wakeups.after_messages
            ):
                continue
            members.append(r)
            terms[r] = found
        self.rules = np.array(sorted(members), dtype=np.int64)
        self.rule_ids: list[int] = self.rules.tolist()
        self.col = {r: g for g, r in enumerate(self.rule_ids)}
        self.n = n = sim.n
        size = len(members)
        self.lut = np.ones((len(sim.policy.stages) + 1, size), dtype=bool)
        # each term as (clock, comparison, k-th such term of its rule): which rules have it,
        # and their constants
        self.terms: dict[tuple[int, str, int], tuple[np.ndarray, np.ndarray]] = {}
        for g, r in enumerate(self.rules.tolist()):
            lut = sim.eligibility.stage_lut[r]
            if lut is not None:
                self.lut[:, g] = lut
            seen: dict[tuple[int, str], int] = {}
            for clock, op, k in terms[r]:
                slot = seen[(clock, op)] = seen.get((clock, op), -1) + 1
                has, ks = self.terms.setdefault(
                    (clock, op, slot), (np.zeros(size, bool), np.zeros(size))
                )
                has[g], ks[g] = True, k
        windows = [sim.windows[r] for r in self.rules.tolist()]
        self.first = np.array([w[0] for w in windows], dtype=np.int64)
        self.last = np.array([w[1] for w in windows], dtype=np.int64)
        self.opens = np.maximum(self.first, 0)  # the day the rule sees everyone
        self.limit = np.minimum(self.last, sim.days - 1)  # the last day a wake-up may fall on
        # the same terms rule by rule for the kernel: rule g's are term_start[g]:term_start[g + 1]
        flat = [(c, _OP_CODES[op], k) for r in self.rules.tolist() for c, op, k in terms[r]]
        counts = [len(terms[r]) for r in self.rules.tolist()]
        self.term_start = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
        self.term_clock = np.array([t[0] for t in flat], dtype=np.int64)
        self.term_op = np.array([t[1] for t in flat], dtype=np.int64)
        self.term_k = np.array([t[2] for t in flat], dtype=np.float64)
        self.days = sim.days
        self.compiled = sim.compiled
        # the clock rules with one arm and nobody held out (`Clocked._enter_clocked`)
        self.simple = frozenset(
            r for r in self.rules.tolist() if not sim.rules[r].holdout and not sim.rules[r].variants
        )
        # nobody's condition held before day 0; bits, not bools: the matrix is read at random
        # (a cache miss a pair) and 500 rules take 63 bytes a customer, not 500
        self.was = np.zeros((n, (size + 7) // 8), dtype=np.uint8)
        for r in self.rules.tolist():
            del sim.memory.was_true[r]  # the matrix holds it
        self.store: dict[int, list[np.ndarray]] = {}  # day: keys g << SHIFT | customer
        # `reentry once per P days`: day -> keys g << SHIFT | customer whose re-entry opens
        # then (not one calendar item per rule and day)
        self.reentries: dict[int, list[np.ndarray]] = {}
        self.marks = np.zeros(n, dtype=bool)
        self.entries: dict[int, tuple] = {}  # `Clocked._clocked_entry`
        # the last day each customer was evaluated for every active rule (a touch): their
        # wake-ups found before then are stale (the compiled kernel skips them)
        self.seen = np.full(n, -1, dtype=np.int32)

    def __bool__(self) -> bool:
        return bool(self.rules.size)

    def __contains__(self, r: object) -> bool:
        return r in self.col

    def schedule(self, g: np.ndarray | int, ids: np.ndarray, days: np.ndarray, d: int) -> None:
        """Wake rule(s) `g` for `ids` on `days` (each a day after today `d`, within the run)."""
        if not ids.size:
            return
        keys = (g << SHIFT) + ids
        first = days.min()
        if first == days.max():
            self.store.setdefault(int(first), []).append((d, keys))
            return
        small = np.uint16 if days.max() < 1 << 16 else np.int64
        order = np.argsort(days.astype(small), kind="stable")
        days, keys = days[order], keys[order]
        cuts = (np.flatnonzero(days[1:] != days[:-1]) + 1).tolist()
        self._store_sorted(keys, days[[0, *cuts]].tolist(), [0, *cuts], d)

    def _store_sorted(self, keys: np.ndarray, days: list[int], starts: list[int], d: int) -> None:
        """Wake-ups found on day `d`, sorted by day (`keys`; the distinct `days`, where each
        one's keys start)."""
        if not days:
            return
        store = self.store
        for day, start, end in zip(days, starts, [*starts[1:], keys.size], strict=True):
            store.setdefault(int(day), []).append((d, keys[start:end]))

    def reopen(self, g: int, ids: np.ndarray, days: np.ndarray, last: int) -> None:
        """Rule `g`'s re-entry opens for `ids` on `days` (whole days as floats, one for all or
        one each): kept for the days of the run up to the rule's `last` day."""
        last, ids = min(last, self.days - 1), ids.astype(np.int64, copy=False)
        if days.ndim == 0:
            if ids.size and 0 <= days <= last:
                self.reentries.setdefault(int(days), []).append((g << SHIFT) | ids)
            return
        ok = (days >= 0) & (days <= last)
        ids, days = ids[ok], days[ok].astype(np.int64)
        for day in np.unique(days).tolist():
            self.reentries.setdefault(day, []).append((g << SHIFT) | ids[days == day])

    def take(self, d: int) -> list[tuple[int, np.ndarray]]:
        """Today's wake-ups: (the day each part was found, its keys g << SHIFT | customer)."""
        return self.store.pop(d, [])

    @staticmethod
    def distinct(parts: list[tuple[int, np.ndarray]]) -> np.ndarray:
        """The wake-ups' keys, sorted and distinct (a pair found again, stale, once)."""
        if not parts:
            return _NONE
        keys = np.sort(np.concatenate([k for _, k in parts]))
        if keys.size > 1:
            keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        return keys

    def holds(self, ids: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Whether rule `g[i]`'s condition holds (its latest value) for `ids[i]`."""
        was = self.was
        return (was.reshape(-1)[ids * was.shape[1] + (g >> 3)] >> (g & 7)) & 1 == 1

    def values(self, st, clock: int, ids: np.ndarray, d: int) -> np.ndarray:
        """A clock's column for `ids`, computed as `Columns` computes it (same rounding)."""
        if clock == 2:
            return d - st.stage_since[ids].astype(float)
        anchor = st.last_day if clock == 0 else st.first_day
        return (np.float32(d) - anchor[ids]).astype(np.float64)

    def anchors(self, st, clock: int, ids: np.ndarray) -> np.ndarray:
        anchor = (st.last_day, st.first_day, st.stage_since)[clock]
        return anchor[ids].astype(np.float64)

    def day_edges(
        self, st, rows: np.ndarray, parts: list, active: np.ndarray, d: int, opening=False
    ) -> np.ndarray:
        """The (rule, customer) pairs whose condition became true today, as sorted keys
        g << SHIFT | customer, from today's `rows` (touched and newcomers: every `active` rule)
        and the wake-ups `parts` (`take`); each evaluated pair's value is kept for tomorrow
        and, inside its rule's stages, its next wake-up stored (the first day a threshold is
        crossed, no event). `opening`: the rows are evaluated for the rules opening today
        only (not every rule with a wake-up pending for them)."""
        if self.compiled:
            woken = np.concatenate([k for _, k in parts]) if parts else _NONE
            ends = np.cumsum([k.size for _, k in parts], dtype=np.int64)
            found = np.array([s for s, _ in parts], dtype=np.int64)
            keys, wake_keys, days, starts = _day_edges(
                rows, woken, ends, found, d, active, st.stage, self.lut, self.was,
                self.seen, not opening, st.last_day, st.first_day, st.stage_since,
                self.term_start, self.term_clock, self.term_op, self.term_k, self.limit,
                self.days,
            )  # fmt: skip
            self._store_sorted(wake_keys, days.tolist(), starts.tolist(), d)
            return np.sort(keys)
        woken = self.distinct(parts)
        cs: list[np.ndarray] = []
        gs: list[np.ndarray] = []
        if rows.size and active.any():
            inside = self.lut[st.stage[rows] + 1]  # customer x rule
            keep = inside  # outside its stages, a rule's condition is false
            if not active.all():
                inside &= active
                keep = inside | ~active
            self.was[rows] &= np.packbits(keep, axis=1, bitorder="little")
            i, g = np.nonzero(inside)
            cs.append(rows[i])
            gs.append(g)
        if woken.size:
            g, c = woken >> SHIFT, woken & MASK
            keep = active[g]
            if rows.size:
                marks = self.marks
                marks[rows] = True
                keep &= ~marks[c]  # evaluated with today's touched already
                marks[rows] = False
            cs.append(c[keep])
            gs.append(g[keep])
        if not cs:
            return _NONE
        c = np.concatenate(cs) if len(cs) > 1 else cs[0]
        g = np.concatenate(gs) if len(gs) > 1 else gs[0]
        now = self.evaluate(st, c, g, d)
        flat = c * self.was.shape[1] + (g >> 3)  # 1-d positions: cheaper than 2-d indexing
        bit = np.left_shift(1, g & 7).astype(np.uint8)
        was = self.was.reshape(-1)
        became = now & ((was[flat] & bit) == 0)
        # a customer's pairs may share a byte: each bit cleared, then set, at its own turn
        np.bitwise_and.at(was, flat, ~bit)
        np.bitwise_or.at(was, flat[now], bit[now])
        return np.sort((g[became] << SHIFT) | c[became])

    def evaluate(self, st, c: np.ndarray, g: np.ndarray, d: int) -> np.ndarray:
        """Each pair's condition today, its rule's stages included, and its next wake-up
        scheduled (the numpy twin of `_day_edges`)."""
        inside = self.lut.reshape(-1)[(st.stage[c] + 1).astype(np.int64) * self.lut.shape[1] + g]
        now = inside.copy()
        nxt = np.full(c.size, np.inf)
        for (clock, op, _), (has, ks) in self.terms.items():
            sel = has[g]
            every = bool(sel.all())
            cc, gg = (c, g) if every else (c[sel], g[sel])
            k = ks[gg]
            hold = _COMPARE[op](self.values(st, clock, cc, d), k)
            t = self.anchors(st, clock, cc) + k
            day = np.floor(t) + 1.0 if _AFTER[op] else np.ceil(t)
            day[~(day > d)] = np.inf  # crossed already, or no anchor (NaN)
            if every:
                now &= hold
                np.minimum(nxt, day, out=nxt)
            else:
                now[sel] &= hold
                nxt[sel] = np.minimum(nxt[sel], day)
        wake = inside & (nxt <= self.limit[g])
        if wake.any():
            self.schedule(g[wake], c[wake], nxt[wake], d)
        return now


class Clocked:
    """Methods of the simulation (mixed into it through `wakeups.Waking`): the day's clock
    rules, all at once (`self.clock_rules`)."""

    def _clock_candidates(self, bucket: dict, d: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Each clock rule with work today: its candidates and its edges (who became
        eligible today), from today's touched customers, newcomers and wake-ups (everyone on
        the rule's first day); a rule outside its window is not here."""
        grp, st = self.clock_rules, self.state
        active = (grp.first <= d) & (d <= grp.last) & (d != grp.opens)
        rows = self.waking_rows[0]  # clock rules read nothing messages change
        keys = grp.day_edges(st, rows, grp.take(d), active, d)
        opening = (grp.opens == d) & (grp.first <= d) & (d <= grp.last)
        if opening.any():  # a rule's first day: everyone, in blocks of rows
            parts = [keys]
            for start in range(0, self.arrived, _BLOCK):
                block = np.arange(start, min(start + _BLOCK, self.arrived))
                parts.append(grp.day_edges(st, block, [], opening, d, opening=True))
            keys = np.sort(np.concatenate(parts))
            active = active | opening
        # `reentry once per P days`: whose re-entry opens today and who still holds it, as
        # keys beside the edges (one sort merges them)
        due = grp.reentries.pop(d, None)
        candidates = keys
        if due:
            due = np.concatenate(due) if len(due) > 1 else due[0]
            g = due >> SHIFT
            due, g = due[active[g]], g[active[g]]
            held = due[grp.holds(due & MASK, g)]
            candidates = np.sort(np.concatenate([keys, held]))
            if candidates.size > 1:  # an edge due for re-entry too: once
                first = np.empty(candidates.size, dtype=bool)
                first[0] = True
                np.not_equal(candidates[1:], candidates[:-1], out=first[1:])
                candidates = candidates[first]
        edges = dict(_by_rule(keys)) if self.trace is not None else {}  # read by traces only
        rules = grp.rule_ids
        return {rules[gi]: (ids, edges.get(gi, _NONE)) for gi, ids in _by_rule(candidates)}

    def _enter_clocked(self, r: int, ids: np.ndarray, pre_evaluated: bool, d: int) -> None:
        """`Rules._enter` and `_fire` for clock rule `r` with one arm and nobody held out, in
        an untraced run (their usual case): the same re-entry, last firing, re-entry's day,
        counter, firings and flow, in the same order, without the general path's branches
        (some hundred such rules fire a day, each for a few customers). Its candidates are
        always `pre_evaluated`."""
        once, period, arm, site = self._clocked_entry(r)
        if once:  # `Rules._reentry`
            ids = self.memory.last_fired[r].allows(ids, d, period)
        if not ids.size:
            return
        last = self.memory.last_fired.get(r)
        if last is not None:  # kept for `reentry once` rules
            last[ids] = d
        if once and period is not None:  # `Wakeups._schedule_reentry` of a clock rule
            grp = self.clock_rules
            grp.reopen(grp.col[r], ids, np.ceil(np.float64(d) + period), self.windows[r][1])
        self.recorder.arm_counters["fired"][arm] += ids.size
        self.recorder.rule_events.add(arm=arm, customer=ids, day=d)
        if site is not None:  # a flow of one send: `Rules._run_steps` queues it
            self._enqueue(site, ids)
        else:
            self._run_steps(self.program.roots[r][0], 0, ids, d)

    def _clocked_entry(self, r: int) -> tuple[bool, float | None, int, int | None]:
        """What `_enter_clocked` reads of rule `r`, found once: whether its re-entry is
        `once` and its period, its arm, and the send step of a flow that is one send."""
        found = self.clock_rules.entries.get(r)
        if found is None:
            re = self.rules[r].reentry
            node_id = self.program.roots[r][0]
            node = self.program.nodes[node_id]
            one_send = (
                len(node.steps) == 1
                and isinstance(node.steps[0], SendStep)
                and node.success is None
            )
            site = self.steps.ids[(node_id, 0)] if one_send else None
            found = (re.kind == "once", re.period_days, self.arms.of[(r, -1)], site)
            self.clock_rules.entries[r] = found
        return found


def _by_rule(keys: np.ndarray):
    """The sorted keys g << SHIFT | customer cut by rule: (g, its customers), g ascending."""
    if not keys.size:
        return
    g, c = keys >> SHIFT, keys & MASK
    cuts = (np.flatnonzero(g[1:] != g[:-1]) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, keys.size]
    for gi, start, end in zip(g[starts].tolist(), starts, ends, strict=True):
        yield gi, c[start:end]


_NONE = np.zeros(0, dtype=np.int64)
SHIFT = 32  # a pair's key: rule g << SHIFT | customer (a shift and a mask, not a division)
MASK = (1 << SHIFT) - 1
_BLOCK = 8192  # rows evaluated at once on a rule's first day (the pairs' memory stays small)
