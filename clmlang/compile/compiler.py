"""Compile a checked spec into a `Policy`.

The compiler assumes the checker found no errors: it converts units to base units, resolves
defaults (a channel's kind, a rule's re-entry policy), lowers conditions to the expression IR
and records which state columns the policy reads.
"""

from __future__ import annotations

import datetime as dt

from ..language import syntax as s
from ..language.conditions import (
    Column,
    Compare,
    Const,
    Expr,
    Logic,
    lower,
    quantity_value,
    required_columns,
)
from ..language.loader import Spec
from ..language.symbols import Symbols
from ..language.vocabulary import CHANNEL_KINDS, SOLD_ROLES
from . import policy as p

__all__ = ["compile_spec"]


def compile_spec(spec: Spec, symbols: Symbols | None = None) -> p.Policy:
    """Compile a spec that has passed the checker into a policy."""
    symbols = symbols or Symbols.from_spec(spec)
    return _Compiler(symbols).policy()


def _span(node: object) -> p.SourceSpan:
    return p.SourceSpan.of(node.span)  # type: ignore[attr-defined]


def _date(written: s.Name | None) -> dt.date | None:
    """A date as written (the checker made sure it is a real one)."""
    return dt.date.fromisoformat(written.text) if written is not None else None


def _goal(goal: s.Quantity | s.Range | None) -> tuple[float | None, float | None]:
    """A stage's return goal in days, (low, high); one number is the high end alone."""
    if isinstance(goal, s.Range):
        return goal.low.days, goal.high.days
    return None, goal.days if goal is not None else None


def _title(node: object) -> str | None:
    return getattr(node, "title", None)


class _Compiler:
    def __init__(self, symbols: Symbols):
        self.symbols = symbols
        self.columns: set[str] = set()

    def expr(self, node: s.Expr | None) -> Expr | None:
        if node is None:
            return None
        lowered = lower(node, self.symbols)
        self.columns |= required_columns(lowered)
        return lowered

    def policy(self) -> p.Policy:
        sy = self.symbols
        program = sy.program
        rfm = None
        if sy.rfm is not None:
            axes = {a.axis: tuple(quantity_value(b) for b in a.bounds) for a in sy.rfm.axes}
            rfm = p.Rfm(
                recency_days=axes.get("recency"),
                frequency=axes.get("frequency"),
                monetary=axes.get("monetary"),
                span=_span(sy.rfm),
            )
        stages = tuple(
            p.Stage(
                name=name,
                title=st.title,
                condition=self.expr(st.condition),
                goal_return_days=_goal(st.goal)[1],
                goal_return_min_days=_goal(st.goal)[0],
                span=_span(st),
            )
            for name, st in sy.stages.items()
        )
        segments = tuple(
            p.Segment(
                name=name, title=seg.title, condition=self.expr(seg.condition), span=_span(seg)
            )
            for name, seg in sy.segments.items()
        )
        rules = tuple(self.rule(rule) for rule in sy.rules.values())
        return p.Policy(
            program=program.title if program else "",
            currency=sy.currency or "",
            channels=tuple(self.channel(c) for c in sy.channels.values()),
            caps=tuple(self.cap(c) for c in sy.caps),
            control_share=quantity_value(sy.control.share) if sy.control else 0.0,
            products=tuple(self.product(pr) for pr in sy.products.values()),
            lines=tuple(sy.lines),
            attributes=tuple(
                p.Attribute(name=n, type=a.type.text, span=_span(a))  # type: ignore[arg-type]
                for n, a in sy.attributes.items()
            ),
            events=tuple(
                p.CustomerEvent(name=n, title=e.title, span=_span(e)) for n, e in sy.events.items()
            ),
            audiences=tuple(
                p.Audience(name=n, title=a.title, span=_span(a)) for n, a in sy.audiences.items()
            ),
            rfm=rfm,
            stages=stages,
            segments=segments,
            rules=rules,
            columns=tuple(sorted(self.columns)),
        )

    # ---- declarations -------------------------------------------------------------------
    def channel(self, c: s.Channel) -> p.Channel:
        kind = (
            c.kind.text if c.kind else (c.name.text if c.name.text in CHANNEL_KINDS else "custom")
        )
        return p.Channel(
            name=c.name.text,
            title=c.title,
            kind=kind,
            cost=c.cost.value if c.cost else 0.0,
            capacity_per_day=int(c.capacity.value) if c.capacity else None,
            span=_span(c),
        )

    def cap(self, c: s.Cap) -> p.Cap:
        scope = "channel" if c.channel else "tag" if c.tag else "global"
        return p.Cap(
            scope=scope,
            channel=c.channel.text if c.channel else None,
            tag=c.tag.text if c.tag else None,
            limit=int(c.limit.value),
            window_days=c.window.days,
            overflow=c.overflow,  # type: ignore[arg-type]
            span=_span(c),
        )

    def product(self, pr: s.Product) -> p.Product:
        role = pr.role.text if pr.role else "profit"
        return p.Product(
            name=pr.name.text,
            title=pr.title,
            role=role,  # type: ignore[arg-type]
            sold=role in SOLD_ROLES,
            price=pr.price.value if pr.price else 0.0,
            cost=pr.cost.value if pr.cost else 0.0,
            line=pr.line.text if pr.line else None,
            cycle_days=pr.every.days if pr.every else None,
            attach_to=tuple(n.text for n in pr.attach_to if isinstance(n, s.Name)),
            attach_to_lines=tuple(
                n.line.text for n in pr.attach_to if isinstance(n, s.LineArgument)
            ),
            reward_share=quantity_value(pr.reward) if pr.reward else None,
            span=_span(pr),
        )

    # ---- rules --------------------------------------------------------------------------
    def rule(self, r: s.Rule) -> p.Rule:
        audience = self.expr(r.audience)
        condition = self.expr(r.condition)
        stage_filter = self.stage_filter(r.stages)
        parts = [e for e in (stage_filter, audience, condition) if e is not None]
        eligible = (
            parts[0] if len(parts) == 1 else Logic(op="and", args=tuple(parts)) if parts else None
        )
        trigger = self.trigger(r.trigger)
        return p.Rule(
            name=r.name.text,
            title=r.title,
            stages=tuple(n.text for n in r.stages),
            audience=audience,
            condition=condition,
            eligible=eligible,
            trigger=trigger,
            priority=int(r.priority.value) if r.priority else 0,
            holdout=quantity_value(r.holdout) if r.holdout else 0.0,
            reentry=self.reentry(r.reentry, trigger),
            active_from=_date(r.window.start) if r.window else None,
            active_until=_date(r.window.end) if r.window else None,
            exit=self.expr(r.exit),
            variants=tuple(
                p.Variant(
                    name=v.name.text,
                    share=quantity_value(v.share),
                    steps=tuple(self.step(st) for st in v.steps),
                    span=_span(v),
                )
                for v in r.variants
            ),
            flow=self.flow(r.flow),
            span=_span(r),
            cell=p.GridCell(rule=r.cell.template, values=dict(r.cell.values)) if r.cell else None,
        )

    def stage_filter(self, stages: tuple[s.Name, ...]) -> Expr | None:
        if not stages:
            return None
        self.columns.add("stage")
        tests = tuple(
            Compare(
                op="==",
                left=Column(key="stage"),
                right=Const(value=float(self.symbols.stage_code(n.text))),
            )
            for n in stages
        )
        return tests[0] if len(tests) == 1 else Logic(op="or", args=tests)

    def reentry(self, reentry: s.Reentry | None, trigger: p.Trigger) -> p.Reentry:
        if reentry is None:
            return p.Reentry(kind="edge" if trigger.kind == "condition" else "always")
        period = reentry.period.days if reentry.period else None
        return p.Reentry(kind=reentry.kind, period_days=period)  # type: ignore[arg-type]

    def event(self, e: s.Event) -> p.EventSpec:
        kind = {
            s.EventKind.PURCHASE: "purchase",
            s.EventKind.FIRST_PURCHASE: "first_purchase",
            s.EventKind.ENTER: "enter",
            s.EventKind.LEAVE: "leave",
            s.EventKind.EVENT: "event",
        }[e.kind]
        return p.EventSpec(
            kind=kind,  # type: ignore[arg-type]
            product=e.product.text if e.product else None,
            line=e.line.text if e.line else None,
            stage=e.stage.text if e.stage and e.stage.text in self.symbols.stages else None,
            segment=e.stage.text if e.stage and e.stage.text not in self.symbols.stages else None,
            name=e.behaviour.text if e.behaviour else None,
        )

    def trigger(self, t: s.Trigger | None) -> p.Trigger:
        match t:
            case None:
                return p.Trigger(kind="condition")
            case s.Event():
                return p.Trigger(kind="event", event=self.event(t))
            case s.After(delay=delay, anchor=s.Name() as attribute):
                return p.Trigger(kind="after", attribute=attribute.text, days=delay.days)
            case s.After(delay=delay, anchor=anchor):
                return p.Trigger(kind="after", event=self.event(anchor), days=delay.days)  # type: ignore[arg-type]
            case s.Before(lead=lead, attribute=attribute, anniversary=anniversary):
                return p.Trigger(
                    kind="before", attribute=attribute.text, anniversary=anniversary, days=lead.days
                )
            case s.Anniversary(attribute=attribute):
                return p.Trigger(kind="anniversary", attribute=attribute.text)
            case s.Every(period=period):
                return p.Trigger(kind="every", days=period.days)
            case s.Inactivity(duration=duration):
                return p.Trigger(kind="inactivity", days=duration.days)
            case s.Schedule(kind=kind, value=value):
                return p.Trigger(kind="schedule", schedule=kind, schedule_value=value)  # type: ignore[arg-type]
        raise TypeError(f"unknown trigger {t!r}")

    def flow(self, f: s.Flow) -> p.Flow:
        return p.Flow(
            steps=tuple(self.step(st) for st in f.steps),
            success=p.Success(
                event=self.event(f.success.event),
                within_days=f.success.within.days,
                span=_span(f.success),
            )
            if f.success
            else None,
            on_success=self.flow(f.on_success) if f.on_success else None,
            on_failure=self.flow(f.on_failure) if f.on_failure else None,
        )

    def step(self, st: s.Step) -> p.SendStep | p.WaitStep | p.ContinueStep | p.StopStep:
        match st:
            case s.Send():
                return p.SendStep(
                    channel=st.channel.text,
                    content=st.content,
                    offer=self.offer(st.offer) if st.offer else None,
                    tags=tuple(t.text for t in st.tags),
                    transactional=st.transactional,
                    span=_span(st),
                )
            case s.Wait(duration=duration):
                return p.WaitStep(days=duration.days, span=_span(st))
            case s.ContinueWith(rule=rule):
                return p.ContinueStep(rule=rule.text, span=_span(st))
            case s.Stop():
                return p.StopStep(span=_span(st))
        raise TypeError(f"unknown step {st!r}")

    def offer(self, o: s.Offer) -> p.Offer:
        share = amount = None
        if o.discount is not None:
            if o.discount.unit is s.Unit.PERCENT:
                share = quantity_value(o.discount)
            else:
                amount = o.discount.value
        return p.Offer(
            product=o.product.text if o.product else None,
            line=o.line.text if o.line else None,
            discount_share=share,
            discount_amount=amount,
            bonus=o.bonus.value if o.bonus else None,
        )
