"""The what-if report: one self-contained HTML file that works offline.

The sections, in order: the verdict per variant in words (revenue, profit after marketing and
retention against the base, with intervals), the KPI table with intervals and a legend,
retention by customer age (Kaplan-Meier), the difference from the base over time for revenue
and profit, customers per stage and the flows between stages, economics by product role and
line, each rule against its holdout in every variant, and the sweeps. The verdicts come from
`verdicts`, the charts are Plotly figures from `charts.figures` (plotly.js inlined once); this
module lays them out, writes the tables and captions, and the notebook summary
(`Comparison._repr_html_`).
"""

from __future__ import annotations

import json
import math

from ..core.charts import chart, plotly_script
from ..core.page import clean, render_page
from ..core.statistics import interval
from .breakdowns import holdout_rules, sweep_kpis
from .charts import figures
from .experiment import Comparison
from .traces import DIRECTION, LABELS
from .verdicts import change_words, is_share, verdict_css, verdicts

__all__ = ["goal_headline", "notebook_summary", "output_files", "render_report", "verdicts"]

# the KPI table's rows (and the command line's), with the words a reader sees
# each KPI's entry in summary.json (`pairs`: the replications paired with the base)
SUMMARY_KEYS = ("mean", "low", "high", "diff", "diff_low", "diff_high", "significant", "pairs")
HEADLINE = [
    (kpi, LABELS[kpi])
    for kpi in (
        "revenue",
        "gross_profit",
        "profit",
        "marketing_cost",
        "survival_rate",
        "retention_90d",
        "churn_rate",
        "ltv",
        "messages",
        "unsubscribes",
    )
]


def goal_headline(comparison: Comparison) -> list[tuple[str, str]]:
    """The stage goals' KPIs the runs have (clmlang.simulation.stage_goals), in stage order:
    the share of each stage's returns within its goal."""
    prefix = "goal_met_"
    return [
        (kpi, f"{kpi.removeprefix(prefix)}: back within its goal")
        for kpi in comparison.runs.columns
        if kpi.startswith(prefix)
    ]


def _fmt(value: float, kpi: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if is_share(kpi):
        return f"{value:.1%}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _kpi_rows(comparison: Comparison) -> list[dict[str, object]]:
    """The headline KPIs: each variant's mean with its interval, and its change against the
    base coloured by whether it is significant and good (KPIs without a better direction,
    such as messages, are never coloured)."""
    table = comparison.comparison.set_index(["variant", "kpi"])
    kpis = set(comparison.comparison["kpi"])
    rows = []
    for kpi, name in HEADLINE + goal_headline(comparison):
        if kpi not in kpis:
            continue
        cells = []
        for variant in comparison.variant_names():
            row = table.loc[(variant, kpi)]
            spread = ""
            if math.isfinite(row["low"]):
                spread = f"{_fmt(row['low'], kpi)} to {_fmt(row['high'], kpi)}"
            cell = {"value": _fmt(row["mean"], kpi), "spread": spread, "change": None, "css": ""}
            if variant != "base" and math.isfinite(row["diff"]):
                cell["change"] = change_words(row, kpi, comparison.replications).replace(
                    "95% interval ", ""
                )
                good = (row["diff"] > 0) == (DIRECTION.get(kpi, 1) > 0)
                judged = row["significant"] and (kpi in DIRECTION or kpi.startswith("goal_met_"))
                cell["css"] = ("up" if good else "down") if judged else "flat"
            cells.append(cell)
        rows.append({"label": name, "cells": cells})
    return rows


def _economics_rows(comparison: Comparison) -> list[dict[str, object]]:
    """Economics by product role and line: a row per role and line (and all products), a
    cell per variant with its contribution and revenue, means over the replications."""
    table = comparison.products
    if table is None or table.empty:
        return []
    whole = table[(table["period"] == "total") & table["level"].isin(["role", "line", "total"])]
    means = whole.groupby(["level", "name", "variant"], sort=False)[
        ["revenue", "contribution"]
    ].mean()
    rows = []
    for level in ("role", "line", "total"):
        for name in dict.fromkeys(whole.loc[whole["level"] == level, "name"]):
            cells = []
            for variant in comparison.variant_names():
                key = (level, name, variant)
                found = key in means.index
                cells.append(
                    {
                        "value": _fmt(means.loc[key, "contribution"], "") if found else "-",
                        "detail": f"revenue {_fmt(means.loc[key, 'revenue'], '')}" if found else "",
                    }
                )
            kind = "all products" if level == "total" else level
            rows.append({"level": kind, "name": "" if level == "total" else name, "cells": cells})
    return rows


def _rule_rows(comparison: Comparison) -> list[dict[str, object]]:
    """Each rule (and arm) that fired in some variant: a cell per variant with its incremental
    revenue against the holdout and the interval over replications (or `no holdout`), then
    sends, cost and ROI; means over replications."""
    rules = comparison.rules
    if rules.empty:
        return []
    fired = rules.groupby(["rule", "arm"], sort=False)["fired"].sum()
    groups = rules.groupby(["rule", "arm", "variant"], sort=False)
    rows = []
    for rule, arm in fired[fired > 0].index:
        cells = []
        for variant in comparison.variant_names():
            if (rule, arm, variant) not in groups.groups:
                cells.append({"value": "-", "detail": ""})
                continue
            group = groups.get_group((rule, arm, variant))
            mean, low, high = interval(group["incremental_revenue"].to_numpy(dtype=float))
            if group["holdout"].max() == 0:
                value = "no holdout"
            elif math.isfinite(low):
                value = f"{mean:,.0f} ({low:,.0f} to {high:,.0f})"
            else:
                value = _fmt(mean, "")
            detail = (
                f"sent {group['sent'].mean():,.0f}, cost {group['cost'].mean():,.0f}, "
                f"ROI {_fmt(float(group['roi'].mean()), '')}"
            )
            cells.append({"value": value, "detail": detail})
        rows.append({"label": rule if arm == "-" else f"{rule} / {arm}", "cells": cells})
    return rows


def _rules_caption(comparison: Comparison) -> str:
    """What the rules chart shows, and the rules it cannot (no holdout), by name."""
    if comparison.rules.empty:
        return "The spec has no rules."
    with_one, without = holdout_rules(comparison)
    fired = comparison.rules.groupby("rule", sort=False)["fired"].sum()
    fired = set(fired[fired > 0].index)
    everywhere = [r for r in dict.fromkeys(comparison.rules["rule"]) if r not in with_one]
    if not with_one:
        names = [r for r in everywhere if r in fired]
        return (
            "No rule has a holdout in any variant, so no incremental revenue can be measured"
            + (f" (rules that fired: {', '.join(names)})." if names else ".")
            + " Give a rule a holdout (`holdout 10%`) to see what it adds."
        )
    words = [
        "Each rule's incremental revenue against its holdout (revenue within the rule's window, "
        "treated minus held-out customers), mean over replications with its 95% interval."
    ]
    listed = [r for r in everywhere if r in fired]
    if listed:
        words.append(f"Rules without a holdout, not drawn: {', '.join(listed)}.")
    for variant, names in without.items():
        extra = [r for r in names if r in with_one and r in fired]
        if extra:
            words.append(f"Without a holdout in {variant}: {', '.join(extra)}.")
    return " ".join(words)


def _chart_captions(comparison: Comparison) -> dict[str, str]:
    days = comparison.scenario.settings.days
    captions = {
        "retention": (
            "Share of customers still buying N days or more after their first purchase "
            "(Kaplan-Meier: a customer silent for the churn window counts as gone; one still "
            "buying is followed only as far as seen, so customers acquired late do not pull "
            "the curve down). The curve stops where fewer than 20 customers were observed "
            f"that long (the run is {days} days). Bands: 95% over replications."
        ),
        "revenue_difference": (
            "Cumulative revenue of each variant minus the base's, replication by replication "
            "(the base is the line at 0); band: 95% interval."
        ),
        "profit_difference": (
            "Cumulative profit after marketing (gross profit - marketing cost) of each variant "
            "minus the base's; band: 95% interval."
        ),
        "stages": (
            "Customers per stage on the last day, the base (outlined) and each variant (hatched) "
            "side by side; error bars: 95% interval."
        ),
        "flows": (
            "Customers moving between stages over the whole run (transitions.csv, mean over "
            "replications): pick the variant in the menu."
        ),
        "rules": _rules_caption(comparison),
        "roles": (
            "Contribution (gross profit - marketing cost) by product role and by product line; "
            "error bars: 95% interval."
        ),
    }
    for n, sweep in enumerate(comparison.scenario.sweeps):
        values = [f"{sweep.label}={v}" for v in sweep.values]
        moved = sweep_kpis(comparison, values)
        text = (
            f"Sweep of {sweep.key}: each KPI it moves, its change against the base by value "
            "(paired run by run; 95% error bars), the base dashed at 0, the best value starred."
            if moved
            else f"Sweep of {sweep.key}: no KPI differs between its values (revenue and profit "
            "shown)."
        )
        captions["sweep" if n == 0 else f"sweep-{n + 1}"] = text
    return captions


def render_report(comparison: Comparison) -> str:
    """The report as one HTML document (`templates/report.html`)."""
    sc = comparison.scenario
    captions = _chart_captions(comparison)
    charts = {k: chart(f, k, captions[k]) for k, f in figures(comparison).items()}
    with_one, _ = holdout_rules(comparison)
    return render_page(
        "clmlang.whatif",
        "report.html",
        plotly=plotly_script(),
        path=sc.path,
        variants=comparison.variant_names(),
        replications=comparison.replications,
        customers=f"{sc.settings.customers:,}",
        days=sc.settings.days,
        seed=sc.settings.seed,
        verdicts=_verdict_items(comparison),
        kpis=_kpi_rows(comparison),
        charts=charts,
        sweeps=[v for k, v in charts.items() if k.startswith("sweep")],
        economics=_economics_rows(comparison),
        rules=_rule_rows(comparison),
        rules_note=None if with_one else captions["rules"],
    )


def _verdict_items(comparison: Comparison) -> list[dict[str, str]]:
    return [
        {"variant": v, "text": text, "css": verdict_css(comparison, v)}
        for v, text in verdicts(comparison).items()
    ]


def notebook_summary(comparison: Comparison) -> str:
    """The verdicts and the KPI table with intervals, as compact HTML for a notebook."""
    return render_page(
        "clmlang.whatif",
        "summary.html",
        variants=comparison.variant_names(),
        replications=comparison.replications,
        verdicts=_verdict_items(comparison),
        kpis=_kpi_rows(comparison),
    )


def output_files(comparison: Comparison) -> dict[str, str]:
    """`comparison.csv`, `products.csv`, `summary.json` and `report.html`, built in
    memory."""
    table = comparison.comparison
    summary: dict[str, object] = {
        "scenario": comparison.scenario.path,
        "settings": comparison.scenario.settings.model_dump(),
        "replications": comparison.replications,
        "verdicts": verdicts(comparison),
        "variants": {},
    }
    for variant in comparison.variant_names():
        rows = table[table["variant"] == variant]
        summary["variants"][variant] = {  # type: ignore[index]
            row.kpi: {k: clean(getattr(row, k)) for k in SUMMARY_KEYS} for row in rows.itertuples()
        }
    products = comparison.products
    return {
        "comparison.csv": table.to_csv(index=False, float_format="%.6g"),
        **(
            {"products.csv": products.to_csv(index=False, float_format="%.6g")}
            if products is not None
            else {}
        ),
        "summary.json": json.dumps(summary, indent=2) + "\n",
        "report.html": render_report(comparison),
    }
