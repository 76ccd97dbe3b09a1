"""The forecast of a real base (`clm forecast`) as one offline HTML page: weekly and
cumulative transactions, predicted against actual when the history covers the period, the
figures, and every model fitted on the calibration period."""

from __future__ import annotations

import html
import json

import matplotlib.pyplot as plt

from ..core.page import SCRIPT, STYLE, clean, figure, svg
from .holdout import HoldoutForecast

__all__ = ["output_files", "render_forecast_report"]

COLUMNS = ["customer_id", "predicted_transactions", "predicted_revenue", "p_alive"]


def output_files(result: HoldoutForecast) -> dict[str, str]:
    """`forecast.json` (the figures, the weekly series and the fits), `customers.csv` and
    `report.html`, as text."""
    payload = dict(result.summary)
    payload["weekly"] = result.weekly.to_dict(orient="list")
    payload["fits"] = result.fits
    customers = result.customers[COLUMNS].to_csv(index=False, float_format="%.6g")
    return {
        "forecast.json": json.dumps(payload, indent=2) + "\n",
        "customers.csv": customers,
        "report.html": render_forecast_report(result),
    }


def render_forecast_report(result: HoldoutForecast) -> str:
    """The forecast of a real base as one offline HTML page: weekly and cumulative
    transactions, predicted against actual when the history covers the period."""
    weekly = result.weekly
    s = result.summary
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(weekly["week"], weekly["predicted_transactions"], label="forecast")
    axes[1].plot(weekly["week"], weekly["predicted_transactions"].cumsum(), label="forecast")
    if "actual_transactions" in weekly:
        axes[0].plot(weekly["week"], weekly["actual_transactions"], label="actual")
        axes[1].plot(weekly["week"], weekly["actual_transactions"].cumsum(), label="actual")
    axes[0].set_title("repeat transactions per week")
    axes[1].set_title("cumulative repeat transactions")
    for ax in axes:
        ax.set_xlabel("weeks after the calibration end")
        ax.legend(fontsize=8)
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{clean(v) if not isinstance(v, str) else v}</td></tr>"
        for k, v in s.items()
    )
    fits = "".join(
        f"<tr><td>{html.escape(str(f['model']))}"
        + (" (chosen)" if f["model"] == s.get("buying_model") else "")
        + "</td><td>"
        + ", ".join(
            f"{html.escape(k)} {v:.4g} &plusmn; "
            + ("n/a" if f["std_errors"][k] is None else f"{f['std_errors'][k]:.2g}")
            for k, v in f["params"].items()
        )
        + f"</td><td>{f['log_likelihood']:,.2f}</td><td>{f['aic']:,.2f}</td></tr>"
        for f in result.fits
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>clmlang forecast to {html.escape(str(s.get('until')))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Forecast from {html.escape(str(s.get('calibration_end')))} to "
        f"{html.escape(str(s.get('until')))}</h1>"
        + figure(svg(fig), "Forecast against actual, week by week and cumulated")
        + f"<h2>Figures</h2><table>{rows}</table>"
        + (
            "<h2>Models fitted on the calibration period</h2><p>The forecast uses the chosen"
            " one: the lowest AIC unless a model was named. Pareto/NBD is reported, not"
            " simulated.</p><table><tr><th>model</th>"
            "<th>parameters &plusmn; standard error (times in weeks)</th>"
            f"<th>log-likelihood</th><th>AIC</th></tr>{fits}</table>"
            if result.fits
            else "<h2>Market</h2><p>The market was given, not fitted: its buying model is "
            f"{html.escape(str(s.get('buying_model')))}.</p>"
        )
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
