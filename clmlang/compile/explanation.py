"""`clm explain`: what a policy does with one customer, and why.

Given a customer's state (`purchases=4, days_since_purchase=80 days, owns=facial`), it shows
the stage the customer is in, the segments they belong to, and for every rule whether it
would fire, quoting the clause of the spec that stops it when it would not.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core.predictions import BuyingModel, is_prediction
from ..core.source import Source
from ..language import syntax as s
from ..language.conditions import column_label, evaluate, lower, required_columns
from ..language.formatter.printer import goal_text
from ..language.symbols import Symbols
from .customer import CustomerError, customer_columns, parse_customer
from .policy import Policy, Rule
from .triggers import can_come, describe_trigger

__all__ = [
    "CustomerError",
    "Explanation",
    "RuleVerdict",
    "customer_columns",
    "explain",
    "parse_customer",
]


@dataclass(frozen=True)
class RuleVerdict:
    """One rule for one customer. `eligible`: its filters (`in stage`, `for`, `when`) hold;
    `reasons` quote the ones that do not. `trigger` says when it is looked at, and
    `trigger_blocked` why that cannot come for this customer as they are now ("" when it
    can: `10 months after purchase of new_car` cannot for someone who never bought one).
    The rule fires when both hold."""

    rule: str
    eligible: bool
    trigger: str
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    trigger_blocked: str = ""

    @property
    def trigger_can_come(self) -> bool:
        return not self.trigger_blocked

    @property
    def fires(self) -> bool:
        """Eligible, and its trigger can come."""
        return self.eligible and not self.trigger_blocked

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "fires": self.fires,
            "eligible": self.eligible,
            "trigger": self.trigger,
            "trigger_can_come": self.trigger_can_come,
            "trigger_blocked": self.trigger_blocked or None,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Explanation:
    stage: str | None
    stages: tuple[tuple[str, bool], ...]
    segments: tuple[tuple[str, bool], ...]
    rules: tuple[RuleVerdict, ...]
    state: Mapping[str, object] = field(default_factory=dict)
    goal: str | None = None  # the stage's return goal as written: `60 days`, `47..60 days`
    # the buying model's predictions the policy reads (`p_alive=72%`), and whose parameters
    predictions: tuple[tuple[str, float], ...] = ()
    model: str | None = None

    def predictions_text(self) -> str:
        """`p_alive=72.7%, expected_purchases(90 days)=1.23`: the predictions as said."""
        return ", ".join(
            f"{label}=unknown"
            if math.isnan(value)
            else f"{label}={value:.1%}"
            if label == "p_alive"
            else f"{label}={value:.3g}"
            for label, value in self.predictions
        )

    def to_dict(self) -> dict[str, object]:
        """Plain data (what `clm explain --json` prints)."""
        return {
            "customer": {k: _plain(v) for k, v in self.state.items()},
            "stage": self.stage,
            "stages": [{"stage": name, "matches": hit} for name, hit in self.stages],
            "segments": [{"segment": name, "member": hit} for name, hit in self.segments],
            "rules": [v.to_dict() for v in self.rules],
            **(
                {
                    "predictions": {k: _plain(v) for k, v in self.predictions},
                    "buying_model": self.model,
                }
                if self.predictions
                else {}
            ),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _plain(value: object) -> object:
    """A customer value as JSON has it (NaN, which JSON lacks, as null)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _text(node: object, sources: Mapping[str, Source]) -> str:
    span = node.span  # type: ignore[attr-defined]
    source = sources.get(span.file)
    return source.text[span.start : span.end] if source else type(node).__name__


def _show(key: str, columns: Mapping[str, np.ndarray], policy: Policy) -> str:
    """`field=value` for a column, in the words of the spec (`owns(line cars)=yes`), with
    codes shown as the stage, product or audience name."""
    value = columns[key][0] if key in columns else math.nan
    label = column_label(key)
    names = {
        "stage": [st.name for st in policy.stages],
        "previous_stage": [st.name for st in policy.stages],
        "last_product": [pr.name for pr in policy.products],
        "audience": [a.name for a in policy.audiences],
    }.get(key)
    if names is not None:
        return f"{label}={names[int(value)] if value >= 0 else 'none'}"
    if isinstance(value, float | np.floating) and math.isnan(value):
        return f"{label}=unknown"
    if key == "p_alive":
        return f"{label}={value:.1%}"
    if isinstance(value, bool | np.bool_):
        return f"{label}={'yes' if value else 'no'}"
    if isinstance(value, float | np.floating):
        return f"{label}={value:g}"
    return f"{label}={value}" if value != "" else f"{label}=unknown"  # no text is not known


def _conjuncts(expr: s.Expr) -> tuple[s.Expr, ...]:
    return expr.operands if isinstance(expr, s.BoolOp) and expr.op == "and" else (expr,)


def _describe_window(first: dt.date | None, last: dt.date | None) -> str | None:
    """The rule's `active` window, said as a note (the customer description has no date)."""
    if first is None and last is None:
        return None
    if first is None:
        when = f"until {last} (that day included)"
    elif last is None:
        when = f"from {first} on"
    else:
        when = f"from {first} until {last} (both days included)"
    return f"fires only {when}"


def _control_note(rule: Rule, share: float) -> str | None:
    """What the global control group means for the rule: its marketing messages are
    withheld, its transactional ones still go out."""
    if not share:
        return None
    sends = rule.sends()
    if sends and all(step.transactional for step in sends):
        return "transactional: the global control group gets it too"
    held = f"{share:.0%} of all customers are in the global control group"
    if any(step.transactional for step in sends):
        return f"{held}: they get only its transactional messages"
    return f"{held} and get none of its messages"


def explain(
    policy: Policy,
    symbols: Symbols,
    sources: Mapping[str, Source],
    customer: Mapping[str, object],
    model: BuyingModel | None = None,
    model_source: str = "the market",
) -> Explanation:
    """Explain what `policy` does with one customer, described by field values; the buying
    model's predictions under `model` (from `model_source`, as the explanation says)."""
    columns = customer_columns(customer, policy, symbols, model)
    stage_hits = [(st.name, bool(evaluate(st.condition, columns, 1)[0])) for st in policy.stages]
    if "stage" not in columns:
        current = next((i for i, (_, hit) in enumerate(stage_hits) if hit), -1)
        columns["stage"] = np.array([float(current)])
    code = int(columns["stage"][0])
    stage = policy.stages[code].name if code >= 0 else None
    segments = tuple(
        (seg.name, bool(evaluate(seg.condition, columns, 1)[0])) for seg in policy.segments
    )
    verdicts = []
    for rule in policy.rules:
        syntax_rule = symbols.rules[rule.name]
        reasons: list[str] = []
        if rule.stages and stage not in rule.stages:
            reasons.append(f"not in stage {', '.join(rule.stages)} (is in {stage or 'no stage'})")
        for clause, expr in (("for", syntax_rule.audience), ("when", syntax_rule.condition)):
            if expr is None:
                continue
            for part in _conjuncts(expr):
                lowered = lower(part, symbols)
                if not bool(evaluate(lowered, columns, 1)[0]):
                    shown = ", ".join(
                        _show(key, columns, policy) for key in sorted(required_columns(lowered))
                    )
                    reasons.append(f"`{clause} {_text(part, sources)}` is false ({shown})")
        notes = []
        window = _describe_window(rule.active_from, rule.active_until)
        if window:
            notes.append(window)
        if rule.holdout:
            notes.append(
                f"{rule.holdout:.0%} of eligible customers are held out as its control group"
            )
        control = _control_note(rule, policy.control_share)
        if control:
            notes.append(control)
        written = syntax_rule.trigger
        verdicts.append(
            RuleVerdict(
                rule.name,
                not reasons,
                describe_trigger(rule.trigger, written),
                tuple(reasons),
                tuple(notes),
                can_come(rule.trigger, columns, policy.products, written) or "",
            )
        )
    state = {k: v.item() if hasattr(v, "item") else v for k, v in customer.items()}
    written = symbols.stages[stage].goal if stage in symbols.stages else None
    goal = goal_text(written) if written is not None else None
    predictions = tuple(
        (column_label(key), float(columns[key][0])) for key in policy.columns if is_prediction(key)
    )
    under = f"{model_source}: {model.describe()}" if model and predictions else None
    return Explanation(
        stage, tuple(stage_hits), segments, tuple(verdicts), state, goal, predictions, under
    )
