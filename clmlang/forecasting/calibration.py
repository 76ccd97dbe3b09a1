"""Calibrating the market to a real purchase history (`clm calibrate`, `clmlang.calibrate`).

Fits four buying models to the calibration period, BG/NBD, Pareto/NBD, BG/NBD with rate
multipliers by purchase number (the clinic case's stages) and BG/NBD with reactivation, and
Gamma-Gamma to its repeat purchases; chooses the buying model out of sample, by a backtest
inside the calibration period (clmlang/forecasting/backtest.py), on the calibration data
only; and returns a `Market` whose buying and spend parameters come from the fits (weeks
converted to days) and whose existing base has the history's distribution of purchase counts
and recency. Pareto/NBD is fitted and reported as a reference but is not a candidate: its
dropout happens in continuous time, the simulator's after a purchase, as in the BG/NBD
family.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tomli_w

from ..compile.policy import Policy
from ..market.model import Market, MarketError, market_from_mapping
from .backtest import Backtest, backtest, choose
from .exposure import Exposure
from .fitting import Fit, fit_bgnbd, fit_gamma_gamma, fit_pareto_nbd
from .history import HistoryError, Summary, bad_amount, merge_days, summarise
from .identification import fit_lines
from .messages import load_messages
from .policy_log import measured, read_log
from .reactivation import fit_bgnbd_reactivation
from .response import Response
from .stage_multipliers import fit_bgnbd_stages

__all__ = ["MODELS", "Calibration", "calibrate", "fit_history"]

WEEK = 7.0


@dataclass(frozen=True)
class Calibration:
    market: Market
    bgnbd: Fit
    pareto_nbd: Fit
    stages: Fit
    reactivation: Fit
    gamma_gamma: Fit
    summary: Summary
    calibration_end: str
    model: str = "auto"  # the buying model asked for; "auto": by the backtest
    backtests: tuple[Backtest, ...] = ()  # each candidate's backtest, when one was run
    backtest_asked: bool = False
    choice: str = "bgnbd"  # the buying model the market carries
    reason: str = ""  # why it was chosen
    # with a message log (`messages=`): the fits are net of the policy in force
    responses: tuple[Response, ...] = ()
    exposure: Exposure | None = None
    induced_purchases: int = 0  # marked in the histories as brought by a message
    unsubscribes: dict[str, float] | None = None  # per channel, measured from the log

    @property
    def buying_fits(self) -> tuple[Fit, ...]:
        return (self.bgnbd, self.pareto_nbd, self.stages, self.reactivation)

    @property
    def fits(self) -> tuple[Fit, ...]:
        """Every fit: the buying models, then Gamma-Gamma."""
        return (*self.buying_fits, self.gamma_gamma)

    @property
    def best(self) -> str:
        """The buying model with the lowest AIC on the calibration data."""
        return min(self.buying_fits, key=lambda f: f.aic).model

    @property
    def chosen(self) -> Fit:
        """The buying model the market carries: the one asked for, or else the one the
        backtest chose among those the simulator runs (all but Pareto/NBD)."""
        return next(
            f for f in (self.bgnbd, self.stages, self.reactivation) if f.model == self.choice
        )

    def fit_dicts(self) -> list[dict[str, object]]:
        """Every fit as JSON can hold it, with its backtest when there is one."""
        scores = {b.model: b.to_dict() for b in self.backtests}
        out = []
        for fit in self.fits:
            entry = fit.to_dict()
            if fit.model in scores:
                entry["backtest"] = scores[fit.model]
            out.append(entry)
        return out

    def report(self) -> str:
        lines = [
            f"calibrated on {self.summary.x.size:,} customers up to {self.calibration_end}, "
            f"{int(self.summary.x.sum()):,} repeat transactions (times in weeks)"
        ]
        lines.extend(fit_lines(self.fits))
        if self.backtests:
            first = self.backtests[0]
            lines.append(
                f"backtest: fitted up to {' and up to '.join(first.cuts)}, each forecast to "
                f"{first.end} ({first.actual:,.0f} repeat transactions in all)"
            )
            for score in self.backtests:
                corr = "n/a" if score.correlation is None else f"{score.correlation:.3f}"
                gain = (
                    ""
                    if score.model == "bgnbd"
                    else f" ({score.gain:+,.1f} +- {score.gain_se:,.1f} against BG/NBD)"
                )
                lines.append(
                    f"  {score.model:<18} Poisson deviance {score.deviance:,.1f}{gain}, total "
                    f"{score.predicted:,.1f} ({score.total_error:+.1%}), RMSE {score.rmse:.4f},"
                    f" correlation {corr}"
                )
        elif self.backtest_asked:
            lines.append(
                "backtest: not possible, too few repeat purchases inside the calibration"
                " period to tell the models apart"
            )
        lines.extend(self._policy_lines())
        lines.append(f"buying model with the lowest AIC: {self.best}")
        lines.append(f"the market carries {self.reason}")
        lines.append("pareto_nbd is a reference, not a candidate: the simulator does not run it")
        return "\n".join(lines)

    def _policy_lines(self) -> list[str]:
        """What the message log did to the fits, and each rule's measured response."""
        e = self.exposure
        if e is None:
            return []
        lines = [
            f"net of the policy in force: fitted on the {e.untouched:,} customers no message"
            f" reached, weighted by 1 / P(no message) (effective {e.effective_customers():,.0f}"
            f" customers; control group {e.control_share:.1%}); {self.induced_purchases:,}"
            " purchases marked as brought by a message (chances to drop out, not evidence"
            " of the buying rate)"
        ]
        if e.inseparable:
            lines.append(
                f"  rules sent to every customer they reached, left in the history: "
                f"{', '.join(e.inseparable)}"
            )
        for r in self.responses:
            if r.measured:
                lines.append(
                    f"  response {r.rule} ({r.channel}): {r.converted_sent:.3f} of {r.sent:,}"
                    f" sent bought within the window, {r.converted_held:.3f} of {r.held:,} held"
                    f" out; lift {r.lift:+.4f} ({r.lift_se:.2g}); response {r.response:.4f}"
                    f" ({r.response_se:.2g}) {r.note}".rstrip()
                )
            else:
                lines.append(f"  response {r.rule} ({r.channel}): {r.note}")
        for channel, rate in (self.unsubscribes or {}).items():
            lines.append(f"  unsubscribes on {channel}: {rate:.4f} per delivered message")
        return lines

    def policy_summary(self) -> dict[str, object] | None:
        """What the message log did, as forecast.json holds it (None without a log)."""
        e = self.exposure
        if e is None:
            return None
        return {
            "method": "fitted on the customers no message reached, weighted by 1 / P(no"
            " message); in each history, the purchases a message brought count as chances to"
            " drop out but not as evidence of the buying rate",
            "untouched_customers": e.untouched,
            "reached_customers": e.reached,
            "effective_customers": e.effective_customers(),
            "control_share": e.control_share,
            "induced_purchases": self.induced_purchases,
            "inseparable_rules": list(e.inseparable),
            "responses": [r.to_dict() for r in self.responses],
            "unsubscribes": dict(self.unsubscribes or {}),
        }

    def to_toml(self) -> str:
        """The market as a scenario file (`[simulation]` and `[market]`), with the fit report
        as comments."""
        head = "".join(f"# {line}\n" for line in self.report().splitlines())
        data = self.market.model_dump(
            mode="json",
            include={"start_date", "population", "buying", "spend", "channels", "rules"},
        )
        for table in ("channels", "rules"):
            if not data[table]:
                del data[table]
        data["population"]["purchases"] = {
            str(k): v for k, v in data["population"]["purchases"].items()
        }
        data["buying"]["rate_after"] = {str(k): v for k, v in data["buying"]["rate_after"].items()}
        body = {"simulation": {"customers": int(self.summary.x.size)}, "market": data}
        return head + "\n" + tomli_w.dumps(body)


MODELS = ("auto", "bgnbd", "bgnbd_stages", "bgnbd_reactivation")


def calibrate(history: pd.DataFrame, calibration_end: str, *, model: str = "auto") -> Market:
    """The market calibrated to `history` (columns customer_id, date, amount) up to
    `calibration_end`; nothing after it is used. `fit_history` also returns the fits."""
    return fit_history(history, calibration_end, model=model).market


def fit_history(
    history: pd.DataFrame,
    calibration_end: str,
    *,
    model: str = "auto",
    backtest_models: bool = False,
    messages: pd.DataFrame | str | None = None,
    policy: Policy | None = None,
    rng: np.random.Generator | int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> Calibration:
    """Fit the buying and spend models to `history` up to `calibration_end` (nothing after it
    is used): the fits, the chosen model and the calibrated market. `model` is one of
    MODELS: "auto" chooses the buying model by a backtest inside the calibration period
    (fitted on its first half and on its first two thirds, each forecasting the rest;
    BG/NBD unless another model's Poisson deviance is clearly lower:
    clmlang/forecasting/backtest.py). `backtest_models`: run the backtest, and report it,
    also when `model` names the model.

    `messages`: the log of what the policy in force sent (a DataFrame or what
    `load_messages` reads), with `policy`, the policy that sent them. Then the fits are net
    of that policy (policy_log.py): the models are fitted on the customers no message
    reached, weighted by 1 / P(no message), with sandwich standard errors; each rule's and
    channel's response is measured against its holdout and written into the market; and
    each history's purchases that a message brought, the customers it woke and the messages
    left unanswered are read by the forecast's posterior, which BG/NBD's alone does: the
    buying model is then BG/NBD, and no backtest runs. `rng`: a Generator (or seed) for
    the marks. `progress(step, done, total)` is called as each step starts (reading, the
    fits, the backtest, the responses)."""
    if model not in MODELS:
        raise ValueError(f"unknown buying model {model!r}; choose one of {', '.join(MODELS)}")
    if messages is not None and model not in ("auto", "bgnbd"):
        raise ValueError(
            f"messages: the fits net of the policy in force use BG/NBD, whose posterior reads"
            f" the message log; {model} cannot be named with them"
        )
    if messages is not None and policy is None:
        raise ValueError(
            "messages: name the policy that sent them (`policy`): which rules are"
            " transactional, and each rule's offer"
        )
    frame = history.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame["customer_id"] = frame["customer_id"].astype(str)
    bad = bad_amount(frame["amount"])
    if bad is not None:  # a DataFrame not read by load_history
        row, what = bad
        raise HistoryError(f"index {frame.index[[row]].tolist()[0]!r}, column `amount`: {what}")
    steps = ["fitting the buying models", "measuring the responses"]
    if messages is None:
        steps[1] = "backtesting the buying models"

    def step(i: int) -> None:
        if progress is not None:
            progress(steps[i], i, len(steps))

    merged = merge_days(frame)
    end = pd.Timestamp(calibration_end)
    logged, weights, exposure = None, None, None
    if messages is not None:
        logged = read_log(merged, load_messages(messages), end, policy)
    summary = summarise(merged, calibration_end)
    if logged is not None:
        exposure = logged.exposure(summary.customers)
        weights = exposure.weights
    repeat = summary.x > 0  # (with none at all, the fits fall back to their defaults)
    if repeat.any() and not np.any(summary.monetary[repeat] > 0):
        raise HistoryError(
            f"no repeat purchase up to {pd.Timestamp(calibration_end).date()} has an amount above"
            " 0, so no spend model (Gamma-Gamma) can be fitted: calibrating needs what each"
            " purchase was worth (a market from elsewhere can be given to `clm forecast --market`)"
        )
    step(0)
    bg = fit_bgnbd(summary, weights=weights)
    # the reactivation fit is the longest; numpy lets go of the GIL, so it runs beside the rest
    with ThreadPoolExecutor(max_workers=1) as pool:
        waking = pool.submit(fit_bgnbd_reactivation, summary, bg, weights=weights)
        pareto = fit_pareto_nbd(summary, weights=weights)
        gg = fit_gamma_gamma(summary, weights=weights)
        stages = fit_bgnbd_stages(summary, bg, weights=weights)
        wake = waking.result()
    scores = None
    if logged is not None:  # only BG/NBD's posterior reads the log (induced, woken, silence)
        choice = "bgnbd"
        reason = "bgnbd: net of the policy in force, BG/NBD's posterior reads the message log"
    else:
        if model == "auto" or backtest_models:
            step(1)
            fitters: dict[str, Callable[[Summary, Fit], Fit] | None] = {
                "bgnbd": lambda s, _: fit_bgnbd(s, errors=False, start=bg)
            }
            # (a fit with no parameter beyond BG/NBD's is BG/NBD); only the backtest's
            # forecasts are used, not its fits' standard errors
            plain = {"r", "alpha", "a", "b"}
            # each from the whole period's fit, in its metric: the same maximum, in fewer steps
            if set(stages.params) - plain:
                fitters["bgnbd_stages"] = lambda s, bg: fit_bgnbd_stages(s, stages, errors=False)
            if set(wake.params) - plain:
                fitters["bgnbd_reactivation"] = lambda s, bg: fit_bgnbd_reactivation(
                    s, wake, errors=False
                )
            scores = backtest(merged, end, fitters)
        if model == "auto":
            choice, reason = choose(scores)
        else:
            choice, reason = model, f"{model}: named (--model)"
    chosen = next(f for f in (bg, stages, wake) if f.model == choice)
    counts = summary.x + 1
    recency = (summary.T - summary.t_x) * WEEK
    try:
        market = _market(chosen, gg, end, counts, recency)
    except MarketError as error:  # a fit that ran off to infinity: far too little data
        found = "; ".join(f"{key}: {message}" for key, message in error.problems)
        raise HistoryError(
            f"the fits up to {end.date()} are out of range ({found}): too few customers or "
            f"repeat purchases to calibrate on ({summary.x.size:,} customers, "
            f"{int(summary.x.sum()):,} repeat purchases)"
        ) from None
    responses: tuple[Response, ...] = ()
    induced, unsubscribes = 0, None
    if logged is not None:
        step(1)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        found = measured(logged, market, summary, bg.params, rng)
        market, summary, responses = found.market, found.summary, found.responses
        induced, unsubscribes = found.induced, found.unsubscribes
    return Calibration(
        market,
        bg,
        pareto,
        stages,
        wake,
        gg,
        summary,
        end.date().isoformat(),
        model,
        tuple(scores or ()),
        backtest_models or (model == "auto" and logged is None),
        choice,
        reason,
        responses,
        exposure,
        induced,
        unsubscribes,
    )


def _market(
    chosen: Fit, gg: Fit, end: pd.Timestamp, counts: np.ndarray, recency: np.ndarray
) -> Market:
    """The calibrated market: an existing base as the history has it, the fitted models."""
    values, freq = np.unique(counts, return_counts=True)
    return market_from_mapping(
        {
            "start_date": (end + pd.Timedelta(days=1)).date().isoformat(),
            "population": {
                "start": "existing",
                "purchases": {
                    int(v): float(f) / counts.size for v, f in zip(values, freq, strict=True)
                },
                "recency_days": float(max(recency.max(), 1.0)),
            },
            "buying": _buying(chosen),
            "spend": {
                "p": gg.params["p"],
                "q": max(gg.params["q"], 1.0001),
                "gamma": gg.params["gamma"],
            },
        },
        "<calibration>",
    )


def _buying(fit: Fit) -> dict[str, object]:
    """The market's buying parameters (days) from a fit of the BG/NBD family (weeks)."""
    p = fit.params
    out: dict[str, object] = {"r": p["r"], "alpha": p["alpha"] * WEEK, "a": p["a"], "b": p["b"]}
    out["owned"] = "renormalise"  # the fitted rate counts every purchase, durables' too
    if "omega" in p:
        out["reactivation"] = p["omega"] / WEEK
    multipliers = {int(k[1:]): v for k, v in p.items() if k[0] == "m" and k[1:].isdigit()}
    if multipliers:
        out["rate_after"] = multipliers
    return out
