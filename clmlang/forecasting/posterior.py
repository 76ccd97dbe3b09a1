"""Each real customer's latent state given their history, under the market's buying model.

BG/NBD: active with P(alive | x, t_x, T), a purchase rate from Gamma(r + x, alpha + T), a
dropout probability from Beta(a, b + x); with reactivation or stage multipliers, their
posteriors. With the policy in force's message log (policy_log.py) the history also says
which purchases a message brought (chances to drop out, not evidence of the rate), which
customers a message woke (a dropout before), and the messages left unanswered since the last
purchase (evidence of lapsing). Draws to start the simulator from, P(active), and, where the
model has one, the closed form of the expected purchases with no marketing.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..core import predictions
from ..market.model import Buying, MarketError, Spend
from .base_blocks import WEEK
from .history import Summary
from .reactivation_posterior import posterior
from .stage_multipliers import BREAKS, exposures

__all__ = ["Latent", "bgnbd_expected_holdout", "buying_model", "expected_spend"]


def bgnbd_expected_holdout(summary: Summary, weeks: float, r, alpha, a, b) -> np.ndarray:
    """BG/NBD E[Y(t) | x, t_x, T]: expected purchases in the next `weeks` (eq. 10). The
    purchases a message brought (`summary.induced`) count as chances to drop out (b + x) but
    not as evidence of the rate (r + x_rate)."""
    x, xr, t_x, T = summary.x, summary.x_rate, summary.t_x, summary.T
    v = summary.lapses  # dropouts that happened before a message woke the customer
    z = weeks / (alpha + T + weeks)
    hyp = special.hyp2f1(r + xr, b + x - v, a + b + x - 1, z)
    head = (a + b + x - 1) / (a + v - 1)
    body = 1 - ((alpha + T) / (alpha + T + weeks)) ** (r + xr) * hyp
    with np.errstate(divide="ignore", over="ignore"):
        denominator = 1 + np.where(
            x > 0,
            ((a + v) / np.maximum(b + x - v - 1, 1e-300))
            * ((alpha + T) / (alpha + t_x)) ** (r + xr)
            * _lapse_odds(summary),
            0,
        )
    return head * body / denominator


def _lapse_odds(summary: Summary) -> np.ndarray | float:
    """The factor on the odds of having lapsed from the messages left unanswered since the
    last purchase (1 without a message log)."""
    return 1.0 if summary.silence is None else np.exp(-summary.silence)


def buying_model(buying: Buying) -> str:
    """The name of the buying model a market's buying parameters describe."""
    if buying.reactivation > 0 and buying.rate_after:
        raise MarketError(
            "<market>",
            [
                (
                    "market.buying.reactivation",
                    "reactivation and rate_after together have no posterior to start a real"
                    " base from; calibration fits one or the other",
                )
            ],
        )
    if buying.reactivation > 0:
        return "bgnbd_reactivation"
    return "bgnbd_stages" if buying.rate_after else "bgnbd"


class Latent:
    """Each customer's latent state given their history, under the market's buying model
    (its parameters are per day; the posteriors work in weeks): draws to start the simulator
    from, P(active), and, where it has a closed form, E[purchases in the next weeks] with no
    marketing."""

    def __init__(self, s: Summary, buying: Buying):
        self.model = buying_model(buying)
        self.p = {"r": buying.r, "alpha": buying.alpha / WEEK, "a": buying.a, "b": buying.b}
        if self.model == "bgnbd_reactivation":
            self.posterior = posterior(s, {**self.p, "omega": buying.reactivation * WEEK})
            self.p_alive = self.posterior.p_active
            return
        self.e_tx, self.e_T = s.t_x, s.T
        if self.model == "bgnbd_stages":  # exposures weighted by the stage multipliers
            before, _, after = exposures(s)
            m = buying.rate_multiplier(np.array([1, *BREAKS]))
            self.e_tx = before @ m
            self.e_T = self.e_tx + after @ m
        r, alpha, a, b = (self.p[k] for k in ("r", "alpha", "a", "b"))
        x, self.x_rate = s.x, s.x_rate  # (induced purchases: chances to drop out only)
        self.lapses = s.lapses  # (woken customers: a dropout before each)
        with np.errstate(divide="ignore", over="ignore"):
            ratio = (
                ((a + self.lapses) / np.maximum(b + x - self.lapses - 1, 1e-300))
                * ((alpha + self.e_T) / (alpha + self.e_tx)) ** (r + self.x_rate)
                * _lapse_odds(s)
            )
        self.p_alive = np.where(x > 0, 1.0 / (1.0 + ratio), 1.0)
        self.x = x

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(active, rate per week, dropout) for every customer."""
        if self.model == "bgnbd_reactivation":
            return self.posterior.draw(rng)
        r, alpha, a, b = (self.p[k] for k in ("r", "alpha", "a", "b"))
        alive = rng.random(self.x.size) < self.p_alive
        rate = rng.gamma(r + self.x_rate, 1.0 / (alpha + self.e_T))
        return alive, rate, rng.beta(a + self.lapses, b + self.x - self.lapses)

    def expected(self, summary: Summary, weeks: float) -> np.ndarray | None:
        if self.model == "bgnbd_reactivation":
            return self.posterior.expected_purchases(weeks)
        if self.model == "bgnbd":
            r, alpha, a, b = (self.p[k] for k in ("r", "alpha", "a", "b"))
            return bgnbd_expected_holdout(summary, weeks, r, alpha, a, b)
        return None  # the multipliers change with each purchase: simulated only

    def expected_totals(
        self, summary: Summary, horizons: np.ndarray, spend: np.ndarray
    ) -> np.ndarray | None:
        """For each horizon (weeks), the customers' `expected` purchases summed, and summed
        times each customer's `spend`: horizons x 2."""
        if self.model == "bgnbd_reactivation":
            weights = np.column_stack([np.ones(spend.size), spend])
            return self.posterior.expected_totals(horizons, weights)
        if self.model == "bgnbd":
            return np.array(
                [(e.sum(), e @ spend) for e in (self.expected(summary, w) for w in horizons)]
            )
        return None


def expected_spend(s: Summary, spend: Spend) -> np.ndarray:
    """Gamma-Gamma E[order value | history]: p (gamma + x m) / (p x + q - 1), over the repeat
    purchases (the first is left out, as in Fader, Hardie & Lee)."""
    return predictions.expected_spend(s.x, s.monetary, spend.p, spend.q, spend.gamma)
