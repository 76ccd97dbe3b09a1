"""Timers: what the calendar holds before the first day, and what a purchase sets.

At the start: every customer's first due purchase; for an existing base, their stages from
their history, the inactivity timers since their last purchase and the "N days after a
purchase (of X)" timers their last purchase (of their last product) set; and the triggers on dated
attributes (N days after or before the date, its anniversaries). After a purchase: the
inactivity timers it restarts and the "N days after a purchase" timers it starts.
"""

from __future__ import annotations

import numpy as np

from .clockrules import ClockRules


class Timers:
    """Methods of the simulation (mixed into it); see simulation.py for the state."""

    def _schedule_start(self) -> None:
        """Put on the calendar what is due from the start, before the first day runs."""
        st, cal = self.state, self.calendar
        # the clock rules, evaluated together, and their wake-up store (clockrules.py)
        self.clock_rules = ClockRules(self)
        self.unclocked = [r for r in range(len(self.rules)) if r not in self.clock_rules]
        ids = np.arange(self.n)
        due = np.floor(st.next_t)
        finite = np.isfinite(due)
        cal.add_spread(due[finite], "purchase", None, ids[finite])
        # existing base: stages and inactivity timers from their history
        if self.customers and (self.market.population.start == "existing" or self.from_base):
            base = np.arange(self.customers)
            self._assign_stages(base, 0, events=False)
            st.prior_stage[base] = st.stage[base]  # where their last purchase left them
            self._start_segments(base)
            last = np.floor(st.last_t[base])
            for r, rule in enumerate(self.rules):
                trig = rule.trigger
                if trig.kind == "inactivity":
                    cal.add_spread(last + round(trig.days), "timer", r, base)
                elif r in self.memory.anchor and trig.event.kind in ("purchase", "first_purchase"):
                    # "N days after a purchase (of X)": the last purchase before day 0 counts
                    hit = (st.purchases[base] > 0) & self._event_match(
                        trig.event, base, st.last_product[base]
                    )
                    if trig.event.kind == "first_purchase":
                        hit &= st.purchases[base] == 1
                    if self.catalogue.count and (trig.event.product or trig.event.line):
                        hit &= st.last_product[base] >= 0
                    chosen = base[hit]
                    self.memory.anchor[r][chosen] = last[hit]
                    cal.add_spread(last[hit] + round(trig.days), "timer", r, chosen)
        # a base's last firings (base.fired): the day each one's re-entry opens again
        for r in self.wakeups.thresholds:
            if r not in self.memory.last_fired:  # re-entry `always` or `edge`: no wait
                continue
            last = self.memory.last_fired[r]
            fired = np.flatnonzero(np.isfinite(last))
            if fired.size:
                self._schedule_reentry(r, fired, last[fired])
        # triggers on dated attributes
        for r, rule in enumerate(self.rules):
            trig = rule.trigger
            if trig.attribute is None:
                continue
            dates = st.attributes[trig.attribute]
            if trig.kind == "after":
                ok = np.isfinite(dates)  # a customer without the date has no timer
                cal.add_spread(np.floor(dates[ok] + trig.days), "timer", r, ids[ok])
            elif trig.kind == "anniversary" or (trig.kind == "before" and trig.anniversary):
                lead = trig.days or 0.0
                model = self.market.attributes.get(trig.attribute)
                ahead = model is not None and model.window is not None
                for year in range(0, int(self.days / 365.25) + 2):
                    day = self._anniversary(dates, year)
                    occurrence = day - lead
                    ok = np.isfinite(occurrence)
                    if ahead:  # a date drawn ahead of day 0: its first anniversary is a year on
                        ok &= day > dates
                    cal.add_spread(occurrence[ok], "timer", r, ids[ok])
            elif trig.kind == "before":
                ok = np.isfinite(dates)
                cal.add_spread(np.floor(dates[ok] - trig.days), "timer", r, ids[ok])
        # scheduled rules wake the calendar every day anyway (needs_daily)

    def _anniversary(self, dates: np.ndarray, year: int) -> np.ndarray:
        """The day number of each date's anniversary in year `year` of the run (0: the first);
        29 February falls on 28 February in other years. The dates are whole days within a
        few years of each other: each distinct day is converted once (a table), not each
        customer's (datetime64's calendar conversions cost about 0.1 s a million)."""
        out = np.full(dates.shape, np.nan)
        ok = np.isfinite(dates)
        offset = dates[ok].astype(np.int64)
        if not offset.size:
            return out
        lo, hi = int(offset.min()), int(offset.max())
        if hi - lo < offset.size:
            table = self._anniversary_days(np.arange(lo, hi + 1, dtype=np.int64), year)
            out[ok] = table[offset - lo]
        else:
            out[ok] = self._anniversary_days(offset, year)
        return out

    def _anniversary_days(self, offset: np.ndarray, year: int) -> np.ndarray:
        """`_anniversary` of whole day numbers."""
        start = np.datetime64(self.start_date.isoformat(), "D")
        when = start + offset
        months = when.astype("M8[M]")
        day_of_month = (when - months.astype("M8[D]")).astype(np.int64)
        month_of_year = (months - when.astype("M8[Y]").astype("M8[M]")).astype(np.int64)
        target = (
            np.datetime64(str(self.start_date.year + year), "Y").astype("M8[M]") + month_of_year
        )
        length = ((target + 1).astype("M8[D]") - target.astype("M8[D]")).astype(np.int64)
        day = target.astype("M8[D]") + np.minimum(day_of_month, length - 1)
        return (day - start).astype(np.int64)

    def _after_purchase_timers(
        self, ids: np.ndarray, product: np.ndarray, d: int, held: tuple[np.ndarray, ...]
    ) -> None:
        """Restart the inactivity timers of `ids`, who bought `product` on day `d`, and start
        the "N days after a purchase" timers their purchases match (`held`: what they owned
        before, for "after the first purchase of" a product or line)."""
        timed = self.__dict__.get("_purchase_timed")
        if timed is None:  # the rules a purchase starts a timer of (a spec may have hundreds)
            timed = self._purchase_timed = [
                (r, rule)
                for r, rule in enumerate(self.rules)
                if rule.trigger.kind == "inactivity"
                or (
                    r in self.memory.anchor
                    and rule.trigger.event.kind in ("purchase", "first_purchase")
                )
            ]
        for r, rule in timed:
            trig = rule.trigger
            # a timer due after the rule's `active` window closes would do nothing
            late = trig.days is not None and d + round(trig.days) > self.windows[r][1]
            if trig.kind == "inactivity":
                if not late:
                    self.calendar.add(d + round(trig.days), "timer", r, ids)
            elif r in self.memory.anchor and trig.event.kind in ("purchase", "first_purchase"):
                hit = self._event_match(trig.event, ids, product)
                if trig.event.kind == "first_purchase" and (trig.event.product or trig.event.line):
                    hit &= self._first_of(trig.event, product, list(held))
                elif trig.event.kind == "first_purchase":
                    hit &= self.state.purchases[ids] == 1
                chosen = ids[hit]
                self.memory.anchor[r][chosen] = d  # the latest anchor, even when `late`
                if not late:
                    self.calendar.add(d + round(trig.days), "timer", r, chosen)
