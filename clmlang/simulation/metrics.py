"""From a run's raw records to the forecast: KPIs and tables as pandas DataFrames.

Definitions (also in docs/model.md, which says which customers each one counts). An
existing base's customers (`population.start = "existing"`, or a real base in `clm forecast`)
bring their history: purchases before day 0 count in purchase numbers, first and last
purchases and the active window; "new" customers are those whose first purchase is in the run.
- retention at D days: among customers whose first purchase was at least D days before the
  end of the run, the share who bought again at D days or more after it ("rolling retention");
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
from .acquisition import cac_payback, funnel
from .cohorts import cohorts as cohort_table
from .counts import DAILY_COUNTS, FLOAT_COUNTS, as_written
from .counts import count as _count
from .economics import Items, check_kpis, products_table
from .engine import Run
from .engine.prospects import FUNNEL_DAILY
from .engine.recorder import DAILY_FLOWS, DAILY_MARKETING
from .lifetime import churn_window, lifetime_kpis, still_buying
from .logs import event_logs, write_outputs
from .ordering import by_customer
from .rule_effects import rule_effects
from .silent_rules import silent_rules
from .stage_goals import GOAL_COLUMNS, goal_summary, goal_table, run_windows

__all__ = ["ACTIVE_DAYS", "Forecast", "forecast"]

ACTIVE_DAYS = 90
RETENTION_DAYS = (30, 90, 180, 365)


@dataclass
class Forecast:
    """What a simulation forecasts: a KPI summary and its tables."""

    summary: dict[str, float | int | str | None]
    daily: pd.DataFrame
    stages: pd.DataFrame
    transitions: pd.DataFrame
    cohorts: pd.DataFrame
    rules: pd.DataFrame  # one row per rule arm (`arm`: its A/B variant, `-` without)
    retention: pd.DataFrame  # age_days, retention: the rolling retention curve
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
    rec, policy = run.recorder, run.policy
    days = run.days
    purchases = rec.purchases.arrays()
    order = by_customer(purchases["customer"], purchases["time"])
    buy = {k: purchases[k][order] for k in ("customer", "time", "revenue", "profit", "stage")}
    cust, time, revenue = buy["customer"], buy["time"], buy["revenue"]
    # purchase number per customer (1 = first)
    starts = np.r_[True, cust[1:] != cust[:-1]] if cust.size else np.zeros(0, bool)
    group_start = (
        np.maximum.accumulate(np.where(starts, np.arange(cust.size), 0)) if cust.size else cust
    )
    # purchase number per customer, the history before day 0 included (1 = first ever)
    number = np.arange(cust.size) - group_start + 1 + run.state.prior_purchases[cust]

    daily = _daily(run, cust, time)
    history = _history(run, cust, time)
    items = Items.of(run)
    summary = _summary(run, cust, time, revenue, number, daily, buy["profit"], history, items)
    windows = run_windows(run, buy)
    summary.update(goal_summary(policy, windows))
    summary["warnings"] = silent_rules(run)  # type: ignore[assignment]
    stage_names = ["(none)"] + [s.name for s in policy.stages]
    stages = pd.DataFrame(rec.stage_counts, columns=stage_names)
    stages.insert(0, "day", np.arange(days))
    if not (stages["(none)"] > 0).any():
        stages = stages.drop(columns="(none)")
    transitions = pd.DataFrame(
        rec.transitions, index=pd.Index(stage_names, name="from"), columns=stage_names
    )
    cohorts = cohort_table(run, cust, time)
    rules = rule_effects(run, cust, time, revenue)
    retention = _retention_curve(run, history)
    trace = run.trace.lines if run.trace else None
    kept = event_logs(run) if logs else None
    segments = _segment_table(rec.segment_counts, [s.name for s in policy.segments])
    products = products_table(run, items)
    first, last, _ = history
    lifetime = still_buying(first, last, days, churn_window(run))
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
        goal_table(policy, windows),
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


def _history(run: Run, cust, time) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's first and last purchase (NaN, -inf: none) and purchase count, over the
    history before day 0 and the run's purchases (`cust`, `time` sorted by customer, time)."""
    st = run.state
    first = np.full(st.n, np.nan)
    if cust.size:
        starts = np.r_[True, cust[1:] != cust[:-1]]
        first[cust[starts]] = time[starts]
    last = np.full(st.n, -np.inf)
    if cust.size:  # sorted by customer, then time: each customer's last row is their last
        ends = np.r_[cust[1:] != cust[:-1], True]
        last[cust[ends]] = time[ends]
    count = np.bincount(cust, minlength=st.n)[: st.n] if cust.size else np.zeros(st.n, np.int64)
    existing = st.prior_purchases > 0
    if existing.any():
        first[existing] = st.first_t[existing]
        last[existing] = np.maximum(last[existing], st.prior_last_t[existing])
        count = count + st.prior_purchases
    return first, last, count


def _retention_curve(run: Run, history) -> pd.DataFrame:
    """Rolling retention by age: of customers whose first purchase (before the run or in it)
    is at least `age` days before the end, the share who bought again `age` days or more
    after it."""
    days = run.days
    first, last, _ = history
    buyers = np.isfinite(first)
    f, span = first[buyers], (last - first)[buyers]
    ages = np.unique(np.linspace(0, max(days - 1, 0), num=min(days, 60)).round().astype(int))
    shares = []
    for age in ages:
        eligible = f <= days - age
        n = eligible.sum()
        shares.append(float((eligible & (span >= max(age, 1e-9))).sum() / n) if n else np.nan)
    return pd.DataFrame({"age_days": ages, "retention": shares})


def _daily(run: Run, cust: np.ndarray, time: np.ndarray) -> pd.DataFrame:
    rec, policy, days = run.recorder, run.policy, run.days
    d = rec.daily
    start = dt.date.fromisoformat(run.market.start_date)
    frame = pd.DataFrame({"day": np.arange(days)})
    frame["date"] = pd.Timestamp(start) + pd.to_timedelta(np.arange(days), unit="D")
    frame["customers"] = d["customers"].astype(np.int64)
    frame["alive"] = d["alive"].astype(np.int64)
    before = np.flatnonzero(run.state.prior_purchases > 0)
    if before.size:  # an existing base: each customer's last purchase before day 0 counts too
        c = np.concatenate([before, cust])
        t = np.concatenate([run.state.prior_last_t[before], time])
        order = np.lexsort((t, c))
        frame["active"] = _active(c[order], t[order], days)
    else:
        frame["active"] = _active(cust, time, days)
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


def _active(cust: np.ndarray, time: np.ndarray, days: int) -> np.ndarray:
    """Customers with a purchase in the last ACTIVE_DAYS days, for every day (sweep line);
    purchases before day 0 (negative times) count for the days they reach into the run."""
    if not cust.size:
        return np.zeros(days, dtype=np.int64)
    day = np.floor(time).astype(np.int64)
    nxt = np.r_[day[1:], np.iinfo(np.int64).max]
    same = np.r_[cust[1:] == cust[:-1], False]
    end = np.where(same, np.minimum(day + ACTIVE_DAYS, nxt), day + ACTIVE_DAYS)
    keep = end > day
    delta = np.bincount(np.clip(day[keep], 0, days), minlength=days + 1)
    delta -= np.bincount(np.clip(end[keep], 0, days), minlength=days + 1)
    return np.cumsum(delta)[:days]


def _summary(
    run: Run, cust, time, revenue, number, daily: pd.DataFrame, buy_profit, history, items
) -> dict:
    rec, st, days = run.recorder, run.state, run.days
    arrived = int(daily["customers"].iloc[-1]) if days else 0
    # customers with a purchase by the end (history included), and those paying in the run
    first_time, last, count = history
    buyers = np.isfinite(first_time)
    payers = np.zeros(st.n, dtype=bool)
    payers[cust] = True
    out: dict[str, float | int | str | None] = {
        "program": run.policy.program,
        "currency": run.policy.currency,
        "days": days,
        "customers": arrived,
        "new_customers": int(daily["new_customers"].sum()),
        "acquired_customers": int(st.acquired[: rec.rows or arrived].sum()),
    }
    for horizon in RETENTION_DAYS:
        eligible = buyers & (first_time <= days - horizon)
        later = last - first_time >= horizon  # a purchase `horizon` days or more after the first
        n = int(eligible.sum())
        out[f"retention_{horizon}d"] = _r((later & eligible).sum() / n) if n else None
    repeaters = count >= 2
    n_buyers = int(buyers.sum())
    out["survival_rate"] = _r(repeaters.sum() / n_buyers) if n_buyers else None
    n_payers = int(payers.sum())
    churn = churn_window(run)
    old = buyers & (first_time <= days - churn)
    out["churn_rate"] = _r((old & (last < days - churn)).sum() / old.sum()) if old.any() else None
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
    out["avg_check"] = _r(revenue.mean()) if revenue.size else None
    out["avg_check_new"] = _r(revenue[number == 1].mean()) if (number == 1).any() else None
    loyal = number >= 3
    out["avg_check_loyal"] = _r(revenue[loyal].mean()) if loyal.any() else None
    out["arppu"] = _r(total_revenue / n_payers) if n_payers else None
    out["ltv"] = _r(gross / arrived) if arrived else None
    out["revenue_per_customer"] = _r(total_revenue / arrived) if arrived else None
    attributed = float(rec.arm_counters["profit"].sum())
    rule_cost = float(rec.arm_counters["cost"].sum())
    out["marketing_roi"] = _r((attributed - rule_cost) / rule_cost) if rule_cost else None
    out["messages"] = int(daily["messages"].sum())
    out["capped_messages"] = int(daily["capped"].sum())
    out["unsubscribes"] = int(daily["unsubscribes"].sum())
    out["cac_payback_days"] = cac_payback(run, daily, cust, time, buy_profit)
    if rec.funnel is not None:
        out.update(funnel(run, out))
    out.update({k: _r(v) for k, v in check_kpis(run, revenue, items).items()})
    out["churn_days"] = _r(churn)
    out.update(lifetime_kpis(first_time, last, days, churn))
    out.update(_programme_effect(run, cust, revenue, rec.rows or arrived))
    return out


def _programme_effect(run: Run, cust, revenue, arrived: int) -> dict:
    """The whole programme against the global control group: revenue per customer."""
    if run.policy.control_share <= 0 or not arrived:
        return {}
    per_customer = np.bincount(cust, weights=revenue, minlength=run.state.n)[:arrived]
    control = run.state.control[:arrived]
    diff, low, high = welch(per_customer[~control], per_customer[control])
    return {
        "control_customers": int(control.sum()),
        "programme_revenue_per_customer": _r(diff),
        "programme_revenue_per_customer_low": _r(low),
        "programme_revenue_per_customer_high": _r(high),
        "programme_incremental_revenue": _r(diff * int((~control).sum())),
    }
