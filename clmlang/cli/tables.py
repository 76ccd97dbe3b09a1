"""What the simulating commands print: a run's KPI table (with the stage goals and, with
prospects, the funnel), its warnings, and a what-if comparison's table and verdicts."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
from rich.markup import escape
from rich.table import Table

from ..compile.policy import Policy, Rule
from ..core.diagnostics import Diagnostic, Severity, render_text
from ..core.source import Source, Span
from .common import _color, _console, _out

if TYPE_CHECKING:
    from ..simulation.metrics import Forecast
    from ..whatif.experiment import Comparison

__all__ = ["print_comparison", "print_kpis", "print_warnings"]

SILENT_RULE = "CLM300"  # a rule that fired 0 times in the run (docs/diagnostics.md)
_SILENT_HINT = (
    "a 0 here is not a verdict on the rule: run more days (--days), or check that the market"
    " makes its trigger come"
)

_KPIS = (
    ("customers", "customers", "{:,.0f}"),
    ("purchases", "purchases", "{:,.0f}"),
    ("revenue", "revenue", "{:,.0f}"),
    ("gross_profit", "gross profit", "{:,.0f}"),
    ("marketing_cost", "marketing cost", "{:,.0f}"),
    ("marketing_roi", "marketing ROI", "{:.2f}"),
    ("ltv", "LTV (gross profit per customer)", "{:,.0f}"),
    ("arppu", "ARPPU", "{:,.0f}"),
    ("survival_rate", "survival rate (bought again)", "{:.1%}"),
    ("churn_rate", "churn rate (no purchase in {churn_days:g} days)", "{:.1%}"),
    ("retention_90d", "retention at 90 days", "{:.1%}"),
    ("retention_180d", "retention at 180 days", "{:.1%}"),
    ("items_per_check", "items per check", "{:.2f}"),
    ("lifetime_days", "customer lifetime, days (Kaplan-Meier)", "{:,.0f}"),
    ("top_decile_check_share", "revenue from the top 10% of checks", "{:.1%}"),
    ("revenue_gini", "Gini of revenue per customer", "{:.2f}"),
    ("messages", "messages sent", "{:,.0f}"),
    ("unsubscribes", "unsubscribes", "{:,.0f}"),
)
# shown when the market has prospects (docs/model.md, "Prospects")
_FUNNEL_KPIS = (
    ("prospects", "prospects", "{:,.0f}"),
    ("conversions", "conversions (first purchases)", "{:,.0f}"),
    ("conversion_rate", "conversion rate", "{:.1%}"),
    ("cac", "CAC (acquisition cost per customer)", "{:,.0f}"),
)


def print_kpis(result: Forecast, policy: Policy) -> None:
    console = _console()
    title = f"{escape(policy.program)}: {result.summary['days']} days"  # the user's text: no markup
    table = Table("KPI", "forecast", title=title)
    funnel = _FUNNEL_KPIS if "prospects" in result.summary else ()
    for key, label, fmt in (*_KPIS, *funnel):
        value = result.summary.get(key)
        label = label.format(churn_days=result.summary.get("churn_days") or 90)
        table.add_row(label, "-" if value is None else fmt.format(value))
    for label, value in _goal_rows(result.summary, policy):
        table.add_row(label, value)
    console.print(table)


def _goal_rows(summary: dict, policy: Policy) -> list[tuple[str, str]]:
    """A row per stage with a goal: the share of its windows met (stage_goals.py), with the
    early and late shares beside it."""
    rows = []
    for stage in policy.stages:
        if stage.goal_return_days is None:
            continue
        low = stage.goal_return_min_days
        goal = f"{low:g}..{stage.goal_return_days:g}" if low else f"{stage.goal_return_days:g}"
        met = summary.get(f"goal_met_{stage.name}")
        if met is None:
            rows.append((f"{escape(stage.name)}: back within {goal} days", "-"))
            continue
        early = summary.get(f"goal_early_{stage.name}")
        late = summary.get(f"goal_late_{stage.name}") or 0.0
        beside = f"early {early:.0%}, late {late:.0%}" if early is not None else f"late {late:.0%}"
        rows.append((f"{escape(stage.name)}: back within {goal} days", f"{met:.1%} ({beside})"))
    return rows


def print_comparison(result: Comparison) -> None:
    from ..whatif.report import (  # plotly: only when there is a report
        HEADLINE,
        goal_headline,
        verdicts,
    )

    console = _console()
    table = Table(  # variant names and paths are the user's text: escaped, never markup
        "KPI",
        *(escape(name) for name in result.variant_names()),
        title=f"{escape(result.scenario.path)}: {result.replications} replication(s)",
    )
    rows = result.comparison
    for kpi, label in HEADLINE[:6] + goal_headline(result):
        cells = []
        for variant in result.variant_names():
            row = rows[(rows["variant"] == variant) & (rows["kpi"] == kpi)]
            if row.empty:
                cells.append("-")
                continue
            row = row.iloc[0]
            text = f"{row['mean']:,.4g}" if abs(row["mean"]) < 1 else f"{row['mean']:,.0f}"
            if variant != "base" and np.isfinite(row["diff_pct"]):
                text += f" ({row['diff_pct']:+.1f}%{'*' if row['significant'] else ''}"
                pairs = int(row.get("pairs", result.replications))
                text += (
                    f", {pairs} of {result.replications} pairs)"
                    if pairs < result.replications
                    else ")"
                )
            cells.append(text)
        table.add_row(label, *cells)
    console.print(table)
    console.print("* significant at 95% (paired against the base)")
    for variant, text in verdicts(result).items():
        console.print(f"[bold]{escape(variant)}[/]: {escape(text)}")


def print_warnings(warnings: list[str], policy: Policy) -> None:
    """A run's warnings (summary.json `warnings`) on stderr: a rule's as a diagnostic placed
    at the rule's name (CLM300, with the line, a caret and a hint), the others as one line."""
    sources: dict[str, Source] = {}
    blocks = []
    for warning in warnings:
        rule = next((r for r in policy.rules if warning.startswith(f"rule `{r.name}` ")), None)
        if rule is None:
            blocks.append(f"warning: {warning}")
            continue
        place = _rule_place(rule, sources)
        found = Diagnostic(SILENT_RULE, Severity.WARNING, warning, place, _SILENT_HINT)
        blocks.append(render_text([found], sources, color=_color(sys.stderr)))
    if blocks:
        _out("\n\n".join(blocks), err=True)


def _rule_place(rule: Rule, sources: dict[str, Source]) -> Span:
    """Where `rule`'s name is written (the rule's first line when it is not there: a rule a
    grid expanded), reading its file into `sources`; the rule's place alone, without a
    caret, when the file cannot be read any more."""
    place = rule.span
    if place.file not in sources:
        try:
            sources[place.file] = Source.from_path(place.file)
        except OSError:
            return Span(place.file, 0, 0, place.line, place.column, place.line, place.column)
    source = sources[place.file]
    start = source.offset(place.line, place.column)
    line = source.line_text(place.line)
    for name in (rule.name, rule.cell.rule if rule.cell else None):
        at = line.find(f" {name}", place.column - 1) if name else -1
        if at >= 0:
            start = source.offset(place.line, at + 2)
            return source.span(start, start + len(name))  # type: ignore[arg-type]
    return source.span(start, start + max(1, len(line.rstrip()) - place.column + 1))
