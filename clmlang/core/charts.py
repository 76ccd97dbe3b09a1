"""Interactive charts for the HTML pages: Plotly figures, plotly.js inlined once per page.

A page stays one offline file: `plotly_script()` is the whole plotly.js bundle that ships
inside the plotly package (no CDN), and `chart()` places a figure with a fixed element id, so
the same data gives the same bytes. The figures use one small template (`TEMPLATE`) rather
than Plotly's default, which would repeat about 8 KB of styling in every chart.

Each chart is a `<figure class="chart">` holding a Plotly div; the page's script
(`core.page.SCRIPT`) counts the figures, checks that each one drew something, and marks the
document (`data-charts`, `data-charts-rendered`, `data-charts-empty`), which the browser
tests read.
"""

from __future__ import annotations

import functools
import re

import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

__all__ = [
    "COLOURS",
    "TEMPLATE",
    "band",
    "chart",
    "colour",
    "new_figure",
    "pick",
    "plotly_script",
]

# Colour-blind-safe (Okabe-Ito), base first; variants take the following ones in order.
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": "system-ui, sans-serif", "size": 13, "color": "#222"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=COLOURS,
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        xaxis={"showgrid": True, "gridcolor": "#eee", "zeroline": False, "linecolor": "#999"},
        yaxis={"showgrid": True, "gridcolor": "#eee", "zeroline": True, "linecolor": "#999"},
    )
)

_CONFIG = {"displaylogo": False, "responsive": True}
_ID = re.compile(r"[^A-Za-z0-9_-]+")


def colour(index: int) -> str:
    """The colour of the index-th series (0: the base)."""
    return COLOURS[index % len(COLOURS)]


def new_figure(
    *,
    title: str | None = None,
    x: str | None = None,
    y: str | None = None,
    height: int = 380,
    **layout: object,
) -> go.Figure:
    """An empty figure in the pages' template, with its title and axis titles (a chart
    without a y-axis label is not allowed on a page)."""
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, height=height, **layout)
    if title:
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"})
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig


def band(
    fig: go.Figure, x, low, high, *, name: str, colour_: str, row=None, col=None, **line: object
) -> None:
    """A shaded interval between `low` and `high` (one closed polygon trace, hovering off),
    drawn under the line it belongs to; `name` labels it in the legend group of that line."""
    xs = list(x) + list(x)[::-1]
    ys = list(high) + list(low)[::-1]
    kwargs = {"row": row, "col": col} if row is not None else {}
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            fill="toself",
            fillcolor=_alpha(colour_, 0.18),
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=name,
            name=f"{name} (interval)",
            meta="interval",
            **line,
        ),
        **kwargs,
    )


def _alpha(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def chart(fig: go.Figure, name: str, caption: str) -> Markup:
    """The figure as an interactive chart on the page, with its caption (escaped). `name`
    gives the element id (`chart-NAME`), so the bytes depend only on the data."""
    div_id = "chart-" + _ID.sub("-", name)
    html = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=_CONFIG,
        validate=True,
    )
    return Markup(
        '<figure class="chart" data-chart="{}">{}<figcaption>{}</figcaption></figure>'
    ).format(name, Markup(html), caption)


def pick(charts: dict[str, go.Figure], name: str | None):
    """A page's charts as `.plot(name)` gives them: all by name when `name` is None, else the
    one it names; KeyError naming the charts there are for one it does not have."""
    if name is None:
        return charts
    if name not in charts:
        raise KeyError(f"no chart {name!r}; there are: {', '.join(charts)}")
    return charts[name]


@functools.cache
def _bundle() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def plotly_script() -> Markup:
    """plotly.js, inlined: put it once in a page's <head>, before any chart."""
    return Markup("<script>{}</script>").format(Markup(_bundle()))
