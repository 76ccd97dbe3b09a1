"""Variants as overrides: change values of a spec or a market without editing either.

Keys (values: finite numbers; shares 0..1, also as "15%"; durations 0..MAX_DAYS days, also as
"2 weeks"; capacities, limits and priorities whole numbers up to MAX_COUNT; money 0..MAX_MONEY):

| key | what changes |
| --- | --- |
| `control` | the global control group's share |
| `channel.NAME.cost`, `channel.NAME.capacity` | a channel's cost per message, daily capacity |
| `cap.SCOPE.limit`, `.window`, `.overflow` | a cap; SCOPE is `global`, a channel or a tag |
| `product.NAME.price`, `product.NAME.cost` | a product's price or unit cost |
| `rule.NAME.enabled` | `false` switches the rule off |
| `rule.NAME.holdout`, `.priority` | the rule's control share, its priority |
| `rule.NAME.delay` | its trigger's days (`N days after`, `of inactivity`, `every`, `before`) |
| `rule.NAME.reentry` | at most once per this many days |
| `rule.NAME.discount`, `.bonus` | the share / bonus of the offers with one (all, if none has) |
| `rule.NAME.when` | its condition, as `.clm` text: `"days_since_purchase >= 45 days"` |
| `market.PATH` | any market key (docs/model.md), e.g. `market.channels.sms.response` |
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

from ..checker import check
from ..compile.compiler import compile_spec
from ..compile.policy import Policy
from ..core.diagnostics import render_text
from ..core.names import did_you_mean
from ..language import syntax as s
from ..language.loader import Spec, load_path
from ..language.parser import parse_text
from ..language.symbols import Symbols
from .model import MAX_DAYS, Market, MarketError, market_from_mapping

__all__ = ["OverrideError", "apply_overrides", "parse_duration", "parse_share"]

_UNITS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}
# as in a spec, where numbers stay below 10^15 (language/builder_terms.py)
MAX_MONEY = 1e15
# capacities, limits and priorities: far above any plan, far below the engine's int64 counters
MAX_COUNT = 1_000_000_000
_RULE_FIELDS = ["enabled", "holdout", "priority", "delay", "reentry", "discount", "bonus", "when"]


class OverrideError(Exception):
    """An override that names nothing, or gives a value of the wrong kind."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


def parse_share(key: str, value: Any) -> float:
    """A share from 0 to 1, written as a number (0.15) or as a percentage ("15%")."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100.0
        except ValueError:
            share = None
        if share is not None:
            if math.isfinite(share) and 0.0 <= share <= 1.0:
                return share
            raise OverrideError(key, f"a share is from 0% to 100%, not {value}")
    elif _is_number(value):
        share = _finite(key, value)
        if 0.0 <= share <= 1.0:
            return share
        raise OverrideError(key, f'a share is between 0 and 1 (or written as "10%"), not {value}')
    raise OverrideError(key, f'expected a share such as 0.1 or "10%", not {value!r}')


def parse_duration(key: str, value: Any) -> float:
    """Days from 0 to MAX_DAYS, written as a number or as text such as "2 weeks"."""
    days = None
    if _is_number(value):
        days = _finite(key, value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(day|week|month|year)s?\s*", value)
        if match:
            days = float(match.group(1)) * _UNITS[match.group(2)]
    if days is None:
        raise OverrideError(
            key, f'expected a number of days or text such as "2 weeks", not {value!r}'
        )
    if not 0.0 <= days <= MAX_DAYS:
        raise OverrideError(key, f"a duration is from 0 to {MAX_DAYS:,} days, not {value}")
    return days


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(key: str, value: int | float) -> float:
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float, from the Python API
        number = math.inf
    if not math.isfinite(number):
        raise OverrideError(key, f"expected a finite number, not {value}")
    return number


def _money(key: str, value: Any) -> float:
    """An amount from 0 to MAX_MONEY."""
    if not _is_number(value):
        raise OverrideError(key, f"expected an amount of money, not {value!r}")
    amount = _finite(key, value)
    if not 0.0 <= amount <= MAX_MONEY:
        raise OverrideError(key, f"an amount is from 0 to {MAX_MONEY:g}, not {value}")
    return amount


def _count(key: str, value: Any, least: int = 0) -> int:
    """A whole number from `least` to MAX_COUNT."""
    if not _is_number(value):
        raise OverrideError(key, f"expected a whole number, not {value!r}")
    number = _finite(key, value)
    if number != int(number) or not least <= number <= MAX_COUNT:
        raise OverrideError(key, f"a whole number from {least} to {MAX_COUNT:,}, not {value}")
    return int(number)


def apply_overrides(
    spec_path: Path, settings: dict[str, Any], market: Market
) -> tuple[Policy, Market]:
    """The policy of `spec_path` and the market, with `settings` applied."""
    when = {k: v for k, v in settings.items() if k.startswith("rule.") and k.endswith(".when")}
    policy = _compile(spec_path, when)
    market_keys = {k: v for k, v in settings.items() if k.startswith("market.")}
    for key, value in settings.items():
        if key in when or key in market_keys:
            continue
        policy = _apply(policy, key, value)
    if market_keys:
        market = _apply_market(market, market_keys)
    return policy, market


def _compile(spec_path: Path, when: dict[str, Any]) -> Policy:
    spec = load_path(spec_path)
    if when and spec.ok:
        spec = _replace_conditions(spec, when)
    errors = [d for d in spec.diagnostics if d.is_error]
    symbols = None
    if not errors:
        symbols = Symbols.from_spec(spec)
        errors = [d for d in check(spec, symbols) if d.is_error]
    if errors:
        text = render_text(errors, spec.sources)
        key = next(iter(when), "simulation.spec")
        raise OverrideError(key, f"the spec does not compile:\n{text}")
    return compile_spec(spec, symbols)


def _replace_conditions(spec: Spec, when: dict[str, Any]) -> Spec:
    rules = {
        item.name.text: item
        for file in spec.files
        for item in file.items
        if isinstance(item, s.Rule)
    }
    replaced: dict[str, s.Rule] = {}
    for key, text in when.items():
        name = key.split(".")[1]
        if name not in rules:
            known = list(rules)
            raise OverrideError(key, f"the spec has no rule `{name}`" + did_you_mean(name, known))
        if not isinstance(text, str):
            raise OverrideError(key, 'expected a condition as text, such as "purchases >= 2"')
        parsed = parse_text(f"segment override_condition when {text}\n", f"<{key}>")
        if parsed.diagnostics:
            raise OverrideError(key, f"not a condition: {parsed.diagnostics[0].message}")
        condition = parsed.file.items[0].condition
        replaced[name] = dataclasses.replace(rules[name], condition=condition)
    files = tuple(
        dataclasses.replace(
            file,
            items=tuple(
                replaced.get(item.name.text, item) if isinstance(item, s.Rule) else item
                for item in file.items
            ),
        )
        for file in spec.files
    )
    return dataclasses.replace(spec, files=files)


def _named(items: tuple, name: str, key: str, kind: str) -> int:
    names = [i.name for i in items]
    if name not in names:
        raise OverrideError(key, f"the spec has no {kind} `{name}`" + did_you_mean(name, names))
    return names.index(name)


def _field(key: str, parts: list[str], n: int, fields: list[str]) -> str:
    if len(parts) != n or parts[-1] not in fields:
        got = parts[-1] if len(parts) == n else ".".join(parts[n - 1 :]) or "(nothing)"
        raise OverrideError(
            key, f"cannot set `{got}` here; one of: {', '.join(fields)}" + did_you_mean(got, fields)
        )
    return parts[-1]


def _apply(policy: Policy, key: str, value: Any) -> Policy:
    parts = key.split(".")
    head = parts[0]
    if head == "control" and len(parts) == 1:
        return policy.model_copy(update={"control_share": parse_share(key, value)})
    if head == "channel" and len(parts) >= 2:
        i = _named(policy.channels, parts[1], key, "channel")
        field = _field(key, parts, 3, ["cost", "capacity"])
        channel = policy.channels[i]
        if field == "cost":
            channel = channel.model_copy(update={"cost": _money(key, value)})
        else:
            channel = channel.model_copy(update={"capacity_per_day": _count(key, value)})
        return policy.model_copy(update={"channels": _swap(policy.channels, i, channel)})
    if head == "product" and len(parts) >= 2:
        i = _named(policy.products, parts[1], key, "product")
        field = _field(key, parts, 3, ["price", "cost"])
        product = policy.products[i].model_copy(update={field: _money(key, value)})
        return policy.model_copy(update={"products": _swap(policy.products, i, product)})
    if head == "cap" and len(parts) >= 2:
        return _apply_cap(policy, key, parts, value)
    if head == "rule" and len(parts) >= 2:
        return _apply_rule(policy, key, parts, value)
    heads = ["control", "channel", "cap", "product", "rule", "market"]
    raise OverrideError(
        key, "unknown override" + did_you_mean(head, heads) + "; see docs/scenarios.md for the keys"
    )


def _swap(items: tuple, index: int, new: object) -> tuple:
    return (*items[:index], new, *items[index + 1 :])


def _apply_cap(policy: Policy, key: str, parts: list[str], value: Any) -> Policy:
    scope = parts[1]
    labels = [
        "global" if c.scope == "global" else (c.channel if c.scope == "channel" else c.tag)
        for c in policy.caps
    ]
    if scope not in labels:
        raise OverrideError(key, f"the spec has no cap on `{scope}`" + did_you_mean(scope, labels))
    i = labels.index(scope)
    field = _field(key, parts, 3, ["limit", "window", "overflow"])
    cap = policy.caps[i]
    if field == "limit":
        cap = cap.model_copy(update={"limit": _count(key, value, least=1)})
    elif field == "window":
        cap = cap.model_copy(update={"window_days": parse_duration(key, value)})
    else:
        if value not in ("skip", "delay"):
            raise OverrideError(key, 'expected "skip" or "delay"')
        cap = cap.model_copy(update={"overflow": value})
    return policy.model_copy(update={"caps": _swap(policy.caps, i, cap)})


def _apply_rule(policy: Policy, key: str, parts: list[str], value: Any) -> Policy:
    i = _named(policy.rules, parts[1], key, "rule")
    field = _field(key, parts, 3, _RULE_FIELDS)
    rule = policy.rules[i]
    if field == "enabled":
        if value is True:
            return policy
        if value is not False:
            raise OverrideError(key, "expected true or false")
        callers = [r.name for r in policy.rules if rule.name in _continues(r)]
        if callers:
            raise OverrideError(key, f"`{callers[0]}` continues with this rule: switch it off too")
        return policy.model_copy(update={"rules": policy.rules[:i] + policy.rules[i + 1 :]})
    if field == "holdout":
        rule = rule.model_copy(update={"holdout": parse_share(key, value)})
    elif field == "priority":
        rule = rule.model_copy(update={"priority": _count(key, value)})
    elif field == "delay":
        if rule.trigger.days is None:
            raise OverrideError(key, f"the trigger of `{rule.name}` has no delay to change")
        trigger = rule.trigger.model_copy(update={"days": parse_duration(key, value)})
        rule = rule.model_copy(update={"trigger": trigger})
    elif field == "reentry":
        reentry = rule.reentry.model_copy(
            update={"kind": "once", "period_days": parse_duration(key, value)}
        )
        rule = rule.model_copy(update={"reentry": reentry})
    else:  # discount, bonus: the rule's offers that have one (all its offers when none has)
        amount = parse_share(key, value) if field == "discount" else _money(key, value)
        rule = _set_offers(rule, key, field, amount)
    return policy.model_copy(update={"rules": _swap(policy.rules, i, rule)})


def _continues(rule) -> set[str]:
    found: set[str] = set()

    def walk(flow) -> None:
        if flow is None:
            return
        found.update(st.rule for st in flow.steps if st.kind == "continue")
        walk(flow.on_success)
        walk(flow.on_failure)

    walk(rule.flow)
    for variant in rule.variants:
        found.update(st.rule for st in variant.steps if st.kind == "continue")
    return found


def _set_offers(rule, key: str, field: str, amount: float):
    """`rule` with a new discount share (replacing a share or an amount off) or bonus on the
    offers that have a discount (a bonus); when none of its offers has one, on every offer.
    A step (an A/B variant) that sends no offer, or an offer without one beside offers with
    one, keeps none: a sweep of the discount changes the discount, it adds no new arm to it."""
    offers = [st.offer for st in rule.sends() if st.offer is not None]
    if not offers:
        raise OverrideError(key, f"`{rule.name}` sends no offer: there is no {field} to change")

    def has(offer) -> bool:
        if field == "bonus":
            return offer.bonus is not None
        return offer.discount_share is not None or offer.discount_amount is not None

    some = any(has(o) for o in offers)
    if field == "discount":
        update: dict[str, float | None] = {"discount_share": amount, "discount_amount": None}
    else:
        update = {"bonus": amount}
    return _map_offers(rule, update, lambda offer: has(offer) or not some)


def _map_offers(rule, update: dict, chosen):
    def steps(items: tuple) -> tuple:
        return tuple(
            st.model_copy(update={"offer": st.offer.model_copy(update=update)})
            if st.kind == "send" and st.offer is not None and chosen(st.offer)
            else st
            for st in items
        )

    def flow(f):
        if f is None:
            return None
        return f.model_copy(
            update={
                "steps": steps(f.steps),
                "on_success": flow(f.on_success),
                "on_failure": flow(f.on_failure),
            }
        )

    variants = tuple(v.model_copy(update={"steps": steps(v.steps)}) for v in rule.variants)
    return rule.model_copy(update={"flow": flow(rule.flow), "variants": variants})


def _apply_market(market: Market, settings: dict[str, Any]) -> Market:
    data = market.model_dump(by_alias=True)  # keys as a file writes them (`from`, `to`)
    for key, value in settings.items():
        parts = key.split(".")[1:]
        cursor: Any = data
        for j, part in enumerate(parts[:-1]):
            if not isinstance(cursor, dict):
                raise OverrideError(key, f"`{'.'.join(parts[:j])}` has no keys")
            cursor = cursor.setdefault(part, {})
        if not isinstance(cursor, dict) or not parts:
            raise OverrideError(key, "not a market key")
        cursor[parts[-1]] = value
    try:
        return market_from_mapping(data, "<override>")
    except MarketError as error:
        bad, message = error.problems[0]
        raise OverrideError(bad, message) from None
