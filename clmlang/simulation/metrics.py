"""From a run's raw records to the forecast: KPIs and tables as pandas DataFrames.

Definitions (also in docs/model.md, which says which customers each one counts). An
existing base's customers (`population.start = "existing"`, or a real base in `clm forecast`)
bring their history: purchases before day 0 count in purchase numbers, first and last
purchases and the active window; "new" customers are those whose first purchase is in the run.
- retention at D days: the Kaplan-Meier share of customers still buying D days or more after
  their first purchase, a customer still buying at the end censored at their last purchase
  (lifetime.retention_at; None where fewer than 20 customers were observed that long);
- survival rate: the share of customers who made a repeat purchase;
- churn rate: among customers who first bought at least the churn window before the end,
  the share with no purchase in it (the window: `lifetime.churn_window`, 90 days by default);
- active customers on a day: customers with a purchase in the 90 days up to it;
- LTV: gross profit per customer over the horizon; ARPPU: revenue per customer paying in it;
- a rule's incremental effect: revenue per eligible customer within the rule's window (its
  success window, else 30 days, from the day after it fired) for treated customers minus
  holdout customers, with a 95% percentile-bootstrap interval (1,000 resamples, seeded from
  the run), none when the holdout is too small to tell (`too_small`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.statistics import welch
from .acquisition import cac_payback, funnel, referral_warnings
from .cohorts import add_counts, cohort_table
from .counts import DAILY_COUNTS, FLOAT_COUNTS, as_written
from .counts import count as _count
from .economics import add_sums, check_kpis_of, products_table
from .engine import Run
from .engine.prospects import FUNNEL_DAILY
from .engine.recorder import DAILY_FLOWS, DAILY_MARKETING
from .lifetime import churn_window, lifetime_of, retention_at, sorted_spans, still_buying_of
from .logs import event_logs, write_outputs
from .partials import ACTIVE_DAYS, RETENTION_DAYS, Part, measure, retention_ages, whole
from .partials import history as _history  # noqa: F401  (whatif.results reads it)
from .rule_effects import rule_effects
from .silent_rules import silent_rules
from .stage_goals import GOAL_COLUMNS, add_goal_counts, goal_summary, goal_table

__all__ = ["ACTIVE_DAYS", "RETENTION_DAYS", "Forecast", "forecast", "forecast_of"]


@dataclass
class Forecast:
    """What a simulation forecasts: a KPI summary and its tables."""

    summary: dict[str, float | int | str | None]
    daily: pd.DataFrame
    stages: pd.DataFrame
    transitions: pd.DataFrame
    cohorts: pd.DataFrame
    rules: pd.DataFrame  # one row per rule arm (`arm`: its A/B variant, `-` without)
    retention: pd.DataFrame  # age_days, retention, at_risk: Kaplan-Meier (lifetime.retention_at)
    trace: list[tuple[float, str, str]] | None = None
    event_logs: dict[str, pd.DataFrame] | None = None  # kept when simulated with logs=True
    # day, segment, customers: the members of each segment at the end of each day
    segments: pd.DataFrame | None = None
    # stage goals measured, per stage and month (clmlang.simulation.stage_goals)
    goals: pd.DataFrame | None = None
    # revenue, profit, costs and customers by product, line and role, monthly and in total
    products: pd.DataFrame | None = None
    # days, still_buying, low, high, at_risk: the Kaplan-Meier share of customers still
    # buying that many days after their first purchase (clmlang.simulation.lifetime)
    lifetime: pd.DataFrame | None = None

    def _repr_html_(self) -> str:
        """The compact summary a notebook shows: headline figures, customers per stage at
        the end, each rule's firings and effect (clmlang.simulation.overview)."""
        from .overview import overview_html

        return overview_html(self)

    def plot(self, name: str | None = None):
        """The chart `name` as a Plotly figure (`revenue`, `stages`, `retention`, `flows`,
        `rules`, `roles`: clmlang.simulation.charts), or with no name a dict of every chart
        this forecast has something for. KeyError for an unknown name or a chart with
        nothing to show (`rules` without a holdout, `roles` without product roles)."""
        from .charts import figure, figures

        return figures(self) if name is None else figure(self, name)

    def logs(self) -> dict[str, pd.DataFrame]:
        """The run's `purchases` and `messages` logs (see clmlang.simulation.logs); raises
        ValueError when the run was simulated without logs."""
        if self.event_logs is None:
            raise ValueError("this forecast has no logs: simulate with logs=True (clm --logs)")
        return self.event_logs

    def files(self) -> dict[str, str]:
        """Every output file's name and text (built in memory, then written at once)."""
        return {
            "summary.json": json.dumps(self.summary, indent=2, sort_keys=False) + "\n",
            "daily.csv": as_written(self.daily, FLOAT_COUNTS).to_csv(
                index=False, float_format="%.6g"
            ),
            "stages.csv": self.stages.to_csv(index=False),
            "segments.csv": (
                self.segments if self.segments is not None else _segment_table(np.zeros((0, 0)), [])
            ).to_csv(index=False),
            "transitions.csv": self.transitions.to_csv(float_format="%.6g"),
            "cohorts.csv": self.cohorts.to_csv(index=False, float_format="%.6g"),
            # the file keeps its number format for counts
            "rules.csv": as_written(self.rules, FLOAT_COUNTS).to_csv(
                index=False, float_format="%.6g"
            ),
            "goals.csv": (
                self.goals
                if self.goals is not None
                else pd.DataFrame({c: [] for c in GOAL_COLUMNS})
            ).to_csv(index=False, float_format="%.6g"),
            **(
                {"products.csv": self.products.to_csv(index=False, float_format="%.6g")}
                if self.products is not None
                else {}
            ),
        }

    def write(
        self, folder: str | Path, *, logs: bool = False, log_format: str = "auto"
    ) -> list[Path]:
        """Write every output file into `folder`, each atomically; returns the paths.

        `logs`: also the purchases and messages logs, as CSV or Parquet (`log_format`: auto,
        csv or parquet; auto is Parquet past `PARQUET_ROWS` rows when pyarrow is installed).
        """
        return write_outputs(folder, self.files(), self.logs() if logs else None, log_format)


def _r(x: float) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), 6)


def forecast(run: Run, *, logs: bool = False) -> Forecast:
    """The forecast of one run; `logs` keeps its purchases and messages logs as tables."""
    return forecast_of([measure(run)], event_logs(run) if logs else None)


def forecast_of(parts: list[Part], kept: dict[str, pd.DataFrame] | None = None) -> Forecast:
    """The forecast of a population from its blocks' metrics (`parts`, in block order:
    clmlang.simulation.partials), with the logs `kept` if any."""
    run = whole(parts)
    rec, policy, days = run.recorder, run.policy, run.days
    counts = {k: sum(p.counts[k] for p in parts) for k in parts[0].counts}
    revenue = np.concatenate([p.revenue for p in parts]) if len(parts) > 1 else parts[0].revenue
    daily = _daily(run, sum(p.active for p in parts[1:]) + parts[0].active)
    span = np.concatenate([p.span for p in parts])
    ended = np.concatenate([p.ended for p in parts])
    ordered = sorted_spans(span, ended)  # sorted once for the Kaplan-Meier figures
    summary = _summary(run, parts, counts, revenue, daily, span, ended, ordered)
    goals = add_goal_counts([p.goals for p in parts]) if len(parts) > 1 else parts[0].goals
    summary.update(goal_summary(policy, goals))
    summary["warnings"] = silent_rules(run) + referral_warnings(run)  # type: ignore[assignment]
    stage_names = ["(none)"] + [s.name for s in policy.stages]
    stages = pd.DataFrame(rec.stage_counts, columns=stage_names)
    stages.insert(0, "day", np.arange(days))
    if not (stages["(none)"] > 0).any():
        stages = stages.drop(columns="(none)")
    transitions = pd.DataFrame(
        rec.transitions, index=pd.Index(stage_names, name="from"), columns=stage_names
    )
    cohorts = cohort_table(add_counts([p.cohorts for p in parts]), days)
    population = parts[0].population  # the measure's (exact or counted firings: the same)
    rules = rule_effects(run, [p.rules for p in parts], [p.revenue for p in parts], population)
    ages = retention_ages(days)
    shares, at_risk = retention_at(
        span, ended, ages, ordered
    )  # Kaplan-Meier, as the KPIs (lifetime.py)
    retention = pd.DataFrame({"age_days": ages, "retention": shares, "at_risk": at_risk})
    trace = run.trace.lines if run.trace else None
    segments = _segment_table(rec.segment_counts, [s.name for s in policy.segments])
    products = products_table(run, add_sums([p.products for p in parts]))
    lifetime = still_buying_of(span, ended, days, churn_window(run), ordered)
    return Forecast(
        summary,
        daily,
        stages,
        transitions,
        cohorts,
        rules,
        retention,
        trace,
        kept,
        segments,
        goal_table(policy, goals),
        products,
        lifetime,
    )


def _segment_table(counts: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Members per segment and day, one row each (segments overlap, so no row sums)."""
    days, k = counts.shape if names else (counts.shape[0], 0)
    return pd.DataFrame(
        {
            "day": np.repeat(np.arange(days), k),
            "segment": np.tile(np.array(names, dtype=object), days),
            "customers": counts[:, :k].reshape(-1) if k else np.zeros(0, dtype=np.int64),
        }
    )


def _daily(run: Run, active: np.ndarray) -> pd.DataFrame:
    rec, policy, days = run.recorder, run.policy, run.days
    d = rec.daily
    start = dt.date.fromisoformat(run.market.start_date)
    frame = pd.DataFrame({"day": np.arange(days)})
    frame["date"] = pd.Timestamp(start) + pd.to_timedelta(np.arange(days), unit="D")
    frame["customers"] = d["customers"].astype(np.int64)
    frame["alive"] = d["alive"].astype(np.int64)
    frame["active"] = active
    for key in DAILY_FLOWS:
        frame[key] = _count(d[key]) if key in DAILY_COUNTS else d[key]
    gross = d["revenue"] - d["cost_of_goods"] - d["rewards"]
    frame["gross_profit"] = gross
    marketing = d["message_cost"] + d["acquisition_cost"]
    frame["marketing_cost"] = marketing
    frame["profit"] = gross - marketing
    for i, channel in enumerate(policy.channels):
        frame[f"messages_{channel.name}"] = _count(rec.channel_messages[:, i])
        frame[f"cost_{channel.name}"] = rec.channel_cost[:, i]
        if run.market.channel(channel.name).max_wait_days > 0:  # a channel with a queue
            frame[f"backlog_{channel.name}"] = rec.channel_backlog[:, i]
            frame[f"expired_{channel.name}"] = rec.channel_expired[:, i]
            frame[f"waited_days_{channel.name}"] = rec.channel_waited[:, i]
    for key in DAILY_MARKETING:
        frame[key] = _count(d[key]) if key in DAILY_COUNTS else d[key]
    for e, event in enumerate(policy.events):  # behavioural events, when the spec has any
        frame[f"events_{event.name}"] = rec.event_counts[:, e]
    if rec.funnel is not None:  # the market has prospects (engine/prospects.py)
        for key in FUNNEL_DAILY:
            frame[key] = rec.funnel[key].astype(np.int64)
    return frame


def _summary(run: Run, parts, counts, revenue, daily: pd.DataFrame, span, ended, ordered) -> dict:
    days = run.days
    arrived = int(daily["customers"].iloc[-1]) if days else 0
    out: dict[str, float | int | str | None] = {
        "program": run.policy.program,
        "currency": run.policy.currency,
        "days": days,
        "customers": arrived,
        "new_customers": int(daily["new_customers"].sum()),
        "acquired_customers": counts["acquired"],
    }
    share, _ = retention_at(span, ended, np.asarray(RETENTION_DAYS, dtype=float), ordered)
    for horizon, retained in zip(RETENTION_DAYS, share, strict=True):
        out[f"retention_{horizon}d"] = _r(retained)  # Kaplan-Meier (lifetime.retention_at)
    n_buyers = counts["buyers"]
    out["survival_rate"] = _r(counts["repeaters"] / n_buyers) if n_buyers else None
    n_payers = counts["payers"]
    churn = churn_window(run)
    old = counts["old"]
    out["churn_rate"] = _r(counts["churned"] / old) if old else None
    out["alive_share_at_end"] = _r(daily["alive"].iloc[-1] / arrived) if arrived else None
    total_revenue = float(daily["revenue"].sum())
    gross = float(daily["gross_profit"].sum())
    marketing = float(daily["marketing_cost"].sum())
    purchases = int(daily["purchases"].sum())
    out["purchases"] = purchases
    out["transactions_per_customer"] = _r(purchases / n_payers) if n_payers else None
    out["revenue"] = _r(total_revenue)
    out["gross_profit"] = _r(gross)
    out["marketing_cost"] = _r(marketing)
    out["message_cost"] = _r(float(daily["message_cost"].sum()))
    out["offer_cost"] = _r(float(daily["discounts"].sum()))
    out["acquisition_cost"] = _r(float(daily["acquisition_cost"].sum()))
    out["profit"] = _r(gross - marketing)
    number = np.concatenate([p.number for p in parts]) if len(parts) > 1 else parts[0].number
    out["avg_check"] = _r(revenue.mean()) if revenue.size else None
    new = number == 1
    out["avg_check_new"] = _r(revenue[new].mean()) if new.any() else None
    loyal = number >= 3
    out["avg_check_loyal"] = _r(revenue[loyal].mean()) if loyal.any() else None
    out["arppu"] = _r(total_revenue / n_payers) if n_payers else None
    out["ltv"] = _r(gross / arrived) if arrived else None
    out["revenue_per_customer"] = _r(total_revenue / arrived) if arrived else None
    attributed = float(run.recorder.arm_counters["profit"].sum())
    rule_cost = float(run.recorder.arm_counters["cost"].sum())
    out["marketing_roi"] = _r((attributed - rule_cost) / rule_cost) if rule_cost else None
    out["messages"] = int(daily["messages"].sum())
    out["capped_messages"] = int(daily["capped"].sum())
    out["unsubscribes"] = int(daily["unsubscribes"].sum())
    existing = [p.existing for p in parts if p.existing is not None]
    out["cac_payback_days"] = cac_payback(
        daily, counts["acquired"], sum(existing[1:], existing[0]) if existing else None
    )
    if run.recorder.funnel is not None:
        out.update(funnel(run, out))
    checks = {k: sum(p.checks[k] for p in parts) for k in ("checks", "add_ons", "with_add_on")}
    checks["paid"] = np.concatenate([p.checks["paid"] for p in parts])
    out.update({k: _r(v) for k, v in check_kpis_of(checks, revenue).items()})
    out["churn_days"] = _r(churn)
    out.update(lifetime_of(span, ended, ordered))
    out.update(_programme_effect(run, parts))
    return out


def _programme_effect(run: Run, parts) -> dict:
    """The whole programme against the global control group: revenue per customer."""
    if any(p.programme is None for p in parts):
        return {}
    per_customer = np.concatenate([p.programme[0] for p in parts])
    control = np.concatenate([p.programme[1] for p in parts])
    diff, low, high = welch(per_customer[~control], per_customer[control])
    return {
        "control_customers": int(control.sum()),
        "programme_revenue_per_customer": _r(diff),
        "programme_revenue_per_customer_low": _r(low),
        "programme_revenue_per_customer_high": _r(high),
        "programme_incremental_revenue": _r(diff * int((~control).sum())),
    }
