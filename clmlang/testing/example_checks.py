"""`[[example]]` tests: one customer, given as a state (as in `clm explain`) or as a purchase
history, and what the spec should do with them: their stage, the rules that fire or not, and
what those rules send (channel and offer). A rule fires when the customer is eligible (its
filters hold) and its trigger can come for them (`clm explain` says both).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..compile.explanation import RuleVerdict, explain, parse_customer
from ..compile.policy import Policy
from ..core.names import did_you_mean
from ..core.source import Source
from ..language.symbols import Symbols
from .coverage import Coverage
from .generated_histories import History, Purchase
from .state_invariants import default_model
from .testfile import Example

__all__ = ["check_example", "example_customer"]


def example_customer(ex: Example, policy: Policy) -> dict[str, object]:
    """The example's customer as the state `explain` takes."""
    if ex.history is not None:
        purchases = tuple(Purchase(int(p["day"]), p.get("product")) for p in ex.history)
        day = ex.day if ex.day is not None else max((p.day for p in purchases), default=0)
        extra = {k: v for k, v in (ex.model_extra or {}).items()}
        history = History(purchases, day, ex.audience, tuple(extra.items()))
        return history.customer(policy)
    customer = parse_customer(ex.customer or "")
    if ex.audience:
        customer["audience"] = ex.audience
    return customer


def check_example(
    ex: Example,
    policy: Policy,
    symbols: Symbols,
    sources: Mapping[str, Source],
    coverage: Coverage,
) -> tuple[str, str]:
    """What the example got wrong ("" when it passes) and the rule to point at ("" for none).
    The rules that fire for the customer count as covered."""
    # the buying model's predictions (`p_alive`) under the default market, as `clm explain`
    customer = example_customer(ex, policy)
    result = explain(policy, symbols, sources, customer, default_model())
    fires = {v.rule: v for v in result.rules}
    for name in [*ex.fires, *ex.not_fires, *(send.rule for send in ex.sends)]:
        if name not in fires:
            return f"the spec has no rule `{name}`" + did_you_mean(name, list(fires)), ""
    for v in result.rules:
        if v.eligible:
            coverage.rules.add(v.rule)
    if ex.stage is not None and result.stage != ex.stage:
        return f"expected stage `{ex.stage}`, got `{result.stage}`", ""
    for name in ex.fires:
        if not fires[name].fires:
            return f"expected `{name}` to fire; {_why_not(fires[name])}", name
    for name in ex.not_fires:
        if fires[name].fires:
            v = fires[name]
            return f"expected `{name}` not to fire; it does: eligible, {v.trigger}", name
    for send in ex.sends:
        if not fires[send.rule].fires:
            return f"expected `{send.rule}` to send; {_why_not(fires[send.rule])}", send.rule
        step = _first_send(policy.rule(send.rule))
        if step is None:
            return f"`{send.rule}` sends nothing", send.rule
        if send.channel and step.channel != send.channel:
            return (
                f"expected `{send.rule}` to send on {send.channel}, it sends on {step.channel}"
            ), send.rule
        offered = _offer_text(step)
        if send.offer and send.offer != offered:
            return f"expected offer `{send.offer}`, got `{offered}`", send.rule
    return "", ""


def _why_not(v: RuleVerdict) -> str:
    """Both halves of "fires": eligible (the filters hold), and the trigger can come."""
    if not v.eligible:
        why = "; ".join(v.reasons)
        can = "can" if v.trigger_can_come else "cannot"
        return f"it is not eligible: {why} (its trigger, {v.trigger}, {can} come)"
    return f"it is eligible, but its trigger, {v.trigger}, cannot come: {v.trigger_blocked}"


def _first_send(rule):
    steps = rule.variants[0].steps if rule.variants else rule.flow.steps
    return next((st_ for st_ in steps if st_.kind == "send"), None)


def _offer_text(step) -> str | None:
    """The offer as an example's `sends` writes it: `tee discount 10%`, `line care bonus 50`."""
    offer = step.offer
    if offer is None:
        return None
    what = offer.product or (f"line {offer.line}" if offer.line else "")
    if offer.discount_share:
        what += f" discount {offer.discount_share * 100:g}%"
    if offer.discount_amount:
        what += f" discount {offer.discount_amount:g}"
    if offer.bonus:
        what += f" bonus {offer.bonus:g}"
    return what.strip()
