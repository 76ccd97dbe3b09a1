"""The parts the what-if charts share: names, directions, rounding, line styles, intervals.

Every chart draws the base in a thick solid line (or the first, outlined bar of a group) and
each variant in a thinner dashed line (a hatched bar), so a variant equal to the base still
shows both. Intervals are 95% over the replications: bands around lines, error bars on bars
and points. Numbers are rounded to about four significant digits before they go into the
page (the page stays small, and the same seed gives the same bytes). Names from the spec and
scenario are escaped: Plotly reads a few HTML tags in its labels.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from ..core.charts import band, colour

__all__ = [
    "DIRECTION",
    "LABELS",
    "SWEEP_KPIS",
    "add_bars",
    "add_curve",
    "label",
    "line_style",
    "mean_band",
    "rounded",
]

LABELS = {
    "revenue": "revenue",
    "gross_profit": "gross profit",
    "profit": "profit after marketing",
    "marketing_cost": "marketing cost",
    "survival_rate": "survival rate",
    "retention_30d": "retention at 30 days",
    "retention_90d": "retention at 90 days",
    "churn_rate": "churn rate",
    "ltv": "LTV",
    "messages": "messages",
    "unsubscribes": "unsubscribes",
    "purchases": "purchases",
}
# +1: more is better, -1: less is better; KPIs not here are not judged (messages)
DIRECTION = {
    "revenue": 1,
    "gross_profit": 1,
    "profit": 1,
    "marketing_cost": -1,
    "survival_rate": 1,
    "retention_30d": 1,
    "retention_90d": 1,
    "churn_rate": -1,
    "ltv": 1,
    "unsubscribes": -1,
    "purchases": 1,
}
SWEEP_KPIS = (
    "revenue",
    "profit",
    "marketing_cost",
    "churn_rate",
    "unsubscribes",
    "retention_90d",
    "survival_rate",
    "messages",
)
_DASHES = ("dash", "dot", "dashdot", "longdash", "longdashdot")


def rounded(values, digits: int = 4) -> list:
    """Plain floats rounded to about `digits` significant digits of the largest one (NaN and
    infinities: None, which Plotly leaves as gaps)."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    places = max(0, digits - 1 - math.floor(math.log10(top))) if top > 0 else 0
    return [round(float(v), places) if math.isfinite(v) else None for v in array]


def label(text: str) -> str:
    """A name from the spec or scenario as Plotly text (escaped)."""
    return html.escape(str(text), quote=False)


def line_style(i: int) -> dict:
    """The base: thick and solid; the variants: thinner, each its own dash."""
    if i == 0:
        return {"color": colour(0), "width": 3.5}
    return {"color": colour(i), "width": 2, "dash": _DASHES[(i - 1) % len(_DASHES)]}


def mean_band(pivot: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% Student-t interval over the rows (replications) of each column, as
    core.statistics.interval gives one column's (NaN bounds below two values), at once."""
    values = pivot.to_numpy(dtype=float)
    finite = np.isfinite(values)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, values, 0.0).sum(axis=0) / n
        square = np.where(finite, (values - mean) ** 2, 0.0).sum(axis=0)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * np.sqrt(square / (n - 1) / n)
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half


def add_curve(
    fig: go.Figure, x, pivot: pd.DataFrame, i: int, name: str, hover: str, *, shade: bool = True
) -> None:
    """The i-th series: its mean over the replications (rows of `pivot`) and, with `shade`,
    its band."""
    mean, low, high = mean_band(pivot)
    xs = list(x)
    if shade and np.isfinite(low).any():
        ok = np.isfinite(low)
        band(
            fig,
            [v for v, k in zip(xs, ok, strict=True) if k],
            rounded(low[ok]),
            rounded(high[ok]),
            name=name,
            colour_=colour(i),
        )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=rounded(mean),
            mode="lines",
            name=name,
            legendgroup=name,
            line=line_style(i),
            hovertemplate=hover,
        )
    )


def add_bars(fig, x, stats, i, name, *, horizontal=False, row=None, col=None, **kw):
    """One bar trace: `stats` = (mean, low, high) per bar, drawn with 95% error bars."""
    mean, low, high = stats
    error = {
        "type": "data",
        "symmetric": False,
        "array": rounded(np.where(np.isfinite(high), high - mean, np.nan)),
        "arrayminus": rounded(np.where(np.isfinite(low), mean - low, np.nan)),
        "color": "#333",
        "thickness": 1.2,
    }
    values = rounded(mean)
    trace = go.Bar(
        name=name,
        legendgroup=name,
        showlegend=row in (None, 1) and col in (None, 1),
        marker={"color": colour(i), "line": {"color": "#333", "width": 1 if i == 0 else 0}},
        marker_pattern_shape="" if i == 0 else "/",
        **({"y": x, "x": values, "error_x": error, "orientation": "h"} if horizontal else {}),
        **({} if horizontal else {"x": x, "y": values, "error_y": error}),
        **kw,
    )
    fig.add_trace(trace, **({"row": row, "col": col} if row else {}))
