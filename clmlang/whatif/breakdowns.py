"""The what-if charts broken down: each rule against its holdout, economics by product role
and line, and each sweep's KPIs by value with the best one marked."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core.charts import TEMPLATE, colour, new_figure
from .traces import DIRECTION, LABELS, SWEEP_KPIS, add_bars, label, mean_band, rounded

if TYPE_CHECKING:
    from .experiment import Comparison

__all__ = ["holdout_rules", "roles_figure", "rules_figure", "sweep_figure", "sweep_kpis"]


def holdout_rules(c: Comparison) -> tuple[list[str], dict[str, list[str]]]:
    """The rules with a holdout in some variant, and per variant the rules without one (a rule
    without a holdout has no incremental revenue to measure)."""
    rules = c.rules
    if rules.empty:
        return [], {}
    held = rules.groupby(["variant", "rule"], sort=False)["holdout"].max() > 0
    order = list(dict.fromkeys(rules["rule"]))
    with_one = [r for r in order if held.xs(r, level="rule").any()]
    without = {v: [r for r in order if not held.get((v, r), False)] for v in c.variant_names()}
    return with_one, without


def rules_figure(c: Comparison) -> go.Figure | None:
    """Incremental revenue against the holdout per rule (and arm) with a holdout, a bar per
    variant with its 95% interval; None when no rule has a holdout."""
    with_one, _ = holdout_rules(c)
    if not with_one:
        return None
    rules = c.rules[c.rules["rule"].isin(with_one) & (c.rules["holdout"] > 0)]
    keys = list(dict.fromkeys(zip(rules["rule"], rules["arm"], strict=True)))
    labels = [label(r if a == "-" else f"{r} / {a}") for r, a in keys]
    fig = new_figure(
        x="incremental revenue against the holdout",
        y="rule",
        barmode="group",
        height=max(260, 90 + 36 * len(keys) * min(len(c.variant_names()), 3)),
        yaxis={"autorange": "reversed", "automargin": True, "title": {"standoff": 12}},
        margin={"l": 160},
        hovermode="closest",
    )
    for i, variant in enumerate(c.variant_names()):
        mine = rules[rules["variant"] == variant]
        columns = pd.MultiIndex.from_tuples(keys)
        pivot = pd.DataFrame(np.nan, index=[0], columns=columns)
        if len(mine):
            pivot = mine.pivot(index="replication", columns=["rule", "arm"])
            pivot = pivot["incremental_revenue"].reindex(columns=columns)
        # one run: its own bootstrap interval; more: the interval over replications
        stats = _one_run(mine, keys) if c.replications < 2 else mean_band(pivot)
        add_bars(fig, labels, stats, i, label(variant), horizontal=True, hovertemplate="%{x:,.0f}")
    return fig


def _one_run(mine: pd.DataFrame, keys: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A single replication's incremental revenue with its own bootstrap interval (rules.csv
    gives it per eligible customer: scaled by the customers the arm treated)."""
    per = mine.set_index(["rule", "arm"]).reindex(pd.MultiIndex.from_tuples(keys))
    scale = per["incremental_revenue"] / per["incremental_revenue_per_eligible"]
    mid = per["incremental_revenue"].to_numpy(dtype=float)
    low = (per["incremental_low"] * scale).to_numpy(dtype=float)
    high = (per["incremental_high"] * scale).to_numpy(dtype=float)
    return mid, low, high


def roles_figure(c: Comparison) -> go.Figure | None:
    """Contribution by product role and by line, a bar per variant with its interval."""
    table = c.products
    if table is None or table.empty:
        return None
    whole = table[(table["period"] == "total") & table["level"].isin(["role", "line"])]
    levels = [lv for lv in ("role", "line") if (whole["level"] == lv).any()]
    fig = make_subplots(
        rows=1,
        cols=len(levels),
        subplot_titles=[f"by product {lv}" for lv in levels],
        column_widths=[0.6, 0.4][: len(levels)] if len(levels) == 2 else None,
    )
    fig.update_layout(
        template=TEMPLATE,
        height=430,
        barmode="group",
        hovermode="closest",
        margin={"t": 100},
        legend={"y": 1.14},
    )
    for k, level in enumerate(levels, start=1):
        mine = whole[whole["level"] == level]
        names = list(dict.fromkeys(mine["name"]))
        for i, variant in enumerate(c.variant_names()):
            rows = mine[mine["variant"] == variant]
            pivot = rows.pivot(index="replication", columns="name", values="contribution")
            pivot = pivot.reindex(columns=names)
            stats = mean_band(pivot)
            add_bars(fig, [label(n) for n in names], stats, i, label(variant), row=1, col=k)
    fig.update_yaxes(title_text="contribution (gross profit - marketing cost)", row=1, col=1)
    return fig


def sweep_kpis(c: Comparison, values: list[str]) -> list[str]:
    """The KPIs a sweep moves: their means differ between its values."""
    runs = c.runs[c.runs["variant"].isin(values)]
    means = runs.groupby("variant")[[k for k in SWEEP_KPIS if k in runs.columns]].mean()
    spread = (means.max() - means.min()).abs()
    return [k for k in spread.index if spread[k] > 1e-9 * max(1.0, means[k].abs().max())]


def sweep_figure(c: Comparison, sweep) -> go.Figure:
    """One panel per KPI the sweep moves: its change against the base by value (paired by
    replication, so the interval is the difference's, tighter than either level's), the base
    dashed at 0, the best value starred."""
    variants = [f"{sweep.label}={v}" for v in sweep.values]
    kpis = sweep_kpis(c, variants) or ["revenue", "profit"]  # nothing moved: show it flat
    cols = min(3, len(kpis))
    rows = math.ceil(len(kpis) / cols)
    titles = [LABELS.get(k, k.replace("_", " ")) for k in kpis]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.2)
    fig.update_layout(template=TEMPLATE, height=300 * rows + 60, hovermode="closest")
    fig.update_annotations(font_size=13)
    xs = [label(v) for v in sweep.values]
    table = c.comparison.set_index(["kpi", "variant"])
    for n, kpi in enumerate(kpis):
        row, col = n // cols + 1, n % cols + 1
        rows_ = table.loc[kpi].reindex(variants)
        mean = rows_["diff"].to_numpy(dtype=float)
        low = rows_["diff_low"].to_numpy(dtype=float)
        high = rows_["diff_high"].to_numpy(dtype=float)
        share = kpi.endswith("_rate") or kpi.startswith("retention")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=rounded(mean),
                mode="lines+markers",
                name=label(titles[n]),
                showlegend=False,
                line={"color": colour(1), "width": 2},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rounded(np.where(np.isfinite(high), high - mean, np.nan)),
                    "arrayminus": rounded(np.where(np.isfinite(low), mean - low, np.nan)),
                },
                hovertemplate="%{y:+.2%}<extra></extra>" if share else "%{y:+,.4~g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        # after the trace: Plotly leaves a shape out of a subplot that has no trace yet
        fig.add_hline(y=0, line={"color": colour(0), "width": 2, "dash": "dash"}, row=row, col=col)
        if kpi in DIRECTION and np.isfinite(mean).any():
            best = int(np.nanargmax(mean * DIRECTION[kpi]))
            fig.add_trace(
                go.Scatter(
                    x=[xs[best]],
                    y=rounded(mean[[best]]),
                    mode="markers",
                    name="best",
                    showlegend=False,
                    marker={"symbol": "star", "size": 16, "color": colour(3)},
                    hovertemplate="best: %{x}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        if share:
            fig.update_yaxes(tickformat="+.1%", row=row, col=col)
    fig.update_xaxes(type="category", title_text=label(sweep.key))
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text="change against the base", row=row, col=1)
    return fig
