"""Scoring the buying models out of sample: a backtest inside the calibration period.

AIC rewards the fit to the past; a forecast is used for the future, and on CDNOW calibrated
to 1997-06-30 the model with the lowest AIC (stage multipliers) forecast the next year worst
(docs/calibration.md). `backtest` fits each candidate on the calibration period up to its
last BACKTEST_SHARE and forecasts that share (no marketing, as the models assume), on the
calibration data only; each customer's forecast repeat purchases are compared with what they
did. `choose` is a rule on those scores: the lowest absolute error of the total among the
models whose per-customer error is not significantly worse than BG/NBD's, AIC between those
the backtest cannot tell apart. Measured on CDNOW it chose worse than AIC (a window of two or
three months, cut inside the cohort's first months, does not show what a year ahead does;
docs/calibration.md), so the scores are reported and `--model auto` still goes by AIC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..market.model import Buying
from .fitting import Fit, fit_bgnbd
from .history import HistoryError, Summary, summarise
from .holdout import Latent

__all__ = ["BACKTEST_SHARE", "MIN_TRANSACTIONS", "Backtest", "backtest", "choose"]

WEEK = 7.0
BACKTEST_SHARE = 1 / 3  # the calibration period's last third is forecast
MIN_TRANSACTIONS = 100  # repeat purchases the window must hold for the backtest to decide
DRAWS = 200  # posterior draws for a model without a closed form (stage multipliers)


@dataclass(frozen=True)
class Backtest:
    """One candidate's forecast of the backtest window against what happened."""

    model: str
    cut: str  # the backtest's calibration end; the window runs from the day after
    end: str
    predicted: float  # repeat transactions over the window, summed over customers
    actual: float
    mse: float  # per customer, squared error of repeat transactions
    mse_se: float  # standard error of the difference from BG/NBD's per-customer MSE
    correlation: float | None

    @property
    def total_error(self) -> float:
        return self.predicted / self.actual - 1 if self.actual else float("nan")

    @property
    def rmse(self) -> float:
        return float(np.sqrt(self.mse))

    def to_dict(self) -> dict[str, object]:
        return {
            "cut": self.cut,
            "end": self.end,
            "predicted": self.predicted,
            "actual": self.actual,
            "total_error": self.total_error,
            "rmse": self.rmse,
            "correlation": self.correlation,
        }


def buying(fit: Fit) -> Buying:
    """A fit of the BG/NBD family (weeks) as the market's buying parameters (days)."""
    p = fit.params
    multipliers = {int(k[1:]): v for k, v in p.items() if k[0] == "m" and k[1:].isdigit()}
    return Buying(
        r=p["r"],
        alpha=p["alpha"] * WEEK,
        a=p["a"],
        b=p["b"],
        reactivation=p.get("omega", 0.0) / WEEK,
        rate_after=multipliers,
    )


def expected_purchases(
    summary: Summary, fit: Fit, weeks: float, rng: np.random.Generator
) -> np.ndarray:
    """Each customer's expected repeat purchases over the next `weeks`, no marketing: the
    closed form where there is one, else the mean of DRAWS runs of the model from the
    posterior (stage multipliers: the rate changes with each purchase)."""
    model = buying(fit)
    latent = Latent(summary, model)
    closed = latent.expected(summary, weeks)
    if closed is not None:
        return closed
    n = summary.x.size
    draws = [latent.draw(rng) for _ in range(DRAWS)]
    active = np.concatenate([d[0] for d in draws])
    rate = np.concatenate([d[1] for d in draws])  # per week
    dropout = np.concatenate([d[2] for d in draws])
    made = np.tile(summary.x + 1, DRAWS).astype(np.int64)
    clock, bought = np.zeros(made.size), np.zeros(made.size)
    who = np.flatnonzero(active)
    while who.size:  # the next purchase of those still buying, memoryless from now
        clock[who] += rng.exponential(1.0 / (rate[who] * model.rate_multiplier(made[who])))
        who = who[clock[who] <= weeks]
        bought[who] += 1
        made[who] += 1
        who = who[rng.random(who.size) >= dropout[who]]  # dropout after a purchase
    return bought.reshape(DRAWS, n).mean(axis=0)


def backtest(
    history: pd.DataFrame,
    calibration_end: pd.Timestamp,
    fitters: dict[str, Callable[[Summary, Fit], Fit] | None],
    *,
    seed: int = 0,
) -> list[Backtest] | None:
    """Fit each candidate on the calibration period up to its last BACKTEST_SHARE and score
    its forecast of that share (`history`: merged by day). None when the window holds fewer
    than MIN_TRANSACTIONS repeat purchases or the fits cannot be had: too few data to tell."""
    start = history["date"].min()
    days = (calibration_end - start).days
    cut = start + pd.Timedelta(days=round(days * (1 - BACKTEST_SHARE)))
    if days < 21 or cut >= calibration_end:
        return None
    try:
        inner = summarise(history, cut)
    except HistoryError:
        return None
    window = history[(history["date"] > cut) & (history["date"] <= calibration_end)]
    counts = window.groupby("customer_id").size()
    truth = counts.reindex(inner.customers, fill_value=0).to_numpy(dtype=float)
    if truth.sum() < MIN_TRANSACTIONS or not np.any(inner.x > 0):
        return None
    weeks = (calibration_end - cut).days / WEEK
    bg = fit_bgnbd(inner)
    predicted = {}
    for name, fitter in fitters.items():
        fit = bg if fitter is None else fitter(inner, bg)
        try:
            predicted[name] = expected_purchases(inner, fit, weeks, np.random.default_rng(seed))
        except ValueError:  # a fit off to infinity: that model cannot be backtested
            continue
    if "bgnbd" not in predicted:
        return None
    base = (predicted["bgnbd"] - truth) ** 2
    out = []
    for name, guess in predicted.items():
        squared = (guess - truth) ** 2
        diff = squared - base
        corr = float(np.corrcoef(guess, truth)[0, 1]) if truth.std() and guess.std() else None
        out.append(
            Backtest(
                model=name,
                cut=cut.date().isoformat(),
                end=calibration_end.date().isoformat(),
                predicted=float(guess.sum()),
                actual=float(truth.sum()),
                mse=float(squared.mean()),
                mse_se=float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0,
                correlation=corr,
            )
        )
    return out


def choose(scores: list[Backtest], aic: dict[str, float]) -> str:
    """The model the backtest chooses: the lowest absolute error of the total among those
    whose per-customer mean squared error is not worse than BG/NBD's beyond two standard
    errors; models within the total's Poisson noise of that one cannot be told apart out of
    sample, and among them the lowest AIC (on the whole calibration period) wins."""
    bg = next(s for s in scores if s.model == "bgnbd")
    fair = [s for s in scores if s.mse - bg.mse <= 2 * s.mse_se]
    least = min(abs(s.predicted - s.actual) for s in fair)
    noise = np.sqrt(bg.actual)  # the total's Poisson standard deviation
    close = [s for s in fair if abs(s.predicted - s.actual) <= least + noise]
    return min(close, key=lambda s: aic[s.model]).model
