"""The buying model's view of each customer: BG/NBD and Gamma-Gamma closed forms.

Given a customer's history (x repeat purchases, the last at t_x, T since the first purchase)
and the market's buying parameters, the BG/NBD posterior (Fader, Hardie & Lee 2005) gives the
probability the customer is still alive and the expected purchases in the next t; the
Gamma-Gamma posterior (Fader, Hardie & Lee 2005, "RFM and CLV") the expected order value
given n orders averaging m. Times in any one unit (the market's are days). What conditions
call `p_alive`, `expected_purchases(D)` and `predicted_value(D)`; `clm forecast` uses the
same forms for a real base. Vectorised over customers: numpy arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PREDICTION_COLUMNS",
    "BuyingModel",
    "expected_purchases",
    "expected_spend",
    "is_prediction",
    "p_alive",
    "prediction",
]

# The state columns predictions are: `p_alive`, `expected_purchases:D`, `predicted_value:D`.
PREDICTION_COLUMNS = ("p_alive", "expected_purchases", "predicted_value")


def is_prediction(key: str) -> bool:
    """Whether a state column is one of the buying model's predictions."""
    return key.partition(":")[0] in PREDICTION_COLUMNS


@dataclass(frozen=True)
class BuyingModel:
    """BG/NBD (r, alpha per day, a, b) and Gamma-Gamma spend (p, q, gamma): the market's
    `[market.buying]` and `[market.spend]`, as plain numbers."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float

    def describe(self) -> str:
        """The parameters, as a note says them."""
        return (
            f"BG/NBD r={self.r:g}, alpha={self.alpha:g} days, a={self.a:g}, b={self.b:g};"
            f" Gamma-Gamma p={self.p:g}, q={self.q:g}, gamma={self.gamma:g}"
        )


def _odds_of_dropout(x, t_x, T, r, alpha, a, b) -> np.ndarray:
    """a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x) for x > 0, else 0: the odds
    that a customer with x repeat purchases dropped out after the last one."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        odds = (a / np.maximum(b + x - 1, 1e-300)) * (
            (alpha + np.asarray(T, dtype=float)) / (alpha + np.asarray(t_x, dtype=float))
        ) ** (r + x)
    return np.where(x > 0, odds, 0.0)


def p_alive(x, t_x, T, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD P(alive | x, t_x, T) (eq. 13): 1 with no repeat purchase."""
    return 1.0 / (1.0 + _odds_of_dropout(x, t_x, T, r, alpha, a, b))


def expected_purchases(t, x, t_x, T, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD E[Y(t) | x, t_x, T] (eq. 10): expected purchases in the next `t`."""
    if a == 1:  # a removable 0/0 at a = 1: the mean of a small step either side
        step = 1e-6
        return (
            expected_purchases(t, x, t_x, T, r, alpha, 1 + step, b)
            + expected_purchases(t, x, t_x, T, r, alpha, 1 - step, b)
        ) / 2
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    z = t / (alpha + T + t)
    # eq. 10's 1 - (1 - z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z), by Euler's transformation
    # 2F1(A, B; C; z) = (1 - z)^(C-A-B) 2F1(C-A, C-B; C; z): the same value, with the large
    # parameters gone from the top, so that a long history does not overflow (inf * 0)
    from scipy import special  # deferred: 0.13 s of every start-up, and only a forecast needs it

    hyp = special.hyp2f1(a - 1, a + b - 1 - r, a + b + x - 1, z)
    body = 1 - (1 - z) ** (a - 1) * hyp
    head = (a + b + x - 1) / (a - 1)
    value = head * body / (1 + _odds_of_dropout(x, t_x, T, r, alpha, a, b))
    return np.where(value > 0, value, 0.0)  # never below 0 by rounding (nor -0 at t = 0)


def expected_spend(n, m, p: float, q: float, gamma: float) -> np.ndarray:
    """Gamma-Gamma E[order value | n orders averaging m]: p (gamma + n m) / (p n + q - 1);
    with no order, the prior mean p gamma / (q - 1)."""
    n = np.asarray(n, dtype=float)
    m = np.where(n > 0, np.asarray(m, dtype=float), 0.0)
    return p * (gamma + n * m) / (p * n + q - 1)


def prediction(key: str, purchases, since_first, since_last, spent, model: BuyingModel):
    """The column `key` (`p_alive`, `expected_purchases:D`, `predicted_value:D`) for customers
    with `purchases` purchases in all, the first `since_first` and the last `since_last` days
    ago, `spent` in all. x = purchases - 1 repeat purchases, T = since_first, t_x = T -
    since_last. NaN for a customer with no purchase: the model starts at the first."""
    purchases = np.asarray(purchases, dtype=float)
    T = np.asarray(since_first, dtype=float)
    t_x = T - np.asarray(since_last, dtype=float)
    bought = purchases > 0
    x = np.where(bought, purchases - 1, 0.0)
    T, t_x = np.where(bought, T, 0.0), np.where(bought, t_x, 0.0)
    bgnbd = (model.r, model.alpha, model.a, model.b)
    kind, _, days = key.partition(":")
    if kind == "p_alive":
        value = p_alive(x, t_x, T, *bgnbd)
    else:
        value = expected_purchases(float(days), x, t_x, T, *bgnbd)
        if kind == "predicted_value":
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.asarray(spent, dtype=float) / np.where(bought, purchases, 1.0)
            value = value * expected_spend(purchases, mean, model.p, model.q, model.gamma)
    return np.where(bought, value, np.nan)
