"""`clm explain`: what a policy does with one customer, and why.

Given a customer's state (`purchases=4, days_since_purchase=80 days, owns=facial`), it shows
the stage the customer is in, the segments they belong to, and for every rule whether it
would fire, quoting the clause of the spec that stops it when it would not.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core.names import suggest
from ..core.source import Source
from ..language import syntax as s
from ..language.conditions import column_label, evaluate, lower, required_columns
from ..language.formatter.printer import goal_text
from ..language.symbols import Symbols
from ..language.vocabulary import ATTRIBUTE_TYPES, FIELDS, PRODUCT_FIELDS, Type, product_column
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


class CustomerError(ValueError):
    """A customer description that cannot be read; the message says what and how to fix it."""


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

    def to_dict(self) -> dict[str, object]:
        """Plain data (what `clm explain --json` prints)."""
        return {
            "customer": {k: _plain(v) for k, v in self.state.items()},
            "stage": self.stage,
            "stages": [{"stage": name, "matches": hit} for name, hit in self.stages],
            "segments": [{"segment": name, "member": hit} for name, hit in self.segments],
            "rules": [v.to_dict() for v in self.rules],
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


_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(days?|weeks?|months?|years?)?$")
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}


def _value(text: str) -> float | str | bool | None:
    text = text.strip()
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("none", ""):
        return None
    m = _DURATION.match(low)
    if m:
        number = float(m.group(1))
        unit = (m.group(2) or "day").rstrip("s")
        return number * _UNIT_DAYS[unit] if m.group(2) else number
    return text.strip('"')


def parse_customer(text: str) -> dict[str, object]:
    """Read `key=value, key=value`; several products go as `owns=facial+botox`."""
    values: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, raw = part.partition("=")
        if not eq:
            raise CustomerError(f"`{part}` is not `key=value`")
        key = key.strip()
        if not key:
            raise CustomerError(f"`{part}` has no key before `=`")
        if key in values:
            hint = "; several products go as `owns=a+b`" if key == "owns" else ""
            raise CustomerError(f"`{key}` is given twice{hint}")
        values[key] = [_value(v) for v in raw.split("+")] if "+" in raw else _value(raw)
    return values


_OF = re.compile(r"^(\w+)\s+of\s+(line\s+)?(\w+)$")


def _about_products(customer: dict[str, object], symbols: Symbols) -> dict[str, float]:
    """Take the `FIELD of X` and `FIELD of line X` keys out of `customer`, as columns."""
    given: dict[str, float] = {}
    for key in [k for k in customer if " " in k]:
        m = _OF.match(key)
        if m is None or m.group(1) not in PRODUCT_FIELDS:
            example = "`purchases of new_car=1` or `days_since_purchase of line sales=700`"
            raise CustomerError(f"unknown field `{key}`; about one product write {example}")
        field, line, name = m.group(1), bool(m.group(2)), m.group(3)
        table = symbols.lines if line else symbols.products
        if name not in table:
            hint = suggest(name, table)
            what = "product line" if line else "product"
            raise CustomerError(f"unknown {what} `{name}`" + (f"; {hint}" if hint else ""))
        given[product_column(field, name, line)] = _number(customer.pop(key))
    return given


def _per_product(given: dict[str, float], owned: list[str], symbols: Symbols) -> dict:
    """Every product's and line's purchases and days since: as given, else from what is
    given about the products (owning a product counts as one purchase of it)."""
    out: dict[str, float] = {}
    for name in symbols.products:
        days = given.get(product_column("days_since_purchase", name, False), math.nan)
        bought = 1.0 if name in owned or not math.isnan(days) else 0.0
        out[product_column("purchases", name, False)] = given.get(
            product_column("purchases", name, False), bought
        )
        out[product_column("days_since_purchase", name, False)] = days
    for line, products in symbols.lines.items():
        names = [p.name.text for p in products]
        days = [out[product_column("days_since_purchase", n, False)] for n in names]
        known = [d for d in days if not math.isnan(d)]
        days_line = given.get(
            product_column("days_since_purchase", line, True), min(known, default=math.nan)
        )
        bought = sum(out[product_column("purchases", n, False)] for n in names)
        out[product_column("purchases", line, True)] = given.get(
            product_column("purchases", line, True),
            max(bought, 0.0 if math.isnan(days_line) else 1.0),
        )
        out[product_column("days_since_purchase", line, True)] = days_line
    return out


def _known_keys(symbols: Symbols) -> list[str]:
    keys = [k for k in FIELDS if not k.startswith("rfm.")]
    keys += ["owns", "unsubscribed", "messages", *symbols.attributes]
    keys += [f"messages.{c}" for c in symbols.channels]
    return keys


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _code(table: Mapping[str, object], value: object, what: str) -> float:
    if value is None:
        return -1.0
    if value not in table:
        hint = suggest(str(value), table)
        hint = f"; {hint}" if hint else f"; known: {', '.join(table)}"
        raise CustomerError(f"unknown {what} `{value}`{hint}")
    return float(list(table).index(value))  # type: ignore[arg-type]


def customer_columns(
    customer: Mapping[str, object], policy: Policy, symbols: Symbols
) -> dict[str, np.ndarray]:
    """One customer's state as the columns (one row each) that compiled conditions read;
    an unknown or unreadable field is a `CustomerError`."""
    c = dict(customer)
    given = _about_products(c, symbols)
    known = _known_keys(symbols)
    for key in c:
        if key.startswith("rfm."):
            raise CustomerError(
                f"`{key}` is computed from purchases, days_since_purchase and total_spent"
            )
        if key not in known:
            hint = suggest(key, known)
            raise CustomerError(f"unknown field `{key}`" + (f"; {hint}" if hint else ""))
    purchases = _number(c.get("purchases", 0.0))
    spent = _number(c.get("total_spent", 0.0))
    owned = [str(p) for p in _as_list(c.get("owns")) if p]
    for product in owned:
        _code(symbols.products, product, "product")
    subscribed = c.get("subscribed")
    out: dict[str, float | bool | str] = {
        "purchases": purchases,
        "total_spent": spent,
        "avg_check": _number(c.get("avg_check", spent / purchases if purchases else 0.0)),
        "days_since_purchase": _number(c.get("days_since_purchase")),
        "days_since_first_purchase": _number(c.get("days_since_first_purchase")),
        "days_in_stage": _number(c.get("days_in_stage", 0)),
        "last_product": _code(symbols.products, c.get("last_product"), "product"),
        "previous_stage": _code(symbols.stages, c.get("previous_stage"), "stage"),
        "audience": _code(symbols.audiences, c.get("audience"), "audience"),
        "subscribed": subscribed is True or (bool(subscribed) and subscribed is not False),
    }
    per_product = _per_product(given, owned, symbols)
    out.update(per_product)
    for name in symbols.products:
        out[f"owns:{name}"] = name in owned or per_product[f"purchases:{name}"] > 0
        out[f"subscribed:{name}"] = name in [str(v) for v in _as_list(subscribed)]
    for line, products in symbols.lines.items():
        out[f"owns_line:{line}"] = (
            any(out[f"owns:{p.name.text}"] for p in products)
            or per_product[f"purchases_line:{line}"] > 0
        )
    opted_out = [str(v) for v in _as_list(c.get("unsubscribed")) if v]
    for channel in symbols.channels:
        out[f"unsubscribed:{channel}"] = channel in opted_out
    for name, attribute in symbols.attributes.items():
        raw = c.get(name)
        if ATTRIBUTE_TYPES.get(attribute.type.text) is Type.DATE:
            out[f"days_since:{name}"] = _number(raw)
        elif ATTRIBUTE_TYPES.get(attribute.type.text) is Type.TEXT:
            out[f"attr:{name}"] = "" if raw is None else str(raw)
        else:
            out[f"attr:{name}"] = _number(raw)
    columns = {k: np.array([v]) for k, v in out.items()}
    for key in policy.columns:
        if key.startswith("messages:"):
            parts = key.split(":")
            given = c.get(f"messages.{parts[1]}") if len(parts) == 3 else c.get("messages")
            columns[key] = np.array([_number(given if given is not None else 0)])
    if "stage" in c:
        columns["stage"] = np.array([_code(symbols.stages, c["stage"], "stage")])
    return columns


def _number(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool | int | float):
        return float(value)
    raise CustomerError(f"`{value}` is not a number")


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


def _sends(rule: Rule) -> list:
    """Every send step of the rule: its flow, follow-ups and variants."""
    found: list = []

    def walk(flow) -> None:
        if flow is not None:
            found.extend(step for step in flow.steps if step.kind == "send")
            walk(flow.on_success)
            walk(flow.on_failure)

    walk(rule.flow)
    for variant in rule.variants:
        found.extend(step for step in variant.steps if step.kind == "send")
    return found


def _control_note(rule: Rule, share: float) -> str | None:
    """What the global control group means for the rule: its marketing messages are
    withheld, its transactional ones still go out."""
    if not share:
        return None
    sends = _sends(rule)
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
) -> Explanation:
    """Explain what `policy` does with one customer, described by field values."""
    columns = customer_columns(customer, policy, symbols)
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
    return Explanation(stage, tuple(stage_hits), segments, tuple(verdicts), state, goal)
