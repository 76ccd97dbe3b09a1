"""`rule.NAME.discount` and `rule.NAME.bonus` overrides (a variant's `set`, a sweep): they
change the offers that have a discount (a bonus), and add one only to a rule none of whose
offers has one; an A/B arm without a discount keeps none."""

from __future__ import annotations

import pytest

import clmlang
from clmlang.market.overrides import OverrideError, apply_overrides

from .conftest import ROOT

RFM = ROOT / "specs" / "ecommerce_rfm.clm"
CLINIC = ROOT / "specs" / "clinic.clm"


def _offers(policy, rule: str) -> dict[str, tuple]:
    """(share, amount, bonus) of each send step's offer, by where the step is."""
    r = policy.rule(rule)
    found = {}
    for v in r.variants:
        for i, st in enumerate(v.steps):
            if st.kind == "send" and st.offer is not None:
                o = st.offer
                found[f"variant {v.name} {i}"] = (o.discount_share, o.discount_amount, o.bonus)

    def walk(flow, where: str) -> None:
        if flow is None:
            return
        for i, st in enumerate(flow.steps):
            if st.kind == "send" and st.offer is not None:
                o = st.offer
                found[f"{where} {i}"] = (o.discount_share, o.discount_amount, o.bonus)
        walk(flow.on_success, where + " success")
        walk(flow.on_failure, where + " failure")

    walk(r.flow, "flow")
    return found


def _with(spec, settings: dict):
    return apply_overrides(spec, settings, clmlang.Market())[0]


def test_a_discount_sweep_leaves_the_arm_without_a_discount_alone():
    """second_order: `variant plain` offers the beauty line with no discount, `variant
    discount` 10% off, its failure branch 10% off: 25% goes to the two discounts only."""
    before = _offers(clmlang.load(RFM), "second_order")
    after = _offers(_with(RFM, {"rule.second_order.discount": "25%"}), "second_order")
    assert before.keys() == after.keys() and len(before) == 3
    for where, (share, amount, bonus) in before.items():
        if share is None and amount is None:
            assert after[where] == (None, None, bonus), where  # still no discount
        else:
            assert after[where] == (0.25, None, bonus), where
    assert after["variant plain 0"] == (None, None, None)
    assert after["variant discount 0"] == (0.25, None, None)


def test_a_discount_sweep_skips_a_plain_step_beside_a_discounted_one():
    """winback_lapsing: an email with the beauty line, then an sms with 15% off."""
    after = _offers(_with(RFM, {"rule.winback_lapsing.discount": 0.3}), "winback_lapsing")
    assert sorted(after.values(), key=str) == sorted(
        [(None, None, None), (0.3, None, None)], key=str
    )


def test_a_rule_whose_offers_have_no_discount_gets_one():
    """champions_club's only offer (the signature line) has no discount: it gets the share."""
    before = _offers(clmlang.load(RFM), "champions_club")
    assert list(before.values()) == [(None, None, None)]
    after = _offers(_with(RFM, {"rule.champions_club.discount": "10%"}), "champions_club")
    assert list(after.values()) == [(0.1, None, None)]


def test_a_share_replaces_an_amount_off():
    """second_visit offers 500 off a facial: a 20% sweep value makes it 20% off, not both."""
    before = _offers(clmlang.load(CLINIC), "second_visit")
    assert [a for _, a, _ in before.values()] == [500]
    after = _offers(_with(CLINIC, {"rule.second_visit.discount": 0.2}), "second_visit")
    assert [(s, a) for s, a, _ in after.values()] == [(0.2, None)]


def test_a_bonus_goes_to_the_offers_with_a_bonus_or_to_all_when_none_has_one():
    guest = _offers(_with(RFM, {"rule.guest_signup.bonus": 7}), "guest_signup")
    assert [b for _, _, b in guest.values()] == [7.0]  # had a bonus of 2
    second = _offers(_with(RFM, {"rule.second_order.bonus": 3}), "second_order")
    assert {b for _, _, b in second.values()} == {3.0}  # none had one: every offer


def test_a_rule_that_sends_no_offer_is_an_error():
    with pytest.raises(OverrideError, match="`order_confirmation` sends no offer"):
        _with(RFM, {"rule.order_confirmation.discount": 0.1})
    with pytest.raises(OverrideError, match="no bonus to change"):
        _with(RFM, {"rule.order_confirmation.bonus": 5})
