"""The what-if report's interactive charts, one Plotly figure per name: `figures(comparison)`.

The report lays them out; `Comparison.plot(name)` returns them in a notebook. How they draw
the base and the variants, intervals and names: `traces`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from ..core.charts import colour, new_figure
from .breakdowns import roles_figure, rules_figure, sweep_figure
from .traces import add_bars, add_curve, label, line_style, mean_band, rounded

if TYPE_CHECKING:
    from .experiment import Comparison

__all__ = ["figures"]

_MAX_POINTS = 120  # days drawn on a time axis


def _alpha(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgba({r},{g},{b},0.35)"


def _thin(days: np.ndarray) -> np.ndarray:
    step = max(1, math.ceil(days.size / _MAX_POINTS))
    keep = days[::step]
    return keep if keep[-1] == days[-1] else np.r_[keep, days[-1]]


def _retention(c: Comparison) -> go.Figure:
    fig = new_figure(
        x="days since the first purchase",
        y="customers still buying",
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
    )
    for i, variant in enumerate(c.variant_names()):
        frame = c.retention[c.retention["variant"] == variant]
        pivot = frame.pivot(index="replication", columns="age_days", values="retention")
        pivot = pivot.loc[:, pivot.notna().all()]  # ages every replication observed
        if pivot.shape[1]:
            # the base's band only: variants' bands would cover one another (their difference
            # from the base is what the money charts show with its band)
            add_curve(fig, pivot.columns, pivot, i, label(variant), "%{y:.1%}", shade=i == 0)
    return fig


def _difference(c: Comparison, column: str, what: str) -> go.Figure | None:
    variants = c.variant_names()
    if len(variants) < 2:
        return None
    series = c.series.sort_values(["variant", "replication", "day"])
    total = series.assign(cum=series.groupby(["variant", "replication"])[column].cumsum())
    wide = total.set_index(["replication", "day", "variant"])["cum"].unstack("variant")
    days = _thin(np.array(sorted(total["day"].unique())))
    fig = new_figure(x="day", y=f"cumulative {what}: variant - base")
    fig.add_trace(
        go.Scatter(
            x=[int(days[0]), int(days[-1])],
            y=[0, 0],
            mode="lines",
            name=label(variants[0]),
            line=line_style(0),
            hoverinfo="skip",
        )
    )
    for i, variant in enumerate(variants[1:], start=1):
        diff = (wide[variant] - wide[variants[0]]).unstack("day")[days]
        add_curve(fig, [int(d) for d in days], diff, i, label(variant), "%{y:,.0f}")
    return fig


def _stages(c: Comparison) -> go.Figure:
    columns = [k for k in c.series.columns if k.startswith("stage:") and k != "stage:(none)"]
    last = c.series[c.series["day"] == c.series["day"].max()]
    names = [label(k.split(":", 1)[1]) for k in columns]
    fig = new_figure(x="stage", y="customers at the end of the run", barmode="group")
    for i, variant in enumerate(c.variant_names()):
        mine = last[last["variant"] == variant].set_index("replication")[columns]
        add_bars(fig, names, mean_band(mine), i, label(variant), hovertemplate="%{y:,.0f}")
    return fig


def _flows(c: Comparison) -> go.Figure | None:
    moves = c.transitions
    if moves is None or moves.empty:
        return None
    stages = list(dict.fromkeys([*moves["from"], *moves["to"]]))
    names = [label("no stage yet" if s == "(none)" else s) for s in stages]
    fig = new_figure(height=460, hovermode="closest")
    variants = c.variant_names()
    for i, variant in enumerate(variants):
        mine = moves[moves["variant"] == variant]
        mean = mine.groupby(["from", "to"], sort=False)["customers"].sum() / c.replications
        src = [stages.index(f) for f, _ in mean.index]
        dst = [len(stages) + stages.index(t) for _, t in mean.index]
        fig.add_trace(
            go.Sankey(
                name=label(variant),
                visible=i == 0,
                arrangement="fixed",
                node={
                    "label": [f"from {n}" for n in names] + [f"to {n}" for n in names],
                    "color": [colour(k + 2) for k in range(len(stages))] * 2,
                    "pad": 12,
                },
                link={
                    "source": src,
                    "target": dst,
                    "value": rounded(mean.to_numpy()),
                    "color": [_alpha(colour(k + 2)) for k in src],
                },
                valueformat=",.0f",
            )
        )
    buttons = [
        {
            "label": label(v),
            "method": "update",
            "args": [{"visible": [k == i for k in range(len(variants))]}],
        }
        for i, v in enumerate(variants)
    ]
    fig.update_layout(
        updatemenus=[{"buttons": buttons, "x": 0, "y": 1.12, "xanchor": "left"}],
        margin={"t": 70},
    )
    return fig


def figures(comparison: Comparison) -> dict[str, go.Figure]:
    """Every chart of the report by name, in the report's order: `retention`,
    `revenue_difference`, `profit_difference`, `stages`, `flows`, `rules`, `roles`, then
    `sweep` (a second sweep: `sweep-2`, ...). A chart with nothing to draw (a difference with
    only the base, rules without any holdout) is left out."""
    c = comparison
    out: dict[str, go.Figure | None] = {
        "retention": _retention(c),
        "revenue_difference": _difference(c, "revenue", "revenue"),
        "profit_difference": _difference(c, "profit", "profit after marketing"),
        "stages": _stages(c),
        "flows": _flows(c),
        "rules": rules_figure(c),
        "roles": roles_figure(c),
    }
    for n, sweep in enumerate(c.scenario.sweeps):
        out["sweep" if n == 0 else f"sweep-{n + 1}"] = sweep_figure(c, sweep)
    return {k: v for k, v in out.items() if v is not None}
