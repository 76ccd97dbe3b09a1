"""Invariants on one customer's state (`one_stage`, `max_discount`, `fires_only_when`),
searched with hypothesis over histories built from the spec's vocabulary (generated_histories.py). A
failure is shrunk to a minimal history and printed as a ready-to-paste `[[example]]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

from ..compile.explanation import customer_columns, explain
from ..compile.policy import Policy
from ..core.predictions import BuyingModel
from ..core.source import Source
from ..language import syntax as s
from ..language.conditions import Expr, evaluate, lower
from ..language.parser import parse_text
from ..language.symbols import Symbols
from ..market.model import Market
from ..market.overrides import parse_share
from .counterexamples import Tally, minimal_counterexample
from .generated_histories import History, histories
from .testfile import Invariant, TestFile

__all__ = ["STATE_KINDS", "check_state_invariant", "default_model"]

STATE_KINDS = ("one_stage", "max_discount", "fires_only_when")


def check_state_invariant(
    inv: Invariant,
    policy: Policy,
    symbols: Symbols,
    sources: Mapping[str, Source],
    test_file: TestFile,
    *,
    seed: int,
    examples: int,
) -> tuple[str, str, str]:
    """The minimal counterexample among `examples` generated histories, as a message ("" when
    none breaks the invariant), the rule to point at ("" for none), and how many histories
    were tried (and how many the invariant was about)."""
    if inv.kind == "fires_only_when" and inv.rule not in [r.name for r in policy.rules]:
        raise ValueError(f"the spec has no rule `{inv.rule}`")

    def violation(history: History) -> str | Literal[False] | None:
        return _violation(inv, history, policy, symbols, sources)

    tally = Tally()
    found = minimal_counterexample(histories(policy), violation, examples, seed, tally)
    about = {"max_discount": f"in stage {inv.stage}", "fires_only_when": f"got `{inv.rule}`"}
    tried = tally.words("histories", about.get(inv.kind, ""))
    if found is None:
        return "", "", tried
    problem = violation(found)
    paste = f'[[example]]\nname = "{inv.label}: counterexample"\n{found.to_toml()}\n' + (
        f'not_fires = ["{inv.rule}"]\n' if inv.rule else ""
    )
    return (
        (
            f"a customer {problem}.\nMinimal counterexample, ready to paste into "
            f"{Path(test_file.path).name}:\n{paste}"
        ),
        inv.rule or "",
        tried,
    )


@cache
def default_model() -> BuyingModel:
    """The buying model that examples and invariants compute predictions (`p_alive`) under:
    the default market's, as `clm explain` without a scenario."""
    return Market().buying_model()


def _violation(
    inv: Invariant,
    history: History,
    policy: Policy,
    symbols: Symbols,
    sources: Mapping[str, Source],
) -> str | Literal[False] | None:
    """How the customer with this history breaks the invariant ("is in no stage", ...),
    None when it holds, False when it says nothing about this customer."""
    customer = history.customer(policy)
    model = default_model()
    result = explain(policy, symbols, sources, customer, model)
    if inv.kind == "one_stage":
        return None if result.stage else "is in no stage"
    if inv.kind == "max_discount":
        if result.stage != inv.stage:
            return False
        limit = parse_share("share", inv.share)
        for v in result.rules:
            rule = policy.rule(v.rule)
            worst = max(
                (st_.offer.discount_share or 0.0 for st_ in rule.sends() if st_.offer is not None),
                default=0.0,
            )
            if v.fires and worst > limit + 1e-12:
                return f"is offered {worst:.0%} off by `{v.rule}` in stage {inv.stage}"
        return None
    if inv.kind == "fires_only_when":
        verdict = next(v for v in result.rules if v.rule == inv.rule)
        if not verdict.fires or not _trigger_possible(
            policy.rule(inv.rule), customer, result.stage
        ):
            return False
        columns = customer_columns(customer, policy, symbols, model)
        holds = evaluate(_condition(inv.when or "", symbols), columns, 1)[0]
        return None if holds else f"gets `{inv.rule}` though `{inv.when}` is false"
    return None


def _condition(text: str, symbols: Symbols) -> Expr:
    """An invariant's `when`, compiled as a segment's condition would be."""
    parsed = parse_text(f"segment invariant_condition when {text}\n", "<invariant>")
    if parsed.diagnostics or parsed.file is None:
        raise ValueError(f"`{text}` is not a condition")
    item = parsed.file.items[0]
    assert isinstance(item, s.Segment)
    return lower(item.condition, symbols)


def _trigger_possible(rule, customer: dict, stage: str | None) -> bool:
    """Whether the rule's trigger can come for a customer in this state (`clm explain` says
    whether the filters hold; the trigger says when they are looked at)."""
    trig = rule.trigger
    since = customer.get("days_since_purchase")
    if trig.kind == "event" and trig.event is not None:
        ev = trig.event
        if ev.segment is not None or ev.kind == "event":
            return True  # entering or leaving a segment: possible, as far as this can tell
        if ev.kind == "enter":
            return stage == ev.stage
        if ev.kind == "leave":
            return stage != ev.stage
        if ev.kind == "first_purchase" and ev.product is None and ev.line is None:
            return customer.get("purchases") == 1 and since == 0
        return since == 0
    if (
        trig.kind == "after"
        and trig.event is not None
        and trig.event.kind in ("purchase", "first_purchase")
    ):
        return since == round(trig.days or 0)
    if trig.kind == "inactivity":
        return since == round(trig.days or 0)
    return True
