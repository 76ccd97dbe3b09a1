"""The forecast's charts as Plotly figures (`figures(forecast)`): the report lays them out
(report.py), `HoldoutForecast.plot()` returns them to a notebook.

Every predicted series carries the 95% range of the replications as a band when there are 2
replications or more (spread.py); actual series are drawn where the history covers the
forecast period.
"""

from __future__ import annotations

import itertools

import numpy as np
import plotly.graph_objects as go

from ..core.charts import band, colour, new_figure
from .change import KPIS

__all__ = ["KPI_LABELS", "TOP_GROUP", "figures", "purchase_groups"]

PREDICTED, ACTUAL = colour(0), colour(1)
# the legend at the top right, clear of the title at the top left
LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1}
TOP_GROUP = 7  # customers with this many calibration purchases or more are one group
P_ALIVE_BINS = 20
KPI_LABELS = {
    "repeat_transactions": "Repeat purchases",
    "revenue": "Revenue",
    "profit": "Profit",
    "marketing_cost": "Marketing cost",
    "unsubscribes": "Unsubscribes",
}
assert set(KPI_LABELS) == set(KPIS)


# the forecast of what ran, which the actual figures are compared with (accuracy.py), drawn
# beside the spec's when the spec's policy is not what ran
RAN = "forecast of what ran"


def figures(forecast) -> dict[str, go.Figure]:
    """The charts of a `HoldoutForecast`, by name: `weekly`, `cumulative`, `by_purchases`,
    `revenue`, `p_alive`, and `effect` when a spec's effect or a change was measured."""
    drawn = {
        "weekly": _series(forecast.weekly, "transactions", cumulative=False),
        "cumulative": _series(forecast.weekly, "transactions", cumulative=True),
        "by_purchases": _by_purchases(forecast.customers),
        "revenue": _series(forecast.weekly, "revenue", cumulative=True),
        "p_alive": _p_alive(forecast.customers),
    }
    block = forecast.summary.get("change") or forecast.summary.get("policy_effect")
    if isinstance(block, dict):
        effect = _effect(block)
        if effect is not None:
            drawn["effect"] = effect
    return drawn


def _series(weekly, name: str, *, cumulative: bool) -> go.Figure:
    """Predicted (with its band) against actual, week by week or cumulated."""
    unit = "repeat purchases" if name == "transactions" else "revenue"
    title = {
        (False, "transactions"): "Repeat purchases per week",
        (True, "transactions"): "Repeat purchases, cumulated",
        (True, "revenue"): "Revenue, cumulated",
        (False, "revenue"): "Revenue per week",
    }[(cumulative, name)]
    fig = new_figure(
        title=title,
        x="week starting",
        y=f"{unit} {'to date' if cumulative else 'in the week'}",
        legend=LEGEND,
    )
    x = weekly["week_start"].dt.strftime("%Y-%m-%d").tolist()
    number = ",.0f" if name == "revenue" or cumulative else ",.1f"
    predicted = weekly[f"predicted_{name}"].to_numpy(dtype=float)
    prefix = "cumulative_" if cumulative else ""
    if cumulative:
        predicted = np.cumsum(predicted)
    if f"{prefix}predicted_{name}_low" in weekly:
        band(
            fig,
            x,
            weekly[f"{prefix}predicted_{name}_low"],
            weekly[f"{prefix}predicted_{name}_high"],
            name="forecast",
            colour_=PREDICTED,
        )
        low = weekly[f"{prefix}predicted_{name}_low"].to_numpy()
        high = weekly[f"{prefix}predicted_{name}_high"].to_numpy()
        custom = np.stack([low, high], axis=1).round(2).tolist()
        template = (
            f"%{{y:{number}}} (95% range %{{customdata[0]:{number}}} to"
            f" %{{customdata[1]:{number}}})<extra>forecast</extra>"
        )
    else:
        custom, template = None, f"%{{y:{number}}}<extra>forecast</extra>"
    fig.add_trace(
        go.Scatter(
            x=x,
            y=predicted.round(4).tolist(),
            name="forecast",
            legendgroup="forecast",
            line={"color": PREDICTED},
            customdata=custom,
            hovertemplate=template,
        )
    )
    if f"compared_{name}" in weekly:  # what ran, when the spec's policy did not
        ran = weekly[f"compared_{name}"].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=(np.cumsum(ran) if cumulative else ran).round(4).tolist(),
                name=RAN,
                line={"color": PREDICTED, "dash": "dash"},
                hovertemplate=f"%{{y:{number}}}<extra>{RAN}</extra>",
            )
        )
    if f"actual_{name}" in weekly:
        actual = weekly[f"actual_{name}"].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=(np.cumsum(actual) if cumulative else actual).round(4).tolist(),
                name="actual",
                line={"color": ACTUAL},
                hovertemplate=f"%{{y:{number}}}<extra>actual</extra>",
            )
        )
    return fig


def purchase_groups(customers) -> list[tuple[str, np.ndarray]]:
    """The customers grouped by their calibration purchases: 0, 1, ... and TOP_GROUP or more,
    as (label, mask)."""
    x = customers["calibration_purchases"].to_numpy()
    groups = [(str(k), x == k) for k in range(TOP_GROUP)]
    groups.append((f"{TOP_GROUP}+", x >= TOP_GROUP))
    return [(label, mask) for label, mask in groups if mask.any()]


def _by_purchases(customers) -> go.Figure:
    """Mean forecast purchases per customer against the actual mean, by the number of
    repeat purchases each made in the calibration period (the standard CLV calibration plot)."""
    fig = new_figure(
        title="Forecast against actual by purchases in the calibration period",
        x="repeat purchases in the calibration period",
        y="purchases per customer",
        hovermode="x",
        legend=LEGEND,
    )
    groups = purchase_groups(customers)
    labels = [label for label, _ in groups]
    sizes = [int(mask.sum()) for _, mask in groups]
    for column, name, tint in (
        ("predicted_transactions", "forecast", PREDICTED),
        ("actual_transactions", "actual", ACTUAL),
    ):
        if column not in customers:
            continue
        values = customers[column].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=[round(float(values[mask].mean()), 4) for _, mask in groups],
                name=name,
                mode="lines+markers",
                line={"color": tint},
                customdata=sizes,
                hovertemplate=f"%{{y:.2f}} ({name}; %{{customdata:,}} customers)<extra></extra>",
            )
        )
    fig.update_xaxes(type="category")
    return fig


def _p_alive(customers) -> go.Figure:
    """How many customers are how likely to be still active at the calibration end."""
    fig = new_figure(
        title="How likely each customer is to be still active",
        x="probability of being still active at the calibration end",
        y="customers",
        hovermode="x",
        bargap=0.05,
    )
    edges = np.linspace(0.0, 1.0, P_ALIVE_BINS + 1)
    counts, _ = np.histogram(customers["p_alive"].to_numpy(dtype=float), bins=edges)
    centres = ((edges[:-1] + edges[1:]) / 2).round(4).tolist()
    labels = [f"{lo:.0%} to {hi:.0%}" for lo, hi in itertools.pairwise(edges)]
    fig.add_trace(
        go.Bar(
            x=centres,
            y=counts.tolist(),
            width=1 / P_ALIVE_BINS,
            name="customers",
            marker={"color": PREDICTED},
            customdata=labels,
            hovertemplate="%{y:,} customers at %{customdata}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    return fig


def _effect(block: dict) -> go.Figure | None:
    """Each KPI's change in percent of the policy it is measured against, with its 95%
    interval; KPIs that are 0 under that policy (marketing cost against no marketing) have no
    percentage and are left to the table."""
    rows = [
        r
        for r in block["kpis"]
        if r["current"] and abs(r["current"]) > 1e-9 and r["kpi"] != "marketing_cost"
    ]
    if not rows:
        return None
    fig = new_figure(
        title=f"{block['new_policy']} against {block['current_policy']}",
        x=f"change in % of {block['current_policy']}",
        y="measure",
        hovermode="closest",
        height=120 + 50 * len(rows),
    )
    labels = [KPI_LABELS[r["kpi"]] for r in rows]
    for r, label in zip(rows, labels, strict=True):
        if r["low"] is None:
            continue
        base = abs(r["current"])
        fig.add_trace(
            go.Scatter(
                x=[round(100 * r["low"] / base, 4), round(100 * r["high"] / base, 4)],
                y=[label, label],
                mode="lines",
                line={"color": PREDICTED, "width": 6},
                opacity=0.35,
                name=f"{label} (95% interval)",
                meta="interval",
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[round(100 * r["change"] / abs(r["current"]), 4) for r in rows],
            y=labels,
            mode="markers",
            marker={"color": PREDICTED, "size": 11},
            name="change",
            hovertemplate="%{y}: %{x:+.1f}%<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#999", "dash": "dot"})
    fig.update_yaxes(type="category", autorange="reversed", automargin=True, title_standoff=12)
    fig.update_layout(showlegend=False)  # one series, named by the title and the hover
    return fig
