"""What every clmlang HTML page shares: one self-contained file that works offline.

Charts are Plotly figures (core.charts, plotly.js inlined: no CDN, no external files); a few
lines of inline script, run once the page has loaded, check that every chart drew something
and mark the document (`data-charts`, `data-charts-rendered`, `data-charts-empty`), which the
browser tests read.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = ["SCRIPT", "STYLE", "clean", "render_page"]

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.up { color: #1a7f37; } .down { color: #b42318; } .flat { color: #666; }
figure { margin: 1rem 0; }
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
    }
  });
  document.documentElement.setAttribute("data-charts", String(figures.length));
  document.documentElement.setAttribute("data-charts-rendered", String(drawn));
  document.documentElement.setAttribute("data-charts-empty", String(empty));
});
"""


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
