"""The what-if report: one self-contained HTML file that works offline.

Charts are drawn with matplotlib as inline SVG (no CDN, no external files); a few lines of
inline script check that every chart is in the page and mark the document
(`data-charts-rendered`), which the browser test reads. The sections: a plain-language
verdict per variant, the KPI table with intervals, retention curves with confidence bands,
cumulative revenue and profit, customers per stage over time, each rule's contribution and
ROI, and the sweep curves.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..core.page import clean, figure, render_page, svg
from ..core.statistics import interval
from .experiment import Comparison

__all__ = ["goal_headline", "output_files", "render_report", "verdicts"]

HEADLINE = [
    ("revenue", "revenue"),
    ("gross_profit", "gross profit"),
    ("profit", "profit after marketing"),
    ("marketing_cost", "marketing cost"),
    ("survival_rate", "survival rate"),
    ("retention_90d", "retention at 90 days"),
    ("churn_rate", "churn rate"),
    ("ltv", "LTV"),
    ("messages", "messages"),
    ("unsubscribes", "unsubscribes"),
]
_LOWER_IS_BETTER = {"marketing_cost", "churn_rate", "unsubscribes"}


def goal_headline(comparison: Comparison) -> list[tuple[str, str]]:
    """The stage goals' KPIs the runs have (clmlang.simulation.stage_goals), in stage order:
    the share of each stage's returns within its goal."""
    prefix = "goal_met_"
    return [
        (kpi, f"{kpi.removeprefix(prefix)}: back within its goal")
        for kpi in comparison.runs.columns
        if kpi.startswith(prefix)
    ]


def _band(ax, frame: pd.DataFrame, x: str, y: str, label: str) -> None:
    grouped = frame.groupby(x)[y]
    xs = np.array(sorted(frame[x].unique()))
    stats = [interval(grouped.get_group(v).to_numpy(dtype=float)) for v in xs]
    mean = np.array([s[0] for s in stats])
    low = np.array([s[1] for s in stats])
    high = np.array([s[2] for s in stats])
    (line,) = ax.plot(xs, mean, label=label)
    if np.isfinite(low).any():
        ax.fill_between(xs, low, high, alpha=0.2, color=line.get_color())


def _fmt(value: float, kpi: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    share = kpi.startswith(("retention", "goal_met_", "goal_early_", "goal_late_"))
    if kpi.endswith(("_rate", "_share_at_end")) or share:
        return f"{value:.1%}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def verdicts(comparison: Comparison) -> dict[str, str]:
    """A plain-language verdict per variant: revenue change with its interval, and what else
    changed significantly (profit, survival, churn, unsubscribes)."""
    table = comparison.comparison
    out = {}
    for variant in comparison.variant_names():
        if variant == "base":
            continue
        rows = table[table["variant"] == variant].set_index("kpi")
        rev = rows.loc["revenue"]
        if math.isfinite(rev["diff_pct_low"]):
            head = (
                f"{rev['diff_pct']:+.1f}% revenue [{rev['diff_pct_low']:.1f}, "
                f"{rev['diff_pct_high']:.1f}]"
            )
        else:
            head = f"{rev['diff_pct']:+.1f}% revenue (one replication: no interval)"
        if not rev["significant"]:
            head += ", not significant"
        notes = []
        for kpi, more, fewer in (
            ("profit", "more profit", "less profit"),
            ("survival_rate", "more customers come back", "fewer customers come back"),
            ("churn_rate", "more churn", "less churn"),
            ("unsubscribes", "more unsubscribes", "fewer unsubscribes"),
        ):
            if kpi in rows.index and rows.loc[kpi, "significant"]:
                notes.append(more if rows.loc[kpi, "diff"] > 0 else fewer)
        loyal = _loyal_note(comparison, variant)
        if loyal:
            notes.append(loyal)
        out[variant] = ", ".join([head, *notes])
    return out


def _loyal_note(comparison: Comparison, variant: str) -> str | None:
    """Customers in the later half of the stages at the end, against the base."""
    series = comparison.series
    stage_cols = [c for c in series.columns if c.startswith("stage:") and c != "stage:(none)"]
    if len(stage_cols) < 2:
        return None
    late = stage_cols[len(stage_cols) // 2 :]
    last_day = series["day"].max()
    end = series[series["day"] == last_day]
    count = end[late].sum(axis=1)
    base = count[end["variant"] == "base"].to_numpy()
    mine = count[end["variant"] == variant].to_numpy()
    if base.size != mine.size or base.size < 2:
        return None
    _, low, high = interval(mine - base)
    names = ", ".join(c.split(":", 1)[1] for c in late)
    if low > 0:
        return f"more customers in {names}"
    if high < 0:
        return f"fewer customers in {names}"
    return None


def render_report(comparison: Comparison) -> str:
    """The report as one HTML document (`templates/report.html`)."""
    sc = comparison.scenario
    rules = _rule_rows(comparison)
    return render_page(
        "clmlang.whatif",
        "report.html",
        path=sc.path,
        variants=comparison.variant_names(),
        replications=comparison.replications,
        customers=f"{sc.settings.customers:,}",
        days=sc.settings.days,
        seed=sc.settings.seed,
        verdicts=[
            {"variant": variant, "text": text, "css": _verdict_css(text)}
            for variant, text in verdicts(comparison).items()
        ],
        kpis=_kpi_rows(comparison),
        retention_chart=_retention_chart(comparison),
        cumulative_chart=_cumulative_chart(comparison),
        stage_chart=_stage_chart(comparison),
        rules=rules,
        rules_chart=_rules_chart(comparison) if rules else None,
        sweep_charts=_sweep_charts(comparison) if sc.sweeps else [],
    )


def _verdict_css(text: str) -> str:
    if "not significant" in text:
        return "flat"
    return "up" if "+" in text.split("%")[0] else "down"


def _kpi_rows(comparison: Comparison) -> list[dict[str, object]]:
    """The headline KPIs: each variant's mean, and its change against the base coloured by
    whether it is significant and good."""
    table = comparison.comparison
    rows = []
    for kpi, label in HEADLINE + goal_headline(comparison):
        if kpi not in set(table["kpi"]):
            continue
        cells = []
        for variant in comparison.variant_names():
            row = table[(table["variant"] == variant) & (table["kpi"] == kpi)].iloc[0]
            cell = {"value": _fmt(row["mean"], kpi), "change": None, "css": None}
            if variant != "base" and math.isfinite(row["diff_pct"]):
                good = (row["diff"] > 0) != (kpi in _LOWER_IS_BETTER)
                cell["css"] = "flat" if not row["significant"] else ("up" if good else "down")
                cell["change"] = f"{row['diff_pct']:+.1f}%"
            cells.append(cell)
        rows.append({"label": label, "cells": cells})
    return rows


def _retention_chart(comparison: Comparison) -> str:
    fig, ax = plt.subplots(figsize=(8, 4))
    for variant in comparison.variant_names():
        frame = comparison.retention[comparison.retention["variant"] == variant]
        _band(ax, frame, "age_days", "retention", variant)
    ax.set_xlabel("days since the first purchase")
    ax.set_ylabel("bought again since (rolling retention)")
    ax.legend(fontsize=8)
    return figure(svg(fig), "Retention by customer age, mean and 95% band over replications")


def _cumulative_chart(comparison: Comparison) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    series = comparison.series.copy()
    series = series.sort_values(["variant", "replication", "day"])
    for column, ax, title in (
        ("revenue", axes[0], "cumulative revenue"),
        ("profit", axes[1], "cumulative profit"),
    ):
        series[f"cum_{column}"] = series.groupby(["variant", "replication"])[column].cumsum()
        for variant in comparison.variant_names():
            _band(ax, series[series["variant"] == variant], "day", f"cum_{column}", variant)
        ax.set_title(title)
        ax.set_xlabel("day")
    axes[0].legend(fontsize=8)
    return figure(svg(fig), "Cumulative revenue and profit after marketing, 95% bands")


def _stage_chart(comparison: Comparison) -> str:
    series = comparison.series
    stage_cols = [c for c in series.columns if c.startswith("stage:")]
    variants = comparison.variant_names()[:6]
    fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3.5), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=False):
        mean = series[series["variant"] == variant].groupby("day")[stage_cols].mean()
        ax.stackplot(mean.index, mean.to_numpy().T, labels=[c.split(":", 1)[1] for c in stage_cols])
        ax.set_title(variant, fontsize=10)
        ax.set_xlabel("day")
    axes[0][0].legend(fontsize=7, loc="upper left")
    return figure(svg(fig), "Customers per stage over time (mean over replications)")


def _rule_summary(comparison: Comparison) -> pd.DataFrame:
    """Each rule (and variant) of the base scenario: mean sends, cost, revenue, incremental
    revenue against its holdout, and ROI over replications."""
    rules = comparison.rules
    if rules.empty:
        return rules
    base = rules[rules["scenario_variant"] == "base"]
    return (
        base.groupby(["rule", "variant"], sort=False)
        .agg(
            sent=("sent", "mean"),
            cost=("cost", "mean"),
            revenue=("revenue", "mean"),
            incremental=("incremental_revenue", "mean"),
            roi=("roi", "mean"),
        )
        .reset_index()
    )


def _rule_rows(comparison: Comparison) -> list[dict[str, str]]:
    summary = _rule_summary(comparison)
    if summary.empty:
        return []
    return [
        {
            "rule": row.rule,
            "variant": row.variant,
            "sent": f"{row.sent:,.0f}",
            "cost": f"{row.cost:,.0f}",
            "revenue": f"{row.revenue:,.0f}",
            "incremental": _fmt(row.incremental, ""),
            "roi": _fmt(row.roi, ""),
        }
        for row in summary.itertuples()
    ]


def _rules_chart(comparison: Comparison) -> str:
    summary = _rule_summary(comparison)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(summary))))
    labels = [
        f"{r}" + (f" / {v}" if v != "-" else "")
        for r, v in zip(summary["rule"], summary["variant"], strict=True)
    ]
    values = summary["incremental"].fillna(0).to_numpy()
    ax.barh(labels, values, color=["#1a7f37" if v >= 0 else "#b42318" for v in values])
    ax.invert_yaxis()
    ax.set_xlabel("incremental revenue against the holdout (base scenario)")
    return figure(svg(fig), "Each rule's incremental revenue (rules without a holdout: none)")


def _sweep_charts(comparison: Comparison) -> list[str]:
    out = []
    runs = comparison.runs
    for sweep in comparison.scenario.sweeps:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        for ax, kpi in zip(axes, ("revenue", "profit"), strict=True):
            xs, means, lows, highs = [], [], [], []
            for value in sweep.values:
                frame = runs[runs["variant"] == f"{sweep.label}={value}"]
                mean, low, high = interval(frame[kpi].to_numpy(dtype=float))
                xs.append(value)
                means.append(mean)
                lows.append(low)
                highs.append(high)
            positions = (
                np.arange(len(xs))
                if any(isinstance(x, str) for x in xs)
                else np.array(xs, dtype=float)
            )
            ax.plot(positions, means, marker="o")
            if np.isfinite(lows).any():
                ax.fill_between(positions, lows, highs, alpha=0.2)
            ax.set_xticks(positions, [str(x) for x in xs])
            ax.set_xlabel(sweep.key)
            ax.set_title(kpi)
        out.append(figure(svg(fig), f"Sweep of {sweep.key}: where the curve turns, burnout starts"))
    return out


def output_files(comparison: Comparison) -> dict[str, str]:
    """`comparison.csv`, `summary.json` and `report.html`, built in memory."""
    import json

    table = comparison.comparison
    summary: dict[str, object] = {
        "scenario": comparison.scenario.path,
        "settings": comparison.scenario.settings.model_dump(),
        "replications": comparison.replications,
        "verdicts": verdicts(comparison),
        "variants": {},
    }
    for variant in comparison.variant_names():
        rows = table[table["variant"] == variant]
        summary["variants"][variant] = {  # type: ignore[index]
            row.kpi: {
                k: clean(getattr(row, k))
                for k in ("mean", "low", "high", "diff", "diff_low", "diff_high", "significant")
            }
            for row in rows.itertuples()
        }
    return {
        "comparison.csv": table.to_csv(index=False, float_format="%.6g"),
        "summary.json": json.dumps(summary, indent=2) + "\n",
        "report.html": render_report(comparison),
    }
