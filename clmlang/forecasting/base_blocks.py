"""A real base in the simulator: each replication's draw of it, replications side by side as
blocks of one population, and which of the history's products the specs declare."""

from __future__ import annotations

from dataclasses import fields as fields_of

import numpy as np

from ..compile.policy import Policy
from ..market.model import Spend
from ..simulation.engine import Base, Holdings
from .history import Summary

__all__ = ["WEEK", "draw_base", "history_products", "stack_bases"]

WEEK = 7.0


def stack_bases(bases: list[Base]) -> Base:
    """Bases one after the other, as one population."""
    if len(bases) == 1:
        return bases[0]
    arrays = [f.name for f in fields_of(Base) if f.name not in ("holdings", "fired")]
    fields = {name: np.concatenate([getattr(b, name) for b in bases]) for name in arrays}
    if bases[0].fired is not None:
        fields["fired"] = {
            rule: np.concatenate([b.fired[rule] for b in bases]) for rule in bases[0].fired
        }
    held = [b.holdings for b in bases]
    if any(h is None for h in held):
        return Base(**fields)
    offsets = np.cumsum([0] + [b.size for b in bases[:-1]])
    holdings = Holdings(
        names=held[0].names,
        customer=np.concatenate([h.customer + o for h, o in zip(held, offsets, strict=True)]),
        product=np.concatenate([h.product for h in held]),
        last_day=np.concatenate([h.last_day for h in held]),
    )
    return Base(**fields, holdings=holdings)


def history_products(holdings: Holdings, policies: list[Policy]) -> dict[str, object]:
    """Which of the history's products the specs declare (owned from day 0) and which they
    do not (ignored), with how many purchases of them there were."""
    declared = {p.name for policy in policies for p in policy.products}
    known = np.array([name in declared for name in holdings.names] + [False])
    ignored = [name for name in holdings.names if name not in declared]
    return {
        "declared": [name for name in holdings.names if name in declared],
        "ignored": ignored,
        "ignored_purchases": int(np.count_nonzero(~known[holdings.product])),
    }


def draw_base(s: Summary, spend: Spend, latent, rng: np.random.Generator) -> Base:
    """One draw of the real base: each customer's history as it is, their latent state
    (`latent`, a posterior.Latent) and spend level from their posteriors, the products the
    history names."""
    alive, rate, dropout = latent.draw(rng)
    px = spend.p * s.x
    level = rng.gamma(spend.q + px, 1.0 / (spend.gamma + s.monetary * s.x))
    end_offset = 1.0  # day 0 is the day after the calibration end
    return Base(
        purchases=(s.x + 1).astype(np.int32),
        first_day=-(s.T * WEEK) - end_offset,
        last_day=-((s.T - s.t_x) * WEEK) - end_offset,
        spent=s.monetary * s.x,
        alive=alive,
        rate=rate / WEEK,  # per day
        dropout=dropout,
        spend=level,
        holdings=s.holdings,
        fired=s.fired,
    )
