"""A forecast at a glance: the compact HTML a notebook shows for a `Forecast`.

The headline figures in words and formatted for a reader (money with its currency and
thousands separators, shares as percentages), the customers per stage at the end, and each
rule's firings and incremental revenue against its holdout with its 95% interval. Small on
purpose: no script and no chart (`Forecast.plot()` gives those as Plotly figures).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .metrics import Forecast

__all__ = ["money", "overview_html", "share"]

STYLE = "border-collapse:collapse;margin:0.3em 0;font-size:0.9em;font-variant-numeric:tabular-nums"
RETENTION = (
    (30, "retention_30d"),
    (90, "retention_90d"),
    (180, "retention_180d"),
    (365, "retention_365d"),
)


def money(value: float | None, currency: str = "") -> str:
    """An amount with thousands separators, no decimals, and its currency: `1,234,567 RUB`."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:,.0f}"
    return f"{text} {currency}" if currency else text


def share(value: float | None) -> str:
    """A share as a percentage with one decimal: `43.4%`."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.1%}"


def _amount(value: float) -> str:
    """A per-customer amount: two decimals."""
    return f"{value:,.2f}"


def _table(caption: str, header: list[str], rows: list[list[str]]) -> str:
    cell = "padding:2px 10px;border-bottom:1px solid #ddd;text-align:{}"
    head = "".join(
        f'<th style="{cell.format("left" if i == 0 else "right")}">{html.escape(h)}</th>'
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{cell.format("left" if i == 0 else "right")}">{html.escape(v)}</td>'
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<table style="{STYLE}"><caption style="text-align:left;font-weight:600">'
        f"{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"
    )


def _headline(forecast: Forecast) -> list[list[str]]:
    s, currency = forecast.summary, str(forecast.summary.get("currency") or "")
    rows = [
        ["Revenue", money(s.get("revenue"), currency)],  # type: ignore[arg-type]
        ["Gross profit", money(s.get("gross_profit"), currency)],  # type: ignore[arg-type]
        ["Marketing cost", money(s.get("marketing_cost"), currency)],  # type: ignore[arg-type]
        ["Profit after marketing", money(s.get("profit"), currency)],  # type: ignore[arg-type]
        ["Purchases", f"{int(s.get('purchases') or 0):,}"],
        ["Messages sent", f"{int(s.get('messages') or 0):,}"],
    ]
    for days, key in RETENTION:
        if s.get(key) is not None:
            rows.append([f"Retention at {days} days", share(s[key])])  # type: ignore[arg-type]
    if s.get("churn_rate") is not None:
        rows.append(["Churn rate", share(s["churn_rate"])])  # type: ignore[arg-type]
    return rows


def _rule_rows(forecast: Forecast) -> list[list[str]]:
    rows = []
    for r in forecast.rules.itertuples(index=False):
        name = r.rule.replace("_", " ") + (f" ({r.arm})" if r.arm != "-" else "")
        if not r.fired and not r.holdout:
            effect = "never fired"
        elif not r.holdout:
            effect = "no holdout"
        elif r.too_small or not math.isfinite(r.incremental_low):
            effect = "holdout too small to tell"
        else:
            effect = (
                f"{_amount(r.incremental_revenue_per_eligible)} "
                f"[{_amount(r.incremental_low)}, {_amount(r.incremental_high)}]"
            )
        rows.append([name, f"{r.fired:,}", f"{r.sent:,}", effect])
    return rows


def overview_html(forecast: Forecast) -> str:
    """The forecast's compact HTML summary (see the module docstring)."""
    s = forecast.summary
    title = (
        f"<div><strong>Forecast: {html.escape(str(s.get('program') or ''))}</strong> "
        f"&middot; {int(s.get('customers') or 0):,} customers &middot; "
        f"{int(s.get('days') or 0):,} days</div>"
    )
    parts = [title, _table("Headline", ["Figure", "Value"], _headline(forecast))]
    if not forecast.stages.empty:
        end = forecast.stages.iloc[-1]
        stage_rows = [
            [str(stage).replace("_", " "), f"{int(end[stage]):,}"]
            for stage in forecast.stages.columns
            if stage != "day"
        ]
        parts.append(_table("Customers per stage at the end", ["Stage", "Customers"], stage_rows))
    if not forecast.rules.empty:
        currency = str(s.get("currency") or "")
        effect = "Incremental revenue per eligible customer [95% interval]" + (
            f" ({currency})" if currency else ""
        )
        parts.append(
            _table("Rules", ["Rule", "Fired", "Messages sent", effect], _rule_rows(forecast))
        )
    parts.append(
        '<div style="color:#666;font-size:0.85em">Charts: <code>forecast.plot()</code>; '
        "tables: <code>forecast.daily</code>, <code>.stages</code>, <code>.rules</code>, ...</div>"
    )
    return '<div class="clm-forecast">' + "".join(parts) + "</div>"
