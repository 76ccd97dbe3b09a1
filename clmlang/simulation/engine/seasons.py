"""Demand by calendar: the months and weeks of the year that scale purchase rates.

Each product's multiplier on a day is its own month's and week's multipliers times its line's
(1 where none is given). A customer's purchase rate on a day is their rate times the season
factor of their audience, S(d) = sum_p w_p m_p(d) / sum_p w_p (w: the audience's demand
weights), and what they buy on that day is chosen by w_p m_p(d). The rate is a time change:
the exponential gap g drawn at time t0 is spent in "seasonal time", the next purchase falls
at t with the integral of S from t0 to t equal to g (S is constant within a day, so the
integral is piecewise linear and inverted exactly). With no calendar in the market, none of
this runs (`Seasons.active` is false) and the draws are those of a flat year.
"""

from __future__ import annotations

import numpy as np

from ...compile.policy import Policy
from ...market.demand import calendar
from ...market.model import Market
from .catalogue import Catalogue

__all__ = ["Seasons", "later"]


class Seasons:
    def __init__(self, policy: Policy, market: Market, catalogue: Catalogue, days: int):
        lines = list(policy.lines)
        demands = [market.products.get(p.name) for p in policy.products]
        line_demands = [
            market.lines.get(p.line) if p.line in lines else None for p in policy.products
        ]
        self.active = catalogue.count > 0 and any(
            x is not None and x.seasonal for x in demands + line_demands
        )
        if not self.active:
            return
        months, weeks = calendar(market.start_date, days + 1)
        # the multiplier of each product by (month, week): one row per distinct pair
        pairs, self.period = np.unique(months * 100 + weeks, return_inverse=True)
        mult = np.ones((pairs.size, catalogue.count))
        for i, pair in enumerate(pairs.tolist()):
            month, week = divmod(pair, 100)
            for p, sources in enumerate(zip(demands, line_demands, strict=True)):
                for source in sources:
                    if source is not None:
                        mult[i, p] *= source.at(month, week)
        self.multiplier = mult  # (period, product)
        weights = catalogue.weights  # (audience row, product)
        seasonal = weights[None, :, :] * mult[:, None, :]  # (period, audience row, product)
        self.weights = seasonal
        totals = seasonal.sum(axis=2, keepdims=True)
        self.cumulative = np.cumsum(seasonal / np.where(totals > 0, totals, 1), axis=2)
        base = weights.sum(axis=1)  # (audience row,)
        factor = totals[:, :, 0] / np.where(base > 0, base, 1)[None, :]  # (period, row)
        self.factor = factor[self.period[:days]].T  # (audience row, day)
        self.integral = np.concatenate(
            [np.zeros((factor.shape[1], 1)), np.cumsum(self.factor, axis=1)], axis=1
        )
        self.days = days

    def _period(self, t: np.ndarray) -> np.ndarray:
        return self.period[np.clip(np.floor(t).astype(np.int64), 0, self.days)]

    def choose(self, audience: np.ndarray, u: np.ndarray, t: np.ndarray) -> np.ndarray:
        """A product per purchase at times `t`, by the audience's weights in their season."""
        rows = self.cumulative[self._period(t), audience.astype(np.int64) + 1]
        picked = (u[:, None] > rows).sum(axis=1)
        return np.minimum(picked, rows.shape[1] - 1).astype(np.int16)

    def weights_at(self, audience: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Each purchase's demand weights in its season: (purchases, products)."""
        return self.weights[self._period(t), audience.astype(np.int64) + 1]

    def later(self, audience: np.ndarray, t0: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """The time at which `gap` of seasonal time has passed since `t0`: the integral of
        the season factor from t0 equals gap. Past the horizon, time runs flat (nothing is
        simulated there)."""
        row = audience.astype(np.int64) + 1
        return later(self.factor, self.integral, row, t0, gap)


def later(
    factor: np.ndarray, integral: np.ndarray, row: np.ndarray, t0: np.ndarray, gap: np.ndarray
) -> np.ndarray:
    """The time t at which the integral from `t0` of a daily multiplier equals `gap`, for each
    wait: `factor` holds one multiplier per (calendar row, day), constant within a day, and
    `integral` its integral from day 0 to each day (one column more); `row` is each wait's
    calendar row. Piecewise linear, inverted exactly; days whose multiplier is 0 are passed
    over; past the horizon time runs flat. Infinite gaps, and starts past the horizon, stay
    t0 + gap."""
    days = factor.shape[1]
    start = np.clip(t0, 0.0, float(days))
    d0 = np.minimum(np.floor(start).astype(np.int64), days - 1)
    target = integral[row, d0] + (start - d0) * factor[row, d0] + gap
    out = t0 + gap
    ok = np.isfinite(target) & (t0 < days)
    r, x = row[ok], target[ok]
    end = integral[r, days]
    inside = x < end
    found = np.empty(x.size)
    # the day in which the integral reaches x: the last day whose start is at or below
    # it and whose factor is positive (days with no demand are passed over)
    e = np.zeros(x.size, dtype=np.int64)
    for ri in np.unique(r).tolist():
        on = r == ri
        e[on] = np.searchsorted(integral[ri], x[on], side="right") - 1
    e = np.minimum(e, days - 1)
    f = factor[r, e]
    found[inside] = e[inside] + (x[inside] - integral[r[inside], e[inside]]) / f[inside]
    found[~inside] = days + (x[~inside] - end[~inside])
    out[ok] = np.maximum(found, t0[ok])
    return out
