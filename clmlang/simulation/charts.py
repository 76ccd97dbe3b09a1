"""A simulation forecast's charts, as Plotly figures: what `Forecast.plot(name)` returns.

One builder per chart, each keyed by its name in `CHARTS`: the daily revenue and profit,
customers per stage over time, retention (Kaplan-Meier: customers acquired late count only
while observed), the flows between stages (a Sankey of transitions.csv), each rule's
incremental revenue against its holdout with its interval, and the economics by product
role. Every chart has a title and axis titles in words, never a raw column name; a chart
with nothing to show (no rule with a holdout, no product roles) is left out of `figures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from ..core.charts import band, colour, new_figure

if TYPE_CHECKING:
    from .metrics import Forecast

__all__ = ["CHARTS", "figure", "figures"]


# room at the top for the title (and a subtitle) above the legend
TOP = {"t": 80}
TOP_SUBTITLE = {"t": 105}


def _words(key: str, none: str = "none") -> str:
    """A stage, product or role name as a label: `first_visit` -> `first visit`; `(none)` (no
    stage yet, no role) as `none`."""
    return none if key == "(none)" else str(key).replace("_", " ")


def revenue(forecast: Forecast) -> go.Figure:
    """Revenue and profit after marketing, per day."""
    daily, currency = forecast.daily, forecast.summary.get("currency") or ""
    fig = new_figure(
        title="Revenue and profit after marketing, per day",
        x="Date",
        y=f"Amount per day ({currency})" if currency else "Amount per day",
        margin=TOP,
    )
    for i, (column, name) in enumerate(
        (("revenue", "Revenue"), ("profit", "Profit after marketing"))
    ):
        fig.add_trace(
            go.Scatter(
                x=daily["date"],
                y=daily[column].round(2),
                mode="lines",
                name=name,
                line={"color": colour(i), "width": 1.5},
            )
        )
    return fig


def stages(forecast: Forecast) -> go.Figure:
    """Customers per stage at the end of each day, stacked."""
    frame = forecast.stages
    dates = forecast.daily["date"]
    fig = new_figure(title="Customers per stage over time", x="Date", y="Customers", margin=TOP)
    for i, stage in enumerate(c for c in frame.columns if c != "day"):
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=frame[stage],
                mode="lines",
                stackgroup="stages",
                name=_words(stage),
                line={"color": colour(i), "width": 0.5},
            )
        )
    return fig


def retention(forecast: Forecast) -> go.Figure:
    """The Kaplan-Meier share of customers still buying, by days since their first purchase,
    with its 95% interval."""
    curve = forecast.lifetime
    fig = new_figure(
        title="Customers still buying, by days since their first purchase<br><sup>"
        "Kaplan-Meier: customers acquired late count only for the days they were observed"
        "</sup>",
        x="Days since the first purchase",
        y="Share still buying",
        yaxis={"tickformat": ".0%", "range": [0, 1.02]},
        margin=TOP_SUBTITLE,
    )
    if curve is None or curve.empty:
        return fig
    band(
        fig,
        curve["days"],
        curve["low"].round(4),
        curve["high"].round(4),
        name="Still buying",
        colour_=colour(0),
    )
    fig.add_trace(
        go.Scatter(
            x=curve["days"],
            y=curve["still_buying"].round(4),
            mode="lines",
            line={"color": colour(0)},
            name="Still buying",
            legendgroup="Still buying",
            customdata=curve["at_risk"],
            hovertemplate="%{y:.1%} (%{customdata} customers observed this long)",
        )
    )
    return fig


def flows(forecast: Forecast) -> go.Figure:
    """Customers moving between stages over the run: from (left) to (right)."""
    table = forecast.transitions
    names = [str(n) for n in table.index]
    counts = table.to_numpy()
    src, dst = np.nonzero(counts)
    moved = src != dst
    src, dst = src[moved], dst[moved]
    fig = new_figure(title="Moves between stages over the run (from the left to the right)")
    fig.add_trace(
        go.Sankey(
            node={
                "label": [f"from {_words(n, 'no stage yet')}" for n in names]
                + [f"to {_words(n, 'no stage yet')}" for n in names],
                "color": [colour(i) for i in range(len(names))] * 2,
                "pad": 12,
            },
            link={
                "source": src.tolist(),
                "target": (dst + len(names)).tolist(),
                "value": counts[src, dst].tolist(),
            },
            valueformat=",d",
            valuesuffix=" customers",
        )
    )
    return fig


def rules(forecast: Forecast) -> go.Figure | None:
    """Each rule arm's incremental revenue per eligible customer against its holdout, with
    its 95% interval; None when no rule has a holdout to compare with."""
    table = forecast.rules
    if table.empty or "incremental_revenue_per_eligible" not in table:
        return None
    known = table[np.isfinite(table["incremental_revenue_per_eligible"].to_numpy(float))]
    if known.empty:
        return None
    currency = forecast.summary.get("currency") or ""
    labels = [
        _words(r) + (f" ({_words(a)})" if a != "-" else "")
        for r, a in zip(known["rule"], known["arm"], strict=True)
    ]
    estimate = known["incremental_revenue_per_eligible"].to_numpy(float)
    low, high = known["incremental_low"].to_numpy(float), known["incremental_high"].to_numpy(float)
    has = np.isfinite(low) & np.isfinite(high)
    unknown = [lab for lab, h in zip(labels, has, strict=True) if not h]
    title = "Each rule's incremental revenue per eligible customer against its holdout"
    if unknown:
        title += (
            "<br><sup>no interval (holdout too small to tell): " + ", ".join(unknown) + "</sup>"
        )
    fig = new_figure(
        title=title,
        x=f"Incremental revenue per eligible customer ({currency})".replace(" ()", ""),
        y="Rule",
        height=max(300, 140 + 40 * len(labels)),
        margin=TOP_SUBTITLE,
    )
    names = np.array(labels, dtype=object)
    if has.any():
        fig.add_trace(
            go.Scatter(
                x=np.round(estimate[has], 2),
                y=names[has],
                mode="markers",
                marker={"color": colour(0), "size": 9},
                name="Estimate with its 95% interval",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": np.round(high[has] - estimate[has], 2),
                    "arrayminus": np.round(estimate[has] - low[has], 2),
                    "color": colour(0),
                },
            )
        )
    if not has.all():
        fig.add_trace(
            go.Scatter(
                x=np.round(estimate[~has], 2),
                y=names[~has],
                mode="markers",
                marker={"color": colour(1), "size": 9, "symbol": "circle-open"},
                name="Estimate only (holdout too small to tell)",
            )
        )
    fig.update_layout(showlegend=True)  # even with one kind of point: the legend says which
    fig.update_yaxes(
        autorange="reversed", automargin=True, categoryorder="array", categoryarray=labels
    )
    fig.add_vline(x=0, line={"color": "#999", "dash": "dot"})
    return fig


def roles(forecast: Forecast) -> go.Figure | None:
    """Revenue, gross profit and contribution after marketing by product role over the run;
    None when the spec's products have no roles."""
    table = forecast.products
    if table is None:
        return None
    total = table[(table["level"] == "role") & (table["period"] == "total")]
    if total.empty:
        return None
    currency = forecast.summary.get("currency") or ""
    fig = new_figure(
        title="Economics by product role over the run",
        x="Product role",
        y=f"Amount ({currency})" if currency else "Amount",
        barmode="group",
        margin=TOP,
    )
    names = [_words(n, "no role") for n in total["name"]]
    for i, (column, name) in enumerate(
        (
            ("revenue", "Revenue"),
            ("gross_profit", "Gross profit"),
            ("contribution", "Contribution after marketing"),
        )
    ):
        fig.add_trace(
            go.Bar(x=names, y=total[column].round(2), name=name, marker={"color": colour(i)})
        )
    return fig


CHARTS = {
    "revenue": revenue,
    "stages": stages,
    "retention": retention,
    "flows": flows,
    "rules": rules,
    "roles": roles,
}


def figure(forecast: Forecast, name: str) -> go.Figure:
    """The chart `name` (one of CHARTS); KeyError for another name or a chart this forecast
    has nothing for, saying why."""
    if name not in CHARTS:
        raise KeyError(f"no chart `{name}`: the charts are {', '.join(CHARTS)}")
    fig = CHARTS[name](forecast)
    if fig is None:
        why = {"rules": "no rule has a holdout to compare with", "roles": "no product roles"}
        raise KeyError(f"no `{name}` chart for this forecast: {why[name]}")
    return fig


def figures(forecast: Forecast) -> dict[str, go.Figure]:
    """Every chart this forecast has something for, by name, in the order of CHARTS."""
    out = {}
    for name, build in CHARTS.items():
        fig = build(forecast)
        if fig is not None:
            out[name] = fig
    return out
