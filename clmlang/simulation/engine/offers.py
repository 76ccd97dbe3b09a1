"""What an offer does to the chance of a response: one formula, used by the simulator's
responses and by calibration, which divides it out of a measured response.

The lift is x(1 + discount_elasticity * discount share), a fixed discount or a bonus counting
as a share of the reference price (the offered product's price, else the mean check); an
offer of a product or a line multiplies by `product_lift` (docs/model.md).
"""

from __future__ import annotations

import numpy as np

from ...compile.policy import Policy
from ...market.model import Market, Offers
from .catalogue import Catalogue
from .program import Program, SendSite

__all__ = ["mean_check", "offer_lift", "rule_offer_lifts"]


def mean_check(catalogue: Catalogue, market: Market) -> float:
    """The reference price of an offer without a product: the first purchase's expected
    price in the catalogue, else the mean order of the spend model."""
    sp = market.spend
    mean_order = sp.p * sp.gamma / (sp.q - 1.0)
    if not catalogue.count:
        return mean_order
    w = catalogue.weights[0] / max(catalogue.weights[0].sum(), 1e-12)
    return float((w * catalogue.price).sum()) or mean_order


def offer_lift(offers: Offers, site: SendSite, catalogue: Catalogue, check: float) -> float:
    """The response multiplier of `site`'s offer."""
    price = catalogue.price[site.offer_product] if site.offer_product >= 0 else check
    price = price if price > 0 else check
    lift = 1.0 + offers.discount_elasticity * (
        site.discount_share + site.discount_amount / max(price, 1e-9)
    )
    lift += offers.bonus_elasticity * site.bonus / max(price, 1e-9)
    if site.offer_product >= 0 or site.offer_line >= 0:
        lift *= offers.product_lift
    return lift


def rule_offer_lifts(policy: Policy, market: Market) -> dict[str, float]:
    """Each rule's offer lift, the mean over its send steps that can bring a response (not
    transactional); rules with none are left out."""
    catalogue = Catalogue(policy, market)
    check = mean_check(catalogue, market)
    lifts: dict[int, list[float]] = {}
    for site in Program.of(policy).sites.values():
        if not site.send.transactional:
            lifts.setdefault(site.rule, []).append(
                offer_lift(market.offers, site, catalogue, check)
            )
    return {policy.rules[r].name: float(np.mean(v)) for r, v in lifts.items()}
