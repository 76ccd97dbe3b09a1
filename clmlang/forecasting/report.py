"""The forecast of a real base (`clm forecast`) as one offline HTML page a manager reads: the
verdict first, in words with intervals (verdict.py); a warning at the top when the spec's
prices cannot be the history's (currency.py); then the interactive charts (charts.py: weekly
and cumulative purchases, the calibration plot by purchases, revenue, P(alive), the policy's
effect), the policy's sections, the key figures and every model fitted on the calibration
period."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd

from ..core.charts import chart, plotly_script
from ..core.page import render_page
from .charts import KPI_LABELS, figures
from .goal_attainment import goal_lines
from .holdout import HoldoutForecast
from .verdict import MODEL_NAMES, currency_of, key_figures, money, sentences

__all__ = ["customers_csv", "output_files", "render_forecast_report"]

COLUMNS = ["customer_id", "predicted_transactions", "predicted_revenue", "p_alive"]
CAPTIONS = {
    "weekly": "Repeat purchases week by week: the forecast (with the 95% range of the"
    " replications, shaded) against what happened; when the spec's policy is not what ran,"
    " the forecast of what ran (dashed) is the one the errors are measured on.",
    "cumulative": "The same, cumulated from the calibration end.",
    "by_purchases": "Mean repeat purchases per customer in the forecast period, by the number"
    " of repeat purchases in the calibration period: forecast against actual (hover for the"
    " number of customers in each group).",
    "revenue": "Revenue cumulated from the calibration end: the forecast (with its 95% range)"
    " against what happened.",
    "p_alive": "Customers by their probability of being still active at the calibration end,"
    " under the buying model.",
    "effect": "Each measure's change in percent, with its 95% interval (the bar).",
}


def output_files(result: HoldoutForecast) -> dict[str, str]:
    """`forecast.json` (the figures, the weekly series and the fits), `customers.csv` and
    `report.html`, as text."""
    payload = dict(result.summary)
    weekly = result.weekly.copy()
    weekly["week_start"] = weekly["week_start"].dt.strftime("%Y-%m-%d")
    payload["weekly"] = weekly.to_dict(orient="list")
    payload["fits"] = result.fits
    return {
        "forecast.json": json.dumps(payload, indent=2) + "\n",
        "customers.csv": customers_csv(result.customers[COLUMNS]),
        "report.html": render_forecast_report(result),
    }


def customers_csv(frame: pd.DataFrame) -> str:
    """`frame.to_csv(index=False, float_format="%.6g")`, the same text: the ids as they are,
    each float by "%.6g", an empty field for NaN, quoted as the csv module quotes (pandas
    writes through it). pandas formats each value through a few Python calls of its own
    (0.05 s for CDNOW's full 23,570 customers; this, 0.01 s); a frame of other columns than
    string ids and floats goes to pandas."""
    ids, values = frame.iloc[:, 0], frame.iloc[:, 1:]
    if pd.api.types.infer_dtype(ids, skipna=False) != "string" or not all(
        pd.api.types.is_float_dtype(t) for t in values.dtypes
    ):
        return frame.to_csv(index=False, float_format="%.6g")

    def text(v: float) -> str:
        return "" if v != v else "%.6g" % v  # noqa: UP031  (as pandas: float_format % v)

    columns = [list(map(text, values[name].to_numpy(dtype=float).tolist())) for name in values]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(frame.columns))
    writer.writerows(zip(ids.astype(object).tolist(), *columns, strict=True))
    return out.getvalue()


def render_forecast_report(result: HoldoutForecast) -> str:
    """The forecast of a real base as one offline HTML page."""
    s = result.summary
    drawn = figures(result)
    charts = {name: chart(fig, name, CAPTIONS[name]) for name, fig in drawn.items()}
    p_alive = result.customers["p_alive"].to_numpy(dtype=float)
    return render_page(
        "clmlang.forecasting",
        "forecast.html",
        plotly=plotly_script(),
        until=str(s["until"]),
        calibration_end=str(s["calibration_end"]),
        warning=s.get("currency_warning"),
        verdict=sentences(s),
        charts=charts,
        has_actual="actual_transactions" in result.weekly,
        replications=int(s["replications"]),
        active=f"{p_alive.sum():,.0f}",
        likely=f"{(p_alive > 0.5).mean():.0%}",
        policy=s.get("policy"),
        effect=_change(s.get("policy_effect"), currency_of(s)),
        change=_change(s.get("change"), currency_of(s)),
        figures=key_figures(s),
        goals=goal_lines(s.get("stage_goals")),
        goals_note=(s.get("stage_goals") or {}).get("note"),
        logged=_logged(s.get("net_of_policy")),
        fits=[
            {
                "model": _model(f["model"]),
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
        buying_model=_model(s["buying_model"]),
        model_choice=_readable(str(s.get("model_choice", ""))),
        backtested=any("backtest" in f for f in result.fits),
    )


def _model(name: object) -> str:
    return {**MODEL_NAMES, "gamma_gamma": "Gamma-Gamma (spend)"}.get(str(name), str(name))


def _readable(text: str) -> str:
    """A sentence with the models' keys replaced by their names, longest key first."""
    for key in sorted(MODEL_NAMES, key=len, reverse=True):
        text = text.replace(key, MODEL_NAMES[key])
    return text


def _backtest(score: object) -> str:
    """A fit's backtest as one cell: its Poisson deviance (and its gain on BG/NBD's), its
    total against the actual, its per-customer RMSE."""
    if not isinstance(score, dict):
        return ""
    gain = score["deviance_gain"]
    against = f" ({gain:+,.1f} ± {score['deviance_gain_se']:,.1f})" if gain else ""
    return (
        f"{score['deviance']:,.1f}{against}; {score['predicted']:,.1f} of "
        f"{score['actual']:,.0f} ({score['total_error']:+.1%}), RMSE {score['rmse']:.3f} "
        f"(from {' and '.join(score['cuts'])} to {score['end']})"
    )


def _logged(block: object) -> dict[str, object] | None:
    """What the policy in force's message log did to the calibration, as table rows."""
    if not isinstance(block, dict):
        return None

    def share(value: object) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    rows = []
    for r in block["responses"]:
        measured = r["response"] is not None
        rows.append(
            (
                f"{r['rule']} ({r['channel']})",
                f"{r['sent']:,} / {r['held']:,}",
                f"{share(r['converted_sent'])} / {share(r['converted_held'])}",
                f"{r['lift']:+.2%} ± {r['lift_se']:.2%}" if measured else "n/a",
                f"{r['response']:.2%} ± {r['response_se']:.2%}" if measured else r["note"],
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


def _change(change: object, currency: str | None) -> dict[str, object] | None:
    """A change block (NEW against CURRENT, or the policy against no marketing) as table
    rows: each total, the difference and its 95% interval, formatted."""
    if not isinstance(change, dict):
        return None

    def cell(kpi: str, value: float | None, signed: bool = False) -> str:
        if value is None or not np.isfinite(value):
            return "n/a"
        sign = ("+" if value >= 0 else "\u2212") if signed else ("-" if value < 0 else "")
        if kpi in ("revenue", "profit", "marketing_cost"):
            return sign + money(abs(value), currency)
        return sign + f"{abs(value):,.0f}"

    return {
        "new": change["new_policy"],
        "current": change["current_policy"],
        "replications": change["replications"],
        "rows": [
            (
                KPI_LABELS[kpi],
                cell(kpi, row["current"]),
                cell(kpi, row["new"]),
                cell(kpi, row["change"], signed=True),
                "n/a (one replication)"
                if row["low"] is None
                else f"{cell(kpi, row['low'], True)} to {cell(kpi, row['high'], True)}",
            )
            for row in change["kpis"]
            for kpi in (row["kpi"],)
        ],
    }
