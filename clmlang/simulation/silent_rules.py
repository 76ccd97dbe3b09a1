"""Rules that fired 0 times because their trigger never came in the run.

A rule 400 days after a purchase in a 365-day run, or `N days before` a date the market only
puts in the past, does nothing, silently. The forecast names such rules (summary.json
`warnings`, and `clm simulate` on stderr) so an analyst does not read a 0 as a verdict on
the rule. Rules triggered by their own conditions are left out: for them, never triggering
is never being eligible, which the checker and `clm explain` speak to.
"""

from __future__ import annotations

from ..compile.policy import Trigger
from .engine import Run

__all__ = ["silent_rules"]


def silent_rules(run: Run) -> list[str]:
    """One warning per rule whose trigger picked nobody in the whole run."""
    warnings = []
    for r, rule in enumerate(run.policy.rules):
        trig = rule.trigger
        if trig.kind in ("condition", "every") or run.recorder.triggered.get(r, 0):
            continue
        # no place in the summary: the same run gives the same summary, whatever the spec's
        # file is called (`clm simulate` adds the place when it prints)
        warnings.append(f"rule `{rule.name}` fired 0 times: {_why(trig, run.days)}")
    return warnings


def _why(trig: Trigger, days: int) -> str:
    n = f"{round(trig.days)} days" if trig.days is not None else ""  # timers are whole days
    if trig.kind == "before" and trig.attribute and not trig.anniversary:
        return (
            f"its trigger, {n} before `{trig.attribute}`, needs a `{trig.attribute}` in the "
            f"future, and no customer's came within the {days}-day run (the market draws "
            "dates before day 0)"
        )
    if trig.kind in ("after", "inactivity") and trig.days is not None and trig.days >= days:
        what = "without a purchase" if trig.kind == "inactivity" else "after its anchor"
        return f"its trigger comes {n} {what}, later than the end of the {days}-day run"
    return f"its trigger ({_words(trig)}) never came in the {days}-day run"


def _words(trig: Trigger) -> str:
    n = f"{round(trig.days)} days" if trig.days is not None else ""  # timers are whole days
    event, target = trig.event, ""
    if event is not None:
        target = event.kind.replace("_", " ")
        if event.name:
            target += f" {event.name}"
        elif event.product or event.line:
            target += f" of {event.product or f'line {event.line}'}"
        elif event.stage:
            target += f" {event.stage}"
    if trig.kind == "event":
        return f"on {target}"
    if trig.kind == "after":
        return f"{n} after {trig.attribute or target}"
    if trig.kind == "before":
        anniversary = "anniversary of " if trig.anniversary else ""
        return f"{n} before {anniversary}{trig.attribute}".strip()
    if trig.kind == "anniversary":
        return f"anniversary of {trig.attribute}"
    if trig.kind == "inactivity":
        return f"{n} of inactivity"
    return f"schedule {trig.schedule} {trig.schedule_value or ''}".strip()
