"""Forecasting from the real customer base (`clm forecast`).

Each real customer starts the simulation as they are at the calibration end: their purchases,
recency and spend from history, and their latent state drawn from the posterior given that
history under the market's buying model (BG/NBD: alive with P(alive | x, t_x, T), a purchase
rate from Gamma(r + x, alpha + T), a dropout probability from Beta(a, b + x); with
reactivation or stage multipliers, their posteriors), and a spend level from the Gamma-Gamma
posterior. Each replication draws again. Without a spec no policy is in force: the past's
marketing carries on, as the CLV models assume.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..market.model import MAX_DAYS, MAX_REPLICATIONS, Market
from ..simulation.engine import simulate_policy
from ..simulation.engine.memory import size_problem
from ..simulation.logs import write_outputs
from .accuracy import compare, uncalibrated_responses
from .base_blocks import WEEK, draw_base, history_products, stack_bases
from .change import KPIS, block_figures, change_block
from .currency import currency_check
from .distinct import distinct
from .fitting import Fit
from .forecast_logs import block_logs, joined_logs
from .goal_attainment import OUTCOMES, actual_windows, goal_block, has_goals, run_goal_counts
from .history import Summary
from .observation import uncompared
from .posterior import Latent, bgnbd_expected_holdout, expected_spend
from .spread import total_interval, weekly_frame

__all__ = ["HoldoutForecast", "forecast_base"]

STACKED_CUSTOMERS = 200_000  # replications run side by side up to this many customers


@dataclass
class HoldoutForecast:
    """A forecast of a real base: per customer, per week, the figures, and the fits."""

    # customer_id, calibration_purchases, predicted_transactions, predicted_revenue, p_alive
    # (and actual_transactions, actual_revenue when the history covers the forecast)
    customers: pd.DataFrame
    # week, week_start, predicted transactions and revenue with the replications' 95% range
    # (predicted_*_low/_high, with 2 replications or more), actual ones when known
    weekly: pd.DataFrame
    summary: dict[str, object]
    fits: list[dict[str, object]]  # every buying model and the spend model, as fitted
    event_logs: dict[str, pd.DataFrame] | None = None  # with logs: the first replication's

    def logs(self) -> dict[str, pd.DataFrame]:
        """The first replication's `purchases` and `messages` logs (forecast_logs.py); raises
        ValueError when the forecast was made without logs."""
        if self.event_logs is None:
            raise ValueError("this forecast has no logs: forecast with logs=True (clm --logs)")
        return self.event_logs

    def files(self) -> dict[str, str]:
        """`forecast.json`, `customers.csv`, `report.html` as text (the report is downstream:
        its import is deferred)."""
        from .report import output_files

        return output_files(self)

    def write(
        self, folder: str | Path, *, logs: bool = False, log_format: str = "auto"
    ) -> list[Path]:
        """Build every file in memory, then write each atomically into `folder`; `logs`:
        also purchases and messages (CSV, or Parquet past a size: `log_format`)."""
        return write_outputs(folder, self.files(), self.logs() if logs else None, log_format)

    def plot(self, name: str | None = None):
        """The report's interactive charts as Plotly figures: all of them by name (a dict),
        or the one `name` names (`weekly`, `cumulative`, `by_purchases`, `revenue`, `p_alive`,
        `effect`, as the forecast has them); raises KeyError for a chart it does not have."""
        from ..core.charts import pick
        from .charts import figures

        return pick(figures(self), name)

    def _repr_html_(self) -> str:
        """A compact summary for Jupyter: the verdict in words and the key figures."""
        from .verdict import compact_html

        return compact_html(self.summary)


def forecast_base(
    summary: Summary,
    policy: Policy,
    market: Market,
    *,
    calibration_end: str,
    until: str,
    replications: int = 20,
    seed: int = 0,
    actual: pd.DataFrame | None = None,
    fits: Sequence[Fit] = (),
    current: Policy | None = None,
    logs: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> HoldoutForecast:
    """Simulate the real base (`summary`, the history up to `calibration_end`) from the
    calibration end to `until`, `replications` times, in `market`.

    Each customer's latent state is drawn from its posterior under the market's buying model.
    Where that model has a closed form (BG/NBD, BG/NBD with reactivation), the per-customer
    forecast is the closed form plus the policy's simulated effect, measured against a run of
    the same customers with no marketing and the same random numbers (a control variate):
    without a policy it is the closed form itself, free of sampling noise. `fits` (the
    calibration's, when there is one) are reported alongside.

    `current`: the policy in force. Then it runs too, on the same draws, and the summary
    gains a `change` block: NEW - CURRENT per replication, with its interval.
    `progress("simulating", done, total)` is called after each simulated day of each run.
    `logs`: keep the first replication's purchases and messages (forecast_logs.py).
    """
    s = summary
    calibration_end = pd.Timestamp(calibration_end).date().isoformat()
    start = pd.Timestamp(calibration_end) + pd.Timedelta(days=1)
    days = (pd.Timestamp(until) - start).days + 1
    if days < 1:
        raise ValueError(
            f"the forecast end {until} is not after the calibration end {calibration_end}"
        )
    if days > MAX_DAYS:
        raise ValueError(
            f"the forecast end {until} is more than {MAX_DAYS:,} days after the calibration end"
        )
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ValueError(f"replications: from 1 to {MAX_REPLICATIONS:,}, not {replications}")
    n = s.x.size
    weeks = math.ceil(days / WEEK)
    latent = Latent(s, market.buying)
    closed = latent.expected(s, days / WEEK)
    market = market.model_copy(update={"start_date": start.date().isoformat()})
    policies = [policy] if current is None else [policy, current]
    pure = all(not p.rules and not p.products for p in policies) and not market.stages
    runs = [(p, market) for p in policies]
    # the same customers with no marketing: the control, and what ran when compared without
    # --current (the history's own behaviour)
    if not pure and (closed is not None or (actual is not None and current is None)):
        runs.append(_without_marketing(policy, market))
    control = len(runs) - 1  # the new policy itself when there is nothing to control for
    per_rep = np.zeros((len(runs), replications, len(KPIS)))
    sums = np.zeros((len(runs), 2, n))  # per run: transactions, revenue per customer
    weekly = np.zeros((len(runs), weeks))
    # per replication, week by week: purchase days and revenue (for the 95% ranges)
    spread = np.zeros((len(runs), 2, replications, weeks))
    totals: list[float] = []
    goals = np.zeros((replications, len(policy.stages), len(OUTCOMES)), dtype=np.int64)
    kept: list[dict[str, pd.DataFrame]] = []
    # Replications run side by side as blocks of one population, one calendar for many: each
    # block has the channels' whole capacity, the one thing that couples customers. Customers
    # acquired during the run would belong to no block: then each replication runs alone
    alone = market.acquisition.per_day > 0 or market.prospects.active
    stack = 1 if alone else max(1, min(replications, STACKED_CUSTOMERS // max(n, 1)))
    names = {"customers": "the history's customers", "days": "until"}
    problem = size_problem(
        policy, market, n * stack, days, copies=len(runs), names=names, logs=logs
    )
    if problem:
        raise ValueError(problem)
    blocks = math.ceil(replications / stack)
    total = blocks * len(runs) * days  # simulated days, for `progress`
    done = 0
    for first in range(0, replications, stack):
        reps = range(first, min(first + stack, replications))
        bases = [
            draw_base(s, market.spend, latent, np.random.default_rng([seed, rep, 0]))
            for rep in reps
        ]
        for i, (run_policy, run_market) in enumerate(runs):
            rng = np.random.default_rng([seed, first, 1])  # the same for both runs
            log = logs and first == 0 and i < len(policies)
            tick = None if progress is None else _ticker(progress, done, total)
            count, money, week, extra, run, week_money = _run(
                run_policy, run_market, bases, n, days, weeks, rng, log, tick
            )
            done += days
            if log:
                kept.append(block_logs(run, s.customers, len(bases)))
            per_rep[i, first : first + len(reps), 0] = count.sum(axis=1)
            per_rep[i, first : first + len(reps), 1] = money.sum(axis=1)
            per_rep[i, first : first + len(reps), 2:] = extra
            sums[i, 0] += count.sum(axis=0)
            sums[i, 1] += money.sum(axis=0)
            weekly[i] += week.sum(axis=0)
            spread[i, 0, first : first + len(reps)] = week
            spread[i, 1, first : first + len(reps)] = week_money
            if i == 0:
                totals.extend(count.sum(axis=1))
                if has_goals(policy):
                    goals[first : first + len(reps)] = run_goal_counts(run, n, len(bases))
    sums /= replications
    weekly /= replications
    simulated = sums[0, 0]
    transactions, revenue, week_series = simulated, sums[0, 1], weekly[0]
    week_revenue = spread[0, 1].mean(axis=0)
    if closed is not None:
        effect = sums[0] - sums[control]  # zero without marketing: the runs are one
        transactions = closed + effect[0]
        spend = expected_spend(s, market.spend)
        revenue = closed * spend + effect[1]
        horizon = np.minimum(np.arange(1, weeks + 1) * WEEK, days) / WEEK
        cumulative = latent.expected_totals(s, horizon, spend)  # purchases, revenue
        week_series = np.diff(np.r_[0.0, cumulative[:, 0]]) + weekly[0] - weekly[control]
        week_revenue += np.diff(np.r_[0.0, cumulative[:, 1]]) - spread[control, 1].mean(axis=0)
    customers = pd.DataFrame(
        {
            "customer_id": s.customers,
            "calibration_purchases": s.x.astype(np.int64),
            "predicted_transactions": transactions,
            "predicted_revenue": revenue,
            "p_alive": latent.p_alive,
        }
    )
    week_frame = weekly_frame(start, week_series, week_revenue, spread[0])
    bg = next((f.params for f in fits if f.model == "bgnbd"), None)
    figures: dict[str, object] = {
        "calibration_end": calibration_end,
        "until": pd.Timestamp(until).date().isoformat(),
        "customers": int(n),
        "replications": replications,
        "buying_model": latent.model,
        "policy": policy.program,
        "currency": policy.currency,
        "holdout_repeat_transactions": float(transactions.sum()),
        "simulated_repeat_transactions": float(simulated.sum()),
        "holdout_repeat_transactions_sd": float(np.std(totals, ddof=1))
        if replications > 1
        else None,
        "holdout_repeat_transactions_interval": total_interval(
            transactions.sum(), per_rep[0, :, 0]
        ),
        "holdout_revenue": float(revenue.sum()),
        "holdout_revenue_interval": total_interval(revenue.sum(), per_rep[0, :, 1]),
        "closed_form_transactions": float(closed.sum()) if closed is not None else None,
        "bgnbd_closed_form_transactions": float(
            bgnbd_expected_holdout(s, days / WEEK, bg["r"], bg["alpha"], bg["a"], bg["b"]).sum()
        )
        if bg is not None
        else None,
    }
    if s.holdings is not None:
        figures["history_products"] = history_products(s.holdings, policies)
    adjustment = np.zeros(len(KPIS))
    if closed is not None:  # each total as the forecast reports it; cancels in the change
        adjustment[0] = closed.sum() - sums[control, 0].sum()
        adjustment[1] = (closed * spend).sum() - sums[control, 1].sum()
        # profit: the revenue correction at the no-marketing control's own margin
        margin = per_rep[control, :, 2].sum() / max(per_rep[control, :, 1].sum(), 1e-300)
        adjustment[2] = adjustment[1] * margin
    if current is not None:
        figures["change"] = change_block(
            per_rep[0], per_rep[1], adjustment, (policy.program, current.program)
        )
    elif control > 0:  # the policy against the same customers with no marketing
        block = change_block(
            per_rep[0], per_rep[control], adjustment, (policy.program, "no marketing")
        )
        # the run without marketing has no products, so no costs: its profit is its revenue
        block["kpis"] = [r for r in block["kpis"] if r["kpi"] != "profit"]
        figures["policy_effect"] = block
    warning = currency_check(policy, s, float(transactions.sum()), float(revenue.sum()))
    if warning is not None:
        figures["currency_warning"] = warning
    if actual is not None and (gap := uncompared(actual, calibration_end, until)) is not None:
        figures["not_compared"] = gap
        actual = None
    if actual is not None:
        r = 1 if current is not None else control  # what ran: see accuracy.py
        ran = sums[r].copy()
        ran_weeks = np.stack([weekly[r], spread[r, 1].mean(axis=0)])
        if closed is not None:
            ran += np.stack([closed, closed * spend]) - sums[control]
            ran_weeks += np.diff(np.r_[[[0.0, 0.0]], cumulative], axis=0).T - np.stack(
                [weekly[control], spread[control, 1].mean(axis=0)]
            )
        if r:  # the spec's policy did not run: its weeks and those of what ran differ
            week_frame["compared_transactions"], week_frame["compared_revenue"] = ran_weeks
        what = (
            f"the policy in force, {current.program!r}"
            if current is not None
            else "no marketing beyond what the history holds"
        )
        compare(actual, start, pd.Timestamp(until), customers, week_frame, figures, ran, what)
    note = uncalibrated_responses(policy, market)
    if note is not None:
        figures["response_note"] = note
    if has_goals(policy):
        seen, reason = (
            actual_windows(policy, actual, s.customers, start, until)
            if actual is not None
            else (None, figures.get("not_compared"))
        )
        figures["stage_goals"] = goal_block(policy, goals, seen, reason)
    return HoldoutForecast(
        customers,
        week_frame,
        figures,
        [fit.to_dict() for fit in fits],
        joined_logs(kept) if logs else None,
    )


def _without_marketing(policy: Policy, market: Market) -> tuple[Policy, Market]:
    """The policy's stages alone, in a market without stage or product effects: the world
    the buying model's closed form describes (no segments either: they may name products)."""
    bare = policy.model_copy(
        update={
            "rules": (),
            "products": (),
            "lines": (),
            "segments": (),
            "caps": (),
            "control_share": 0.0,
        }
    )
    return bare, market.model_copy(update={"stages": {}, "products": {}})


def _ticker(progress: Callable[[str, int, int], None], done: int, total: int):
    """The engine's per-day callback for one run, as overall progress."""
    return lambda day: progress("simulating", done + day + 1, total)


def _run(policy, market, bases, n, days, weeks, rng, logs=False, progress=None) -> tuple:
    """One simulation of the bases side by side: per base, purchase days per customer
    (same-day purchases are one), revenue per customer and purchase days per week; the
    block figures, and the run itself."""
    k = len(bases)
    run = simulate_policy(
        policy,
        market,
        customers=n * k,
        days=days,
        rng=rng,
        base=stack_bases(bases),
        blocks=k,
        logs=logs,
        progress=progress,
    )
    log = run.recorder.purchases.arrays()
    mine = log["customer"] < n * k  # customers acquired during the run are not the base's
    who, day = log["customer"][mine], np.floor(log["time"][mine]).astype(np.int64)
    # the distinct (customer, day) pairs, as one sorted integer key (days < span)
    span = max(int(day.max(initial=0)) + 1, 1)
    key = distinct(who.astype(np.int64) * span + day)
    pairs = np.stack([key // span, key % span])
    block, week = pairs[0] // n, pairs[1] // 7
    paid_in = (who // n) * weeks + np.minimum(day // 7, weeks - 1)
    return (
        np.bincount(pairs[0], minlength=n * k).reshape(k, n).astype(float),
        np.bincount(who, weights=log["revenue"][mine], minlength=n * k).reshape(k, n),
        np.bincount(block * weeks + np.minimum(week, weeks - 1), minlength=k * weeks)
        .reshape(k, weeks)
        .astype(float),
        block_figures(run, policy, n, k),
        run,
        np.bincount(paid_in, weights=log["revenue"][mine], minlength=k * weeks).reshape(k, weeks),
    )
