"""Calibrating the market to a real purchase history (`clm calibrate`, `clmlang.calibrate`).

Fits BG/NBD and Pareto/NBD to the calibration period, and Gamma-Gamma to its repeat
purchases; compares the buying models by AIC on the calibration data only; and returns a
`Market` whose buying and spend parameters come from the fits (weeks converted to days) and
whose existing base has the history's distribution of purchase counts and recency. The
simulator's dropout is BG/NBD's (after a purchase), so the market carries the BG/NBD fit even
when Pareto/NBD fits slightly better; both are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import tomli_w

from .fitting import Fit, fit_bgnbd, fit_gamma_gamma, fit_pareto_nbd
from .history import Summary, merge_days, summarise
from .market import Market, market_from_mapping

__all__ = ["Calibration", "calibrate", "fit_history"]

WEEK = 7.0


@dataclass(frozen=True)
class Calibration:
    market: Market
    bgnbd: Fit
    pareto_nbd: Fit
    gamma_gamma: Fit
    summary: Summary
    calibration_end: str

    @property
    def best(self) -> str:
        """The buying model with the lower AIC on the calibration data."""
        return min((self.bgnbd, self.pareto_nbd), key=lambda f: f.aic).model

    def report(self) -> str:
        lines = [
            f"calibrated on {self.summary.x.size:,} customers up to {self.calibration_end}, "
            f"{int(self.summary.x.sum()):,} repeat transactions (times in weeks)"
        ]
        for fit in (self.bgnbd, self.pareto_nbd, self.gamma_gamma):
            params = ", ".join(
                f"{k} {v:.4g} ({fit.std_errors[k]:.2g})" for k, v in fit.params.items()
            )
            lines.append(
                f"{fit.model:<12} {params}; log-likelihood {fit.log_likelihood:,.2f}, "
                f"AIC {fit.aic:,.2f}"
            )
        lines.append(f"buying model with the lower AIC: {self.best}")
        return "\n".join(lines)

    def to_toml(self) -> str:
        """The market as a scenario file (`[simulation]` and `[market]`), with the fit report
        as comments."""
        head = "".join(f"# {line}\n" for line in self.report().splitlines())
        data = self.market.model_dump(
            mode="json", include={"start_date", "population", "buying", "spend"}
        )
        data["population"]["purchases"] = {
            str(k): v for k, v in data["population"]["purchases"].items()
        }
        body = {"simulation": {"customers": int(self.summary.x.size)}, "market": data}
        return head + "\n" + tomli_w.dumps(body)


def calibrate(history: pd.DataFrame, calibration_end: str) -> Market:
    """The market calibrated to `history` (columns customer_id, date, amount) up to
    `calibration_end`; nothing after it is used. `fit_history` also returns the fits."""
    return fit_history(history, calibration_end).market


def fit_history(history: pd.DataFrame, calibration_end: str) -> Calibration:
    """Fit the buying and spend models to `history` up to `calibration_end` (nothing after it
    is used): the fits, the chosen model and the calibrated market."""
    frame = history.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame["customer_id"] = frame["customer_id"].astype(str)
    summary = summarise(merge_days(frame), calibration_end)
    bg, pareto, gg = fit_bgnbd(summary), fit_pareto_nbd(summary), fit_gamma_gamma(summary)
    counts = summary.x + 1
    values, freq = np.unique(counts, return_counts=True)
    end = pd.Timestamp(calibration_end)
    recency = (summary.T - summary.t_x) * WEEK
    market = market_from_mapping(
        {
            "start_date": (end + pd.Timedelta(days=1)).date().isoformat(),
            "population": {
                "start": "existing",
                "purchases": {
                    int(v): float(f) / counts.size for v, f in zip(values, freq, strict=True)
                },
                "recency_days": float(max(recency.max(), 1.0)),
            },
            "buying": {
                "r": bg.params["r"],
                "alpha": bg.params["alpha"] * WEEK,
                "a": bg.params["a"],
                "b": bg.params["b"],
            },
            "spend": {
                "p": gg.params["p"],
                "q": max(gg.params["q"], 1.0001),
                "gamma": gg.params["gamma"],
            },
        },
        "<calibration>",
    )
    return Calibration(market, bg, pareto, gg, summary, end.date().isoformat())
