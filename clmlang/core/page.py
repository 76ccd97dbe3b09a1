"""What every clmlang HTML page shares: one self-contained file that works offline.

Charts are Plotly figures (core.charts, plotly.js inlined: no CDN, no external files) or,
where a page has not moved to them, matplotlib figures inlined as SVG; a few lines of inline
script, run once the page has loaded, check that every chart drew something and mark the
document (`data-charts`, `data-charts-rendered`, `data-charts-empty`), which the browser
tests read.
"""

from __future__ import annotations

import functools
import io
import math
import os
import sys
from typing import TYPE_CHECKING

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib draws off-screen (Agg), but is imported only by the pages that still draw with
# it (its import costs about 0.5 s, a third of `clm forecast`'s start-up): loaded already, it
# is switched; loaded later, it starts there
if "matplotlib" in sys.modules:
    sys.modules["matplotlib"].use("Agg")
else:
    os.environ["MPLBACKEND"] = "Agg"

__all__ = ["SCRIPT", "STYLE", "clean", "figure", "render_page", "svg"]

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.up { color: #1a7f37; } .down { color: #b42318; } .flat { color: #666; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
.verdict { font-size: 1.05rem; margin: .3rem 0; }
"""
SCRIPT = """
window.addEventListener("load", function () {
  var figures = document.querySelectorAll("figure.chart");
  var drawn = 0, empty = 0;
  function points(trace) {
    var n = 0;
    ["x", "y", "values", "z"].forEach(function (k) {
      if (trace[k] && trace[k].length > n) { n = trace[k].length; }
    });
    if (trace.link && trace.link.value) { n = Math.max(n, trace.link.value.length); }
    return n;
  }
  figures.forEach(function (f) {
    var plot = f.querySelector(".js-plotly-plot");
    if (plot) {
      var n = 0;
      (plot.data || []).forEach(function (t) { n += points(t); });
      if (n === 0) { empty += 1; return; }
      if (plot.querySelector(".main-svg") && plot.getBoundingClientRect().width > 0) {
        drawn += 1;
      }
      return;
    }
    var svg = f.querySelector("svg");
    if (svg && svg.querySelectorAll("path, line, rect, use").length > 0
        && svg.getBoundingClientRect().width > 0) { drawn += 1; }
  });
  document.documentElement.setAttribute("data-charts", String(figures.length));
  document.documentElement.setAttribute("data-charts-rendered", String(drawn));
  document.documentElement.setAttribute("data-charts-empty", String(empty));
});
"""


def svg(fig: Figure) -> str:
    """The figure as inline SVG (closed afterwards), without a date and with ids hashed from a
    fixed salt rather than random ones: same data, same bytes."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "clmlang"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def figure(drawing: str, caption: str) -> Markup:
    """An inline chart (matplotlib's own SVG, kept as it is) with its caption (escaped), as
    the pages' script counts them."""
    return Markup('<figure class="chart">{}<figcaption>{}</figcaption></figure>').format(
        Markup(drawing), caption
    )


@functools.cache
def _templates(package: str) -> Environment:
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,  # every value is escaped unless it is Markup (charts, the style)
        undefined=StrictUndefined,  # a name the code forgot to pass is an error, not ""
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(package: str, template: str, **values: object) -> str:
    """Render `package`'s `templates/<template>` with `values`, escaped, and the shared style
    and script."""
    page = _templates(package).get_template(template)
    return page.render(style=Markup(STYLE), script=Markup(SCRIPT), **values)


def clean(value: object) -> object:
    """A number as JSON and a table show it: plain floats, None for NaN and infinities."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else round(float(value), 6)
    return value
