"""`forecast_history`: a real customer base's forecast from its purchase history, in the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..compile.policy import Policy
from ..market.model import Market, MarketError

if TYPE_CHECKING:  # the forecast loads numpy, scipy and pandas: on first use
    import pandas as pd

    from ..forecasting.calibration import Calibration
    from ..forecasting.holdout import HoldoutForecast


def forecast_history(
    history: pd.DataFrame | str | Path,
    calibration_end: str,
    until: str,
    policy: Policy | str | Path | None = None,
    *,
    market: Market | Calibration | str | Path | None = None,
    model: str = "auto",
    replications: int = 20,
    seed: int = 0,
    backtest: bool = False,
    current: Policy | str | Path | None = None,
    messages: pd.DataFrame | str | Path | None = None,
    product_col: str | None = None,
    logs: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> HoldoutForecast:
    """Forecast the real customer base of `history` from `calibration_end` to `until`.

    `history`: a DataFrame with customer_id, date, amount, or what `load_history` reads;
    with a product column (`product_col`, or `product` when there is one), each customer
    owns from day 0 the products it names that the spec declares, the last as their last
    product (the others are ignored, listed in `summary["history_products"]`); without,
    what they own is drawn from the market's choice model.
    `policy`: the policy in force (a `Policy` or a spec's path), or None for none: the past's
    marketing carries on, as the CLV models assume. `market`: a `Market` or a scenario file
    whose buying and spend parameters are used as they are, a `Calibration`, or None to
    calibrate on the history up to `calibration_end` first (with `model`: auto, bgnbd,
    bgnbd_stages or bgnbd_reactivation; "auto" chooses by a backtest inside the calibration
    period, reported in `fits`; `backtest`: run it also when a model is named). `current`: the
    policy in force (a `Policy` or a spec's path); then both run from the same base with common
    random numbers and `summary["change"]` holds NEW - CURRENT per KPI with its 95% interval.
    Without it, the history is taken as a world whose calibrated behaviour already includes
    whatever marketing ran. `messages`: the log of what `current` sent up to the calibration
    end; then the calibration is net of it (`fit_history`) and measures each rule's response
    (needs `current`, and no `market`). `logs`: keep the first replication's purchases and
    messages, the customers named by the history's ids (`HoldoutForecast.logs()`,
    `write(folder, logs=True)`; with `current`, its first replication too, told apart by a
    `policy` column). `progress(step, done, total)`: called as the calibration's steps start
    and after each simulated day. When the history goes past
    the calibration end, the forecast is compared with what happened. Returns a
    `HoldoutForecast` (`customers`, `weekly`, `summary`, `fits`; `write(folder)` for
    forecast.json, customers.csv and report.html). Raises `HistoryError`, `MarketError`,
    `ClmError`, or `ValueError` for an unknown model or dates out of order.
    """
    from ..forecasting.calibration import MODELS, Calibration, fit_history
    from ..forecasting.history import load_history, summarise
    from ..forecasting.holdout import forecast_base
    from . import NO_POLICY, _scenario_file, load, loads

    if model not in MODELS:
        raise ValueError(f"unknown buying model {model!r}; one of {', '.join(MODELS)}")
    if market is not None and model != "auto":
        raise ValueError("a market is given: its buying model is used, so `model` cannot be named")
    given = policy is not None
    if policy is None:
        policy = loads(NO_POLICY, "<no policy>")
    elif not isinstance(policy, Policy):
        policy = load(policy)
    if current is not None and not isinstance(current, Policy):
        current = load(current)
    end = _date(calibration_end, "calibration_end")
    until = _date(until, "until")
    if messages is not None and (current is None or market is not None):
        raise ValueError(
            "messages: the log of the policy in force needs that policy (`current`) and a"
            " market fitted here (no `market`)"
        )
    frame = load_history(history, product_col=product_col)
    fits: tuple = ()
    source = "<market>"
    if market is None:
        market = fit_history(
            frame,
            end,
            model=model,
            backtest_models=backtest,
            messages=messages,
            policy=current,
            rng=seed,
            progress=progress,
        )
    if isinstance(market, Calibration):
        if market.calibration_end != end:
            raise ValueError(
                f"the calibration ends on {market.calibration_end}, not {end}: fit it again"
            )
        calibration = market
        fits, summary, market = market.fits, market.summary, market.market
    else:
        if not isinstance(market, Market):
            scenario = _scenario_file(market, "`market` is a scenario or market file", policy)
            scenario.check_names(scenario.market, policy)  # placed in the file that wrote it
            market = scenario.market
        summary = summarise(frame, end)
    problems = market.problems(policy) + (market.problems(current) if current else [])
    if problems:
        raise MarketError(source, problems)
    try:
        result = forecast_base(
            summary,
            policy,
            market,
            calibration_end=end,
            until=until,
            replications=replications,
            seed=seed,
            actual=frame,
            fits=fits,
            current=current,
            logs=logs,
            progress=progress,
        )
    except MarketError as error:  # the buying model has no posterior: say where it came from
        raise MarketError(source, error.problems) from None
    if not given:  # the placeholder has no name worth showing, nor a currency
        result.summary.update(policy=None, currency=None)
    if fits:
        from ..forecasting.identification import edge_notes

        result.fits = calibration.fit_dicts()
        result.summary["model_choice"] = calibration.reason
        # the buying model the forecast runs on, when the history leaves part of it unknown
        chosen = calibration.chosen
        notes = [f"{chosen.model}: {note}" for note in edge_notes(chosen)]
        if notes:
            result.summary["fit_notes"] = notes
        if calibration.exposure is not None:
            result.summary["net_of_policy"] = calibration.policy_summary()
    return result


def _date(text: str, name: str) -> str:
    import pandas as pd

    try:
        return pd.Timestamp(text).date().isoformat()
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name}: not a date: {text!r} ({error})") from None
