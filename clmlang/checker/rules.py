"""Communication rules: what they refer to, their values, flows, variants and caps."""

from __future__ import annotations

import datetime as dt

from ..core.diagnostics import Related
from ..core.names import suggest
from ..language import syntax as s
from ..language.symbols import iter_flows
from ..language.vocabulary import SOLD_ROLES, WEEKDAYS
from .context import Context
from .declarations import _share, count, duration, money
from .flows import caps_on_paths, continue_cycles
from .types import check_condition

__all__ = ["HOLDOUT_ARM", "check_rules"]

# the arm of a rule's control group, as the simulation's outputs name it
HOLDOUT_ARM = "holdout"


def check_rules(ctx: Context) -> None:
    """Check every rule, then what rules do together (follow-up cycles)."""
    for rule in ctx.symbols.rules.values():
        ctx.rule = rule  # a problem found in a grid rule's cell names the cell
        _rule(ctx, rule)
    ctx.rule = None
    continue_cycles(ctx)


def _rule(ctx: Context, rule: s.Rule) -> None:
    sy = ctx.symbols
    for stage in rule.stages:
        if stage.text not in sy.stages:
            ctx.undefined("stage", stage.text, stage.span, sy.stages)
    for clause, expr in (
        ("`for`", rule.audience),
        ("`when`", rule.condition),
        ("`exit when`", rule.exit),
    ):
        if expr is not None:
            check_condition(ctx, expr, clause)
    if rule.trigger is not None:
        _trigger(ctx, rule, rule.trigger)
    if rule.priority is not None:
        count(ctx, rule.priority, "a priority", minimum=0)
    if rule.holdout is not None:
        _share(ctx, rule.holdout, "a holdout")
    if rule.reentry is not None and rule.reentry.period is not None:
        duration(ctx, rule.reentry.period, "a re-entry period")
    if rule.window is not None:
        _window(ctx, rule, rule.window)
    _variants(ctx, rule)
    for flow in iter_flows(rule.flow):
        for step in flow.steps:
            _step(ctx, step)
        if flow.success is not None:
            _event(ctx, flow.success.event)
            duration(ctx, flow.success.within, "a success window")
    for variant in rule.variants:
        for step in variant.steps:
            _step(ctx, step)
    _fires_every_day(ctx, rule)
    caps_on_paths(ctx, rule)


def _event(ctx: Context, event: s.Event) -> None:
    sy = ctx.symbols
    if event.behaviour is not None:
        name = event.behaviour.text
        if name in sy.events:
            ctx.used.add(("event", name))
        else:
            ctx.undefined("event", name, event.behaviour.span, sy.events)
    if event.product is not None and event.product.text not in sy.products:
        ctx.undefined("product", event.product.text, event.product.span, sy.products)
    if event.line is not None and event.line.text not in sy.lines:
        ctx.undefined("line", event.line.text, event.line.span, sy.lines)
    if event.stage is None:
        return
    name = event.stage.text
    if name in sy.stages and name in sy.segments:
        ctx.error(
            "CLM102",
            f"`{name}` is both a stage and a segment, so `{event.kind.value} {name}` could "
            "mean either",
            event.stage.span,
            "rename the stage or the segment",
        )
    elif name in sy.segments:
        ctx.used.add(("segment", name))
    elif name not in sy.stages:
        ctx.undefined("stage or segment", name, event.stage.span, [*sy.stages, *sy.segments])


def _date_attribute(ctx: Context, name: s.Name) -> None:
    attribute = ctx.symbols.attributes.get(name.text)
    if attribute is None:
        ctx.undefined("attribute", name.text, name.span, ctx.symbols.attributes)
    elif attribute.type.text != "date":
        ctx.error(
            "CLM102",
            f"`{name}` is not a date attribute, so nothing happens on a day after it",
            name.span,
            f"declare it as `attribute {name} date`",
        )
    else:
        ctx.used.add(("attribute", name.text))


def _trigger(ctx: Context, rule: s.Rule, trigger: s.Trigger) -> None:
    match trigger:
        case s.Event():
            _event(ctx, trigger)
            _stage_event_contradiction(ctx, rule, trigger)
        case s.After(delay=delay, anchor=anchor):
            duration(ctx, delay, "the delay of `after`")
            if isinstance(anchor, s.Name):
                _date_attribute(ctx, anchor)
            else:
                _event(ctx, anchor)
        case s.Before(lead=lead, attribute=attribute):
            duration(ctx, lead, "the lead time of `before`")
            _date_attribute(ctx, attribute)
        case s.Anniversary(attribute=attribute):
            _date_attribute(ctx, attribute)
        case s.Every(period=period):
            duration(ctx, period, "`every`")
        case s.Inactivity(duration=length):
            duration(ctx, length, "inactivity")
        case s.Schedule():
            _schedule(ctx, trigger)


def _schedule(ctx: Context, schedule: s.Schedule) -> None:
    value = schedule.value or ""
    if schedule.kind == "weekly" and value not in WEEKDAYS:
        ctx.error(
            "CLM100",
            f"`{value}` is not a day of the week",
            schedule.span,
            suggest(value, WEEKDAYS) or "monday ... sunday",
        )
    elif schedule.kind == "monthly" and not (value.isdigit() and 1 <= int(value) <= 31):
        ctx.error(
            "CLM111", f"day {value} of the month does not exist", schedule.span, "use 1 to 31"
        )
    elif schedule.kind in ("yearly", "date"):
        text = f"2024-{value}" if schedule.kind == "yearly" else value  # 2024: 02-29 exists
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            ctx.error("CLM006", f"`{value}` is not a valid date", schedule.span)


def _window(ctx: Context, rule: s.Rule, window: s.Window) -> None:
    """Real calendar dates (CLM006), the first no later than the last (CLM118)."""
    dates: list[dt.date] = []
    for written in (window.start, window.end):
        if written is None:
            continue
        try:
            dates.append(dt.date.fromisoformat(written.text))
        except ValueError:
            ctx.error("CLM006", f"`{written}` is not a valid date", written.span)
    if window.start is not None and window.end is not None and len(dates) == 2:
        first, last = dates
        if first > last:
            ctx.error(
                "CLM118",
                f"rule `{rule.name}` would be active from {first} until {last}: "
                "the window ends before it starts",
                window.span,
                f"swap the dates: `active from {last} until {first}` (both days included)",
            )


def _stage_event_contradiction(ctx: Context, rule: s.Rule, event: s.Event) -> None:
    if not rule.stages or event.stage is None or event.stage.text not in ctx.symbols.stages:
        return
    stages = {n.text for n in rule.stages}
    if event.kind is s.EventKind.ENTER and event.stage.text not in stages:
        ctx.error(
            "CLM130",
            f"rule `{rule.name}` can never fire: it starts on entering `{event.stage}` "
            f"but is only for stage {', '.join(sorted(stages))}",
            event.span,
            f"add `{event.stage}` to `in stage`, or drop the stage filter",
        )
    if event.kind is s.EventKind.LEAVE and stages == {event.stage.text}:
        ctx.error(
            "CLM130",
            f"rule `{rule.name}` can never fire: on leaving `{event.stage}` the customer is no "
            f"longer in it",
            event.span,
            "filter on the stage the customer moves to, or drop `in stage`",
        )


def _step(ctx: Context, step: s.Step) -> None:
    sy = ctx.symbols
    match step:
        case s.Send(channel=channel, offer=offer):
            if channel.text not in sy.channels:
                if channel.text in sy.products:
                    ctx.error("CLM102", f"`{channel}` is a product, not a channel", channel.span)
                else:
                    ctx.undefined("channel", channel.text, channel.span, sy.channels)
            else:
                ctx.used.add(("channel", channel.text))
            if offer is not None:
                _offer(ctx, offer)
        case s.Wait(duration=length):
            duration(ctx, length, "`wait`")
        case s.ContinueWith(rule=target):
            if target.text not in sy.rules:
                ctx.undefined("rule", target.text, target.span, sy.rules)


def _offer(ctx: Context, offer: s.Offer) -> None:
    sy = ctx.symbols
    price = None
    if offer.product is not None:
        product = sy.products.get(offer.product.text)
        if product is None:
            if offer.product.text in sy.channels:
                ctx.error(
                    "CLM102", f"`{offer.product}` is a channel, not a product", offer.product.span
                )
            elif offer.product.text in sy.lines:
                ctx.error(
                    "CLM102",
                    f"`{offer.product}` is a product line",
                    offer.product.span,
                    f"write `offer line {offer.product}`",
                )
            else:
                ctx.undefined("product", offer.product.text, offer.product.span, sy.products)
        else:
            role = product.role.text if product.role else None
            if role is not None and role not in SOLD_ROLES and role in ("platform", "efficiency"):
                ctx.error(
                    "CLM131",
                    f"`{offer.product}` is an internal ({role}) product and cannot be offered",
                    offer.product.span,
                    "offer a product customers can buy",
                )
            price = product.price.value if product.price else None
    if offer.line is not None and offer.line.text not in sy.lines:
        ctx.undefined("line", offer.line.text, offer.line.span, sy.lines)
    if offer.discount is not None:
        q = offer.discount
        if q.unit is s.Unit.PERCENT:
            if not 0 < q.value <= 100:
                ctx.error("CLM111", f"a discount of {q.text}% is not between 0% and 100%", q.span)
        else:
            money(ctx, q, "a discount")
            if price is not None and q.value > price:
                ctx.error(
                    "CLM111",
                    f"a discount of {q.text} is more than the price of "
                    f"`{offer.product}` ({price:g})",
                    q.span,
                )
    if offer.bonus is not None:
        money(ctx, offer.bonus, "a bonus")


def _variants(ctx: Context, rule: s.Rule) -> None:
    if not rule.variants:
        return
    seen: dict[str, s.Variant] = {}
    for variant in rule.variants:
        _share(ctx, variant.share, "a variant share")
        if variant.name.text in seen:
            ctx.error(
                "CLM101",
                f"variant `{variant.name}` is declared twice",
                variant.name.span,
                related=(Related(seen[variant.name.text].span, "first declared here"),),
            )
        seen[variant.name.text] = variant
        if variant.name.text == HOLDOUT_ARM:
            ctx.error(
                "CLM101",
                f"variant `{variant.name}` has the name of the rule's control group: rules.csv,"
                " the logs and the effects would take one for the other",
                variant.name.span,
                "rename the variant (the control group is `holdout N%`)",
            )
        if not variant.steps:
            ctx.error("CLM115", f"variant `{variant.name}` sends nothing", variant.span)
    total = sum(v.share.value for v in rule.variants if v.share.unit is s.Unit.PERCENT)
    if abs(total - 100) > 1e-6:
        ctx.error(
            "CLM112",
            f"the variants of `{rule.name}` add up to {total:g}%, not 100%",
            rule.variants[0].span,
            "adjust the shares so every customer gets exactly one variant",
        )
    if rule.flow.steps:
        ctx.error(
            "CLM117",
            f"rule `{rule.name}` has both variants and its own steps",
            rule.flow.steps[0].span,
            "each variant's steps replace the rule's: move these steps into the variants",
        )


def _fires_every_day(ctx: Context, rule: s.Rule) -> None:
    trigger = rule.trigger
    daily = (isinstance(trigger, s.Schedule) and trigger.kind == "daily") or (
        isinstance(trigger, s.Every)
        and trigger.period.unit.is_duration
        and trigger.period.days <= 1
    )
    filtered = rule.condition is not None or rule.audience is not None or rule.stages
    always = rule.reentry is None or rule.reentry.kind == "always"
    if daily and always and not filtered:
        ctx.warning(
            "CLM134",
            f"rule `{rule.name}` sends to every customer every day",
            trigger.span,  # type: ignore[union-attr]
            "add a `when` condition or `reentry once per 30 days`; daily messages burn a base out",
        )
