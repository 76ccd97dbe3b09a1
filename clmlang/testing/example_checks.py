"""`[[example]]` tests: one customer, given as a state (as in `clm explain`) or as a purchase
history, and what the spec should do with them: their stage, the rules that fire or not, and
what those rules send (channel and offer). A rule fires when the customer is eligible (its
filters hold) and its trigger can come for them (`clm explain` says both).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..compile.explanation import RuleVerdict, explain, parse_customer
from ..compile.policy import Policy, Rule
from ..core.names import did_you_mean
from ..core.source import Source
from ..language.symbols import Symbols
from .coverage import Coverage
from .generated_histories import History, Purchase
from .state_invariants import default_model
from .testfile import Example, Send

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
    """What the example got wrong ("" when it passes) and the rule to point at ("" for none;
    `rule/variant` for a variant's message). The rules the customer is eligible for count as
    covered, and the variants its `sends` name."""
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
        problem = _send_problem(send, policy.rule(send.rule), coverage)
        if problem:  # the variant's line when one is named
            return problem, send.rule + (f"/{send.variant}" if send.variant else "")
    return "", ""


def _send_problem(send: Send, rule: Rule, coverage: Coverage) -> str:
    """What a `sends` entry got wrong about a rule that fires ("" when it holds): the named
    variant's first message, or, with none named, any variant's; a failure lists them all."""
    arms = [(v.name, v.steps) for v in rule.variants] or [("", rule.flow.steps)]
    if send.variant is not None:
        known = [name for name, _ in arms if name]
        arms = [(name, steps) for name, steps in arms if name == send.variant]
        if not arms:  # found before any test runs by `variant_problems`; here for the API
            return f"`{rule.name}` has no variant `{send.variant}`" + did_you_mean(
                send.variant, known
            )
        coverage.variants.add(f"{rule.name}/{send.variant}")
    sent = [(name, _first_send(steps)) for name, steps in arms]
    if any(_matches(send, step) for _, step in sent):
        return ""
    who = f"`{rule.name}`" + (f" variant `{send.variant}`" if send.variant else "")
    if len(sent) == 1:
        step = sent[0][1]
        if step is None:
            return f"{who} sends nothing"
        if send.channel and step.channel != send.channel:
            return f"expected {who} to send on {send.channel}, it sends on {step.channel}"
        named = f" from {who}" if send.variant else ""
        return f"expected offer `{send.offer}`{named}, got `{_offer_text(step)}`"
    lines = [f"expected `{rule.name}` to send {_expected(send)}; no variant does:"]
    lines += [f"  variant `{name}` {_sends(step)}" for name, step in sent]
    lines.append('  (name the one to check: `variant = "..."` in the `sends` entry)')
    return "\n".join(lines)


def _matches(send: Send, step) -> bool:
    if step is None:
        return False
    if send.channel and step.channel != send.channel:
        return False
    return not send.offer or send.offer == _offer_text(step)


def _expected(send: Send) -> str:
    what = f"on {send.channel}" if send.channel else "a message"
    return what + (f" with offer `{send.offer}`" if send.offer else "")


def _sends(step) -> str:
    if step is None:
        return "sends nothing"
    offer = _offer_text(step)
    return f"sends on {step.channel}, " + (f"offer `{offer}`" if offer else "no offer")


def _why_not(v: RuleVerdict) -> str:
    """Both halves of "fires": eligible (the filters hold), and the trigger can come."""
    if not v.eligible:
        why = "; ".join(v.reasons)
        can = "can" if v.trigger_can_come else "cannot"
        return f"it is not eligible: {why} (its trigger, {v.trigger}, {can} come)"
    return f"it is eligible, but its trigger, {v.trigger}, cannot come: {v.trigger_blocked}"


def _first_send(steps):
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
