"""`clm diff` output: text for terminals, JSON for machines, Markdown for pull requests."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from .changes import Change

if TYPE_CHECKING:  # the simulator's impact type; diffs without --simulate never load it
    from .impact import Impact

__all__ = ["render_changes"]

_WORD = {"+": "added", "-": "removed", "~": "changed"}


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _number(value: float, sign: str = "") -> str:
    """A KPI value as a reader writes it: whole with thousands separators from 10,000 up
    (revenue 178,972, not 1.79e+05), four significant digits below (a rate 0.6138)."""
    if not math.isfinite(value):
        return "-"
    # from 9,999.5: four significant digits would round it to 1e+04
    return f"{value:{sign},.0f}" if abs(value) >= 9_999.5 else f"{value:{sign},.4g}"


def _pct(row: dict, replications: int) -> str:
    low = row["diff_pct_low"]
    if isinstance(low, float) and math.isfinite(low):
        mark = " *" if row["significant"] else ""
        text = f"{row['diff_pct']:+.1f}% [{low:+.1f}, {row['diff_pct_high']:+.1f}]{mark}"
    elif isinstance(row["diff"], float) and math.isfinite(row["diff"]):
        text = _number(row["diff"], "+")
    else:
        text = "-"
    if row["pairs"] < replications:  # the rest had no value on one side: not compared
        text += f" ({row['pairs']} of {replications} pairs)"
    return text


def render_changes(
    changes: list[Change], impact: Impact | None, labels: tuple[str, str], form: str
) -> str:
    if form == "json":
        payload = {
            "old": labels[0],
            "new": labels[1],
            "changes": [c.to_dict() for c in changes],
            "impact": impact.to_dict() if impact else None,
        }
        return json.dumps(payload, indent=2)
    md = form == "markdown"
    lines = [
        f"### clm diff: `{labels[0]}` → `{labels[1]}`"
        if md
        else f"--- {labels[0]}\n+++ {labels[1]}"
    ]
    if not changes:
        lines.append("No changes." if md else "no changes")
        return "\n".join(lines)
    if md:
        lines += ["", "| | kind | name | what changed |", "|---|---|---|---|"]
    for c in changes:
        detail = "; ".join(f"{f.path}: {_value(f.old)} → {_value(f.new)}" for f in c.fields)
        if md:
            lines.append(f"| `{c.op}` | {c.kind} | `{c.name}` | {detail or _WORD[c.op]} |")
        else:
            lines.append(f"{c.op} {c.kind} {c.name}" + (f": {detail}" if detail else ""))
    if impact is not None:
        head = (
            f"KPI impact: {impact.replications} paired replications, "
            f"{impact.customers:,} customers, {impact.days} days (* significant at 95%)"
        )
        lines += ["", f"#### {head}" if md else head]
        if md:
            lines += ["", "| KPI | old | new | change [95% interval] |", "|---|---|---|---|"]
        for row in impact.kpis.to_dict(orient="records"):
            old, new = _number(row["old"]), _number(row["new"])
            if md:
                lines.append(f"| {row['kpi']} | {old} | {new} | {_pct(row, impact.replications)} |")
            else:
                lines.append(
                    f"  {row['kpi']:<16} {old:>14} -> {new:>14}  {_pct(row, impact.replications)}"
                )
        if impact.treatment:
            title = (
                "Customers whose treatment changed (first replication; replay one with "
                "`clm simulate --trace ID`)"
            )
            lines += ["", f"#### {title}" if md else title]
            for t in impact.treatment:
                text = (
                    f"{t.customers:,} customers {t.description}, e.g. customer "
                    f"{t.example} from day {t.first_day}"
                )
                lines.append(f"- {text}" if md else f"  {text}")
    return "\n".join(lines)
