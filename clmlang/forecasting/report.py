"""The forecast of a real base (`clm forecast`) as one offline HTML page: weekly and
cumulative transactions, predicted against actual when the history covers the period, the
figures, and every model fitted on the calibration period."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt

from ..core.page import clean, figure, render_page, svg
from .goal_attainment import goal_lines
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
    return render_page(
        "clmlang.forecasting",
        "forecast.html",
        until=str(s.get("until")),
        calibration_end=str(s.get("calibration_end")),
        chart=figure(svg(fig), "Forecast against actual, week by week and cumulated"),
        figures=[
            (k, v if isinstance(v, str) else clean(v))
            for k, v in s.items()
            if k not in ("change", "net_of_policy", "stage_goals")
        ],
        goals=goal_lines(s.get("stage_goals")),
        goals_note=(s.get("stage_goals") or {}).get("note"),
        change=_change(s.get("change")),
        logged=_logged(s.get("net_of_policy")),
        fits=[
            {
                "model": str(f["model"]),
                "chosen": f["model"] == s.get("buying_model"),
                "params": [
                    (
                        k,
                        f"{v:.4g}",
                        "n/a" if f["std_errors"][k] is None else f"{f['std_errors'][k]:.2g}",
                    )
                    for k, v in f["params"].items()
                ],
                "log_likelihood": f"{f['log_likelihood']:,.2f}",
                "aic": f"{f['aic']:,.2f}",
                "backtest": _backtest(f.get("backtest")),
            }
            for f in result.fits
        ],
        buying_model=str(s.get("buying_model")),
        model_choice=str(s.get("model_choice", "")),
        backtested=any("backtest" in f for f in result.fits),
    )


def _backtest(score: object) -> str:
    """A fit's backtest as one cell: its Poisson deviance (and its gain on BG/NBD's), its
    total against the actual, its per-customer RMSE."""
    if not isinstance(score, dict):
        return ""
    gain = score["deviance_gain"]
    against = f" ({gain:+,.1f} +- {score['deviance_gain_se']:,.1f})" if gain else ""
    return (
        f"{score['deviance']:,.1f}{against}; {score['predicted']:,.1f} of "
        f"{score['actual']:,.0f} ({score['total_error']:+.1%}), RMSE {score['rmse']:.4f} "
        f"(from {' and '.join(score['cuts'])} to {score['end']})"
    )


def _logged(block: object) -> dict[str, object] | None:
    """What the policy in force's message log did to the calibration, as table rows."""
    if not isinstance(block, dict):
        return None

    def share(value: object) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    rows = []
    for r in block["responses"]:
        measured = r["response"] is not None
        rows.append(
            (
                f"{r['rule']} ({r['channel']})",
                f"{r['sent']:,} / {r['held']:,}",
                f"{share(r['converted_sent'])} / {share(r['converted_held'])}",
                f"{r['lift']:+.4f} ± {r['lift_se']:.2g}" if measured else "n/a",
                f"{r['response']:.4f} ± {r['response_se']:.2g}" if measured else r["note"],
            )
        )
    return {
        "untouched": f"{block['untouched_customers']:,}",
        "effective": f"{block['effective_customers']:,.0f}",
        "control": f"{block['control_share']:.1%}",
        "induced": f"{block['induced_purchases']:,}",
        "inseparable": ", ".join(block["inseparable_rules"]),
        "rows": rows,
    }


def _change(change: object) -> dict[str, object] | None:
    """The change from the policy in force as table rows: each total, the difference and its
    95% interval, formatted."""
    if not isinstance(change, dict):
        return None

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.2f}"

    return {
        "new": change["new_policy"],
        "current": change["current_policy"],
        "replications": change["replications"],
        "rows": [
            (
                row["kpi"],
                cell(row["current"]),
                cell(row["new"]),
                f"{row['change']:+,.2f}",
                "n/a" if row["low"] is None else f"{cell(row['low'])} to {cell(row['high'])}",
            )
            for row in change["kpis"]
        ],
    }
