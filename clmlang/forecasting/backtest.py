"""Choosing the buying model out of sample: a backtest inside the calibration period.

AIC rewards the fit to the past; a forecast is used for the future, and on CDNOW calibrated
to 1997-06-30 the model with the lowest AIC (stage multipliers) forecast the next year worst
(docs/calibration.md). `backtest` fits each candidate on the calibration period up to each of
ORIGINS (its first half, its first two thirds) and forecasts the rest of it (no marketing, as
the models assume), on the calibration data only. Each customer's forecast repeat purchases
are scored against what they did by the Poisson deviance, a proper scoring rule for a
forecast mean of counts (it is what a Poisson regression minimises; unlike the squared error
it is not dominated by a few heavy buyers, and unlike the total it scores each customer),
summed over customers and origins.

`choose` is a one-standard-error rule: BG/NBD, the simplest candidate, is kept unless another
model's deviance is lower than BG/NBD's by more than the standard error of the difference
(customers as the independent units, each customer's differences summed over the origins);
among those that clear it, the lowest deviance wins. Measured on CDNOW (docs/calibration.md):
calibrated to 1997-09-30 reactivation clears it by about 4 standard errors and is chosen;
calibrated to 1997-06-30 nothing does (half a year of data does not show a comeback rate the
way a year ahead does), and BG/NBD is kept, where AIC took the stage multipliers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..market.model import Buying
from .fitting import Fit, fit_bgnbd
from .history import HistoryError, Summary, summarise
from .posterior import Latent
from .stage_purchases import expected_stage_purchases

__all__ = ["MIN_TRANSACTIONS", "ORIGINS", "Backtest", "backtest", "choose", "deviance"]

WEEK = 7.0
ORIGINS = (1 / 2, 2 / 3)  # each backtest is fitted on this share of the calibration period
MIN_TRANSACTIONS = 100  # repeat purchases a window must hold for its origin to count
BASELINE = "bgnbd"


@dataclass(frozen=True)
class Backtest:
    """One candidate's forecasts of the backtest windows against what happened, summed over
    the origins."""

    model: str
    cuts: tuple[str, ...]  # each origin's calibration end; its window runs from the day after
    end: str
    predicted: float  # repeat transactions over the windows, summed over customers and origins
    actual: float
    mse: float  # per customer and origin, squared error of repeat transactions
    deviance: float  # Poisson deviance, summed over customers and origins
    gain: float  # BG/NBD's deviance less this one's (positive: better than BG/NBD)
    gain_se: float  # its standard error (customers as the independent units)
    correlation: float | None

    @property
    def total_error(self) -> float:
        return self.predicted / self.actual - 1 if self.actual else float("nan")

    @property
    def rmse(self) -> float:
        return float(np.sqrt(self.mse))

    @property
    def clear(self) -> bool:
        """Better than BG/NBD by more than one standard error."""
        return self.gain > self.gain_se

    def to_dict(self) -> dict[str, object]:
        return {
            "cuts": list(self.cuts),
            "end": self.end,
            "predicted": self.predicted,
            "actual": self.actual,
            "total_error": self.total_error,
            "rmse": self.rmse,
            "correlation": self.correlation,
            "deviance": self.deviance,
            "deviance_gain": self.gain,
            "deviance_gain_se": self.gain_se,
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


def expected_purchases(summary: Summary, fit: Fit, weeks: float) -> np.ndarray:
    """Each customer's expected repeat purchases over the next `weeks`, no marketing: the
    closed form, BG/NBD's and reactivation's, or the stage multipliers' exact expectation
    (stage_purchases.py: the rate changes with each purchase)."""
    model = buying(fit)
    latent = Latent(summary, model)
    closed = latent.expected(summary, weeks)
    if closed is not None:
        return closed
    last = max(model.rate_after, default=1)
    multiplier = model.rate_multiplier(np.arange(last + 1))
    return expected_stage_purchases(
        summary, weeks, latent.p, multiplier, latent.p_alive, latent.e_T
    )


def deviance(actual: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Each customer's Poisson deviance, 2 (y log(y / mu) - (y - mu)): 0 for a perfect
    forecast, a proper score of a forecast mean of counts."""
    mu = np.maximum(mean, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(actual > 0, actual * np.log(np.maximum(actual, 1e-300) / mu), 0.0)
    return 2.0 * (log_term - (actual - mu))


@dataclass(frozen=True)
class _Origin:
    cut: pd.Timestamp
    customers: np.ndarray
    actual: np.ndarray
    predicted: dict[str, np.ndarray]


def _origin(
    history: pd.DataFrame,
    cut: pd.Timestamp,
    end: pd.Timestamp,
    fitters: dict[str, Callable[[Summary, Fit], Fit] | None],
) -> _Origin | None:
    """Fit every candidate up to `cut` and forecast each customer's purchases up to `end`;
    None when the window holds too few repeat purchases or BG/NBD cannot be had."""
    try:
        inner = summarise(history, cut)
    except HistoryError:
        return None
    window = history[(history["date"] > cut) & (history["date"] <= end)]
    counts = window.groupby("customer_id").size()
    truth = counts.reindex(inner.customers, fill_value=0).to_numpy(dtype=float)
    if truth.sum() < MIN_TRANSACTIONS or not np.any(inner.x > 0):
        return None
    weeks = (end - cut).days / WEEK
    baseline = fitters[BASELINE]  # only the forecasts are used: no standard errors
    try:
        bg = fit_bgnbd(inner, errors=False) if baseline is None else baseline(inner, None)
    except ValueError:  # (a FitError: no finite start) BG/NBD cannot be had here
        return None
    predicted = {}
    for name, fitter in fitters.items():
        try:
            fit = bg if fitter is None else fitter(inner, bg)
            predicted[name] = expected_purchases(inner, fit, weeks)
        except ValueError:  # a fit off to infinity: that model cannot be backtested
            continue
    if BASELINE not in predicted:
        return None
    return _Origin(cut, inner.customers, truth, predicted)


def backtest(
    history: pd.DataFrame,
    calibration_end: pd.Timestamp,
    fitters: dict[str, Callable[[Summary, Fit], Fit] | None],
) -> list[Backtest] | None:
    """Fit each candidate on the calibration period up to each of ORIGINS and score its
    forecast of the rest (`history`: merged by day; `fitters` must name BG/NBD: None for a
    fit from the default start, or a fitter, given None for the BG/NBD fit).
    None when no origin's window holds MIN_TRANSACTIONS repeat purchases or the fits cannot
    be had: too few data to tell the models apart. A model that could not be fitted at every
    usable origin is left out."""
    start = history["date"].min()
    days = (calibration_end - start).days
    if days < 21:
        return None
    cuts = sorted({start + pd.Timedelta(days=round(days * share)) for share in ORIGINS})
    cuts = [c for c in cuts if start <= c < calibration_end]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the fits let go of the GIL in numpy
        jobs = [pool.submit(_origin, history, c, calibration_end, fitters) for c in cuts]
        origins = [o for o in (job.result() for job in jobs) if o is not None]
    if not origins:
        return None
    models = [m for m in fitters if all(m in o.predicted for o in origins)]
    everyone = np.unique(np.concatenate([o.customers for o in origins]))
    scores: dict[str, np.ndarray] = {m: np.zeros(everyone.size) for m in models}
    for o in origins:  # each customer's deviance summed over the origins
        where = np.searchsorted(everyone, o.customers)
        for m in models:
            np.add.at(scores[m], where, deviance(o.actual, o.predicted[m]))
    actual = np.concatenate([o.actual for o in origins])
    out = []
    for m in models:
        guess = np.concatenate([o.predicted[m] for o in origins])
        diff = scores[BASELINE] - scores[m]
        se = float(diff.std(ddof=1) * np.sqrt(diff.size)) if diff.size > 1 else 0.0
        corr = float(np.corrcoef(guess, actual)[0, 1]) if actual.std() and guess.std() else None
        out.append(
            Backtest(
                model=m,
                cuts=tuple(o.cut.date().isoformat() for o in origins),
                end=calibration_end.date().isoformat(),
                predicted=float(guess.sum()),
                actual=float(actual.sum()),
                mse=float(((guess - actual) ** 2).mean()),
                deviance=float(scores[m].sum()),
                gain=float(diff.sum()),
                gain_se=se,
                correlation=corr,
            )
        )
    return out


def choose(scores: list[Backtest] | None) -> tuple[str, str]:
    """The model the backtest chooses and why: BG/NBD unless another model's deviance beats
    it by more than one standard error; among those that do, the lowest deviance."""
    if not scores:
        return BASELINE, (
            "bgnbd: too few repeat purchases inside the calibration period to backtest the"
            " models, so the simplest is kept"
        )
    clear = [s for s in scores if s.model != BASELINE and s.clear]
    if not clear:
        return BASELINE, (
            "bgnbd: no other model forecast the backtest clearly better (Poisson deviance"
            " lower by more than one standard error), so the simplest is kept"
        )
    best = min(clear, key=lambda s: s.deviance)
    return best.model, (
        f"{best.model}: its backtest's Poisson deviance is {best.gain:,.1f} below BG/NBD's"
        f" (standard error {best.gain_se:,.1f}), the lowest of the models that beat BG/NBD by"
        " more than one standard error"
    )
