"""Simulated worlds whose truth is known, for validating calibration and policy forecasts.

A world is a cohort of customers who make their first purchase on its first day and then
buy as BG/NBD says (r 0.25, alpha 4 weeks, a 0.8, b 2.4: CDNOW-like), for a calibration year
and a forecast year, under a marketing policy that may change at the calibration end. Its
purchase and message logs go into `clm calibrate` / `clm forecast` exactly as a real base's
would; the same world run again with the other policy from the calibration end (same seed)
gives the true effect of the change.

Used by tests/test_policy_forecast_truth.py (a few fast cases) and by
benchmarks/validate_policy_forecast.py (the table in docs/calibration.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import clmlang
from clmlang.forecasting.fitting import fit_bgnbd
from clmlang.forecasting.history import summarise
from clmlang.market.model import market_from_mapping

START = pd.Timestamp("2020-01-01")
CALIBRATION_DAYS = 364
FORECAST_DAYS = 364
TRUTH = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.4}  # alpha in weeks
RESPONSE = 0.15  # the true base response of an email

HEAD = (
    'program "{name}" currency USD\nchannel email cost 0.1\nstage customers when purchases >= 0\n'
)
# The policy in force: a win-back email, 20% off after 30 silent days, with a holdout.
WINBACK = (
    "rule winback {{\n  when days_since_purchase >= 30 days\n  reentry once per 60 days\n"
    '  holdout 20%\n{window}  send email "We miss you: 20% off" offer discount 20%\n}}\n'
)
# The new policy: an earlier, deeper win-back, after 21 silent days, 30% off.
EARLY = (
    "rule early_winback {{\n  when days_since_purchase >= 21 days\n  reentry once per 45 days\n"
    '  holdout 10%\n{window}  send email "Come back: 30% off" offer discount 30%\n}}\n'
)


def calibration_end() -> pd.Timestamp:
    return START + pd.Timedelta(days=CALIBRATION_DAYS - 1)


def until() -> pd.Timestamp:
    return START + pd.Timedelta(days=CALIBRATION_DAYS + FORECAST_DAYS - 1)


def _window(start: pd.Timestamp | None, stop: pd.Timestamp | None) -> str:
    parts = []
    if start is not None:
        parts.append(f"from {start.date().isoformat()}")
    if stop is not None:
        parts.append(f"until {stop.date().isoformat()}")
    return f"  active {' '.join(parts)}\n" if parts else ""


def spec(name: str, *rules: tuple[str, pd.Timestamp | None, pd.Timestamp | None]) -> str:
    """A spec with the named rules (WINBACK, EARLY), each active in its window."""
    body = "".join(template.format(window=_window(a, b)) for template, a, b in rules)
    return HEAD.format(name=name) + body


def market(response: float = RESPONSE):
    return market_from_mapping(
        {
            "start_date": START.date().isoformat(),
            "buying": {
                "r": TRUTH["r"],
                "alpha": TRUTH["alpha"] * 7.0,
                "a": TRUTH["a"],
                "b": TRUTH["b"],
            },
            "channels": {"email": {"response": response}},
        }
    )


@dataclass(frozen=True)
class World:
    purchases: pd.DataFrame
    messages: pd.DataFrame

    def after(self, end: pd.Timestamp) -> pd.DataFrame:
        return self.purchases[self.purchases["date"] > end]

    def repeat_transactions_after(self, end: pd.Timestamp) -> int:
        """Purchase days after `end` (same-day purchases are one, as forecasts count)."""
        later = self.after(end)
        return int(later.drop_duplicates(["customer_id", "date"]).shape[0])


def simulate(text: str, customers: int, seed: int) -> World:
    """The world under the spec `text`: its purchase and message logs."""
    days = CALIBRATION_DAYS + FORECAST_DAYS
    run = clmlang.simulate(
        clmlang.loads(text), market(), customers=customers, days=days, rng=seed, logs=True
    )
    logs = run.logs()
    purchases = logs["purchases"][["customer_id", "date", "amount"]].copy()
    purchases["customer_id"] = purchases["customer_id"].astype(str)
    return World(purchases, logs["messages"])


def relative(predicted: float, actual: float) -> float:
    return predicted / actual - 1.0 if actual else float("nan")


def within(value: float, truth: float, se: float, k: float = 2.0) -> bool:
    return bool(np.isfinite(se) and abs(value - truth) <= k * se)


def _iso(day: pd.Timestamp) -> str:
    return day.date().isoformat()


def _forecast_change(world: World, new: str, current: str, replications: int, seed: int) -> dict:
    """The forecast of NEW against CURRENT from the world's logs up to the calibration end:
    the repeat transactions row of the change block."""
    result = clmlang.forecast_history(
        world.purchases,
        _iso(calibration_end()),
        _iso(until()),
        clmlang.loads(new),
        current=clmlang.loads(current),
        messages=world.messages,
        model="bgnbd",
        replications=replications,
        seed=seed,
    )
    kpis = result.summary["change"]["kpis"]
    return next(row for row in kpis if row["kpi"] == "repeat_transactions")


def no_marketing(customers: int, seed: int, replications: int = 1) -> dict[str, float]:
    """Case 1: a world with no marketing. Each BG/NBD parameter against the truth (its z
    score) and the forecast of the year after the calibration end against what happened."""
    end = calibration_end()
    world = simulate(spec("None"), customers, seed)
    fit = clmlang.fit_history(world.purchases, _iso(end), model="bgnbd")
    result = clmlang.forecast_history(
        world.purchases, _iso(end), _iso(until()), market=fit, replications=replications
    )
    truth = world.repeat_transactions_after(end)
    out = {f"z_{k}": (fit.bgnbd.params[k] - v) / fit.bgnbd.std_errors[k] for k, v in TRUTH.items()}
    # the same fit with same-day purchases kept apart (the world's purchases are separate
    # transactions; calibration merges a customer's same-day rows, as the literature does)
    apart = world.purchases.assign(date=pd.to_datetime(world.purchases["date"]))
    apart = apart.sort_values(["customer_id", "date"], kind="stable")
    unmerged = fit_bgnbd(summarise(apart, end))
    out.update(
        {
            f"unmerged_z_{k}": (unmerged.params[k] - v) / unmerged.std_errors[k]
            for k, v in TRUTH.items()
        }
    )
    predicted = float(result.summary["holdout_repeat_transactions"])
    out.update(truth=truth, predicted=predicted, error=relative(predicted, truth))
    return out


def campaign_then_new_policy(customers: int, seed: int, replications: int = 4) -> dict[str, float]:
    """Case 2: an earlier win-back campaign with a holdout ran until three months before the
    calibration end; a new policy (an earlier, deeper win-back, a rule never run before)
    starts the day after it. Its effect is forecast from the response measured on the
    campaign (the channel's, the new offer's lift applied) against the truth: the same
    world without the new policy."""
    end = calibration_end()
    earlier = end - pd.Timedelta(days=91)
    before = spec("Campaign", (WINBACK, None, earlier))
    after = spec("New policy", (WINBACK, None, earlier), (EARLY, end + pd.Timedelta(days=1), None))
    world, without = simulate(after, customers, seed), simulate(before, customers, seed)
    truth_effect = world.repeat_transactions_after(end) - without.repeat_transactions_after(end)
    row = _forecast_change(world, after, before, replications, seed)
    return {
        "truth_effect": truth_effect,
        "predicted_effect": row["change"],
        "effect_error": relative(row["change"], truth_effect),
        "low": row["low"],
        "high": row["high"],
        "truth": world.repeat_transactions_after(end),
        "predicted": row["new"],
        "error": relative(row["new"], world.repeat_transactions_after(end)),
    }


def policy_in_force_then_new(customers: int, seed: int, replications: int = 4) -> dict[str, float]:
    """Case 3: a win-back with a holdout ran all along (the policy in force); from the day
    after the calibration end a new policy replaces it. The forecast of the new policy's
    total and of the change, against the truth: the world with the change and the same
    world with the policy kept."""
    end = calibration_end()
    current = spec("In force", (WINBACK, None, None))
    changed = spec("New policy", (WINBACK, None, end), (EARLY, end + pd.Timedelta(days=1), None))
    world, kept = simulate(changed, customers, seed), simulate(current, customers, seed)
    truth = world.repeat_transactions_after(end)
    truth_change = truth - kept.repeat_transactions_after(end)
    row = _forecast_change(world, changed, current, replications, seed)
    return {
        "truth": truth,
        "predicted": row["new"],
        "error": relative(row["new"], truth),
        "truth_kept": kept.repeat_transactions_after(end),
        "predicted_kept": row["current"],
        "kept_error": relative(row["current"], kept.repeat_transactions_after(end)),
        "truth_change": truth_change,
        "predicted_change": row["change"],
        "change_error": relative(row["change"], truth_change),
        "low": row["low"],
        "high": row["high"],
    }
