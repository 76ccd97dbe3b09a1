"""The example strategies: each is clean under `--strict`, and together they use every feature."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

import clmlang
from clmlang.language import syntax as s
from clmlang.language.loader import load_path
from clmlang.language.parser import parse_text
from clmlang.language.symbols import iter_flows

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p for p in (ROOT / "specs").glob("*.clm"))
MODULES = sorted((ROOT / "specs" / "common").glob("*.clm"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_is_clean_and_compiles(path: Path):
    """No error and no warning, and the policy compiles."""
    analysis = clmlang.analyse(path)
    assert analysis.diagnostics == (), [f"{d.span}: {d.message}" for d in analysis.diagnostics]
    assert analysis.policy is not None and analysis.policy.rules


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_shared_module_parses(path: Path):
    """Shared modules parse cleanly on their own."""
    analysis = clmlang.analyse(path, allow_module=True)
    assert analysis.module and analysis.diagnostics == ()


def test_at_least_five_strategies():
    """The five strategies from the domain notes are there."""
    names = {p.stem for p in SPECS}
    assert {"clinic", "car_dealer", "tyre_shop", "it_integrator", "ecommerce_rfm"} <= names


def test_clinic_stages_follow_the_domain():
    """Clinic stages start after the 3rd, 8th and 22nd visit with 74, 60 and 40-day goals."""
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    goals = {st.name: st.goal_return_days for st in policy.stages}
    assert (goals["forming"], goals["loyal"], goals["devoted"]) == (74, 60, 40)
    result = [
        clmlang.explain(policy_path, {"purchases": n}).stage
        for n in (2, 3, 8, 22)
        for policy_path in [ROOT / "specs" / "clinic.clm"]
    ]
    assert result == ["newcomer", "forming", "loyal", "devoted"]


def _features() -> set[str]:
    used: set[str] = set()
    for path in SPECS + MODULES:
        for file in load_path(path).files:
            for item in file.items:
                used.add(f"item:{type(item).__name__}")
                used |= _item_features(item)
    return used


def _item_features(item: s.Item) -> set[str]:
    f: set[str] = set()
    match item:
        case s.Program(currency=currency) if currency:
            f.add("currency")
        case s.Channel():
            kind = item.kind.text if item.kind else item.name.text
            f.add(f"channel:{kind}")
            if item.capacity:
                f.add("capacity")
        case s.Cap():
            f.add("cap:" + ("channel" if item.channel else "tag" if item.tag else "global"))
            f.add(f"overflow:{item.overflow}")
        case s.Product():
            f.add(f"role:{item.role}")
            f |= {c for c in ("price", "cost", "line", "every", "reward") if getattr(item, c)}
            if item.attach_to:
                f.add("attach")
            if any(isinstance(a, s.LineArgument) for a in item.attach_to):
                f.add("attach:line")
        case s.Attribute():
            f.add(f"attribute:{item.type}")
        case s.Stage(goal=goal) if goal:
            f.add("goal:range" if isinstance(goal, s.Range) else "goal")
        case s.Rule():
            f |= _rule_features(item)
    return f


def _rule_features(rule: s.Rule) -> set[str]:
    f = {c for c in ("audience", "condition", "priority", "holdout", "exit") if getattr(rule, c)}
    if rule.stages:
        f.add("in stage")
    if rule.variants:
        f.add("variants")
    trigger = rule.trigger
    f.add("trigger:" + (type(trigger).__name__ if trigger else "condition"))
    if isinstance(trigger, s.Event):
        f.add(
            f"event:{trigger.kind.value}"
            + (":product" if trigger.product else ":line" if trigger.line else "")
        )
    if isinstance(trigger, s.After):
        f.add(
            "after:"
            + ("attribute" if isinstance(trigger.anchor, s.Name) else trigger.anchor.kind.value)
        )
    if isinstance(trigger, s.Before):
        f.add("before:" + ("anniversary" if trigger.anniversary else "date"))
    if isinstance(trigger, s.Schedule):
        f.add(f"schedule:{trigger.kind}")
    if rule.reentry:
        f.add(f"reentry:{rule.reentry.kind}" + (":per" if rule.reentry.period else ""))
    if rule.window:
        f |= {"active:from"} if rule.window.start else set()
        f |= {"active:until"} if rule.window.end else set()
    steps = [st for flow in iter_flows(rule.flow) for st in flow.steps]
    steps += [st for v in rule.variants for st in v.steps]
    for flow in iter_flows(rule.flow):
        if flow.success:
            event = flow.success.event
            f.add(
                f"success:{event.kind.value}"
                + (":product" if event.product else ":line" if event.line else "")
            )
        if flow.on_success:
            f.add("on success")
        if flow.on_failure:
            f.add("on failure" + (":nested" if flow.on_failure.success else ""))
    for st in steps:
        f.add(f"step:{type(st).__name__}")
        if isinstance(st, s.Send):
            f |= {"tags"} if st.tags else set()
            f |= {"transactional"} if st.transactional else set()
            if st.offer:
                o = st.offer
                f |= {"offer:product"} if o.product else set()
                f |= {"offer:line"} if o.line else set()
                f |= {"offer:bonus"} if o.bonus else set()
                if o.discount:
                    f.add(
                        "discount:" + ("percent" if o.discount.unit is s.Unit.PERCENT else "money")
                    )
    return f


REQUIRED = {
    "currency",
    "capacity",
    "goal",
    "goal:range",
    "attach",
    "attach:line",
    "in stage",
    "variants",
    "audience",
    "condition",
    "priority",
    "holdout",
    "exit",
    "tags",
    "transactional",
    *(
        f"item:{n}"
        for n in (
            "Use Channel Cap Control Product Attribute CustomerEvent Audience Rfm Stage Segment"
            " Rule"
        ).split()
    ),
    *(f"channel:{k}" for k in ("email", "sms", "push", "call", "messenger", "custom")),
    "cap:global",
    "cap:channel",
    "cap:tag",
    "overflow:skip",
    "overflow:delay",
    *(f"role:{r}" for r in "lead value profit repeat lifetime upsell platform efficiency".split()),
    "price",
    "cost",
    "line",
    "every",
    "reward",
    *(f"attribute:{t}" for t in ("date", "number", "money", "text", "flag")),
    "trigger:condition",
    "event:purchase",
    "event:purchase:product",
    "event:purchase:line",
    "event:first purchase",
    "event:first purchase:product",
    "event:enter",
    "event:leave",
    "event:event",
    "after:purchase",
    "after:first purchase",
    "after:enter",
    "after:event",
    "after:attribute",
    "before:date",
    "before:anniversary",
    "trigger:Anniversary",
    "trigger:Every",
    "trigger:Inactivity",
    *(f"schedule:{k}" for k in ("daily", "weekly", "monthly", "yearly", "date")),
    "reentry:once",
    "reentry:once:per",
    "reentry:always",
    "active:from",
    "active:until",
    "success:purchase",
    "success:purchase:product",
    "success:purchase:line",
    "success:enter",
    "success:event",
    "on success",
    "on failure",
    "on failure:nested",
    "step:Send",
    "step:Wait",
    "step:ContinueWith",
    "step:Stop",
    "offer:product",
    "offer:line",
    "offer:bonus",
    "discount:percent",
    "discount:money",
}


def test_examples_use_every_feature():
    """Together the examples use every construct of the language."""
    missing = REQUIRED - _features()
    assert not missing, f"no example uses: {sorted(missing)}"


def test_language_reference_examples_parse():
    """Every ```clm block in docs/language.md parses without error."""
    text = (ROOT / "docs" / "language.md").read_text()
    blocks = re.findall(r"```clm\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 10
    for block in blocks:
        result = parse_text(block, "docs/language.md")
        assert result.diagnostics == (), (block, [d.message for d in result.diagnostics])


def test_readme_spec_is_clean():
    """The spec in the README's tour checks clean and compiles."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```clm\n(.*?)```", text, re.DOTALL)
    assert blocks
    for block in blocks:
        analysis = clmlang.analyse_text(block, "README.md")
        assert analysis.diagnostics == (), [d.message for d in analysis.diagnostics]
        assert analysis.policy is not None


def test_car_dealer_customers_change_over_time():
    """simulations/car_dealer_life_changes.toml: the rules that wait for a change fire on it.

    Mileage from 8,000 km (sd 4,000) growing 40 km a day crosses 15,000 during the year, so
    the reminder fires on days after day 0; 5% of customers await a car on days 0-59, and
    `3 days before delivery_date` fires for those from day 3 (57 of 60 days) on days 0-56;
    weddings on days 0-89 have their first anniversary a year on, 7 days before it from day 358.
    """
    path = ROOT / "simulations" / "car_dealer_life_changes.toml"
    n = 4000
    run = clmlang.simulate(market=path, customers=n, logs=True)
    messages = run.logs()["messages"]
    day = (pd.to_datetime(messages["date"]) - pd.Timestamp("2026-01-01")).dt.days
    by_rule = {rule: day[messages["rule"] == rule] for rule in messages["rule"].unique()}

    delivery = by_rule["delivery_ready"]
    expected = n * 0.05 * 57 / 60
    assert abs(delivery.size - expected) <= 4 * math.sqrt(expected) and delivery.max() <= 56
    service = by_rule["heavy_use_service"]
    assert service.size > 50 and (service > 30).sum() > 5 * (service <= 30).sum()
    wedding = by_rule["wedding_congratulations"]
    assert wedding.size and wedding.min() >= 358
    off = clmlang.simulate(market=path, variant="no mileage reminder", customers=n, logs=True)
    assert "heavy_use_service" not in set(off.logs()["messages"]["rule"])


def test_the_cart_example_reacts_to_abandoned_carts():
    """simulations/ecommerce_cart.toml: the market abandons carts, browses and writes
    reviews; the cart reminder fires on carts (no more often than there are carts: once per
    14 days, only for buyers), its 20% holdout gets nothing, and without the rule (the
    variant) it fires never while the carts are still counted."""
    path = ROOT / "simulations" / "ecommerce_cart.toml"
    base = clmlang.simulate(market=path, customers=2000, days=90)
    carts = int(base.daily["events_cart_abandoned"].sum())
    assert carts > 0 and base.daily["events_page_visit"].sum() > carts
    rules = base.rules.set_index("rule")
    fired = int(rules.loc["cart_reminder", "fired"])
    assert 0 < fired <= carts
    assert int(rules.loc["cart_reminder", "holdout"]) > 0
    assert int(rules.loc["review_request", "converted"]) > 0  # a review within 14 days
    off = clmlang.simulate(market=path, variant="no cart reminder", customers=2000, days=90)
    assert (
        "cart_reminder" not in set(off.rules["rule"])
        or not off.rules.set_index("rule").loc["cart_reminder", "fired"]
    )
    assert off.daily["events_cart_abandoned"].sum() > 0
