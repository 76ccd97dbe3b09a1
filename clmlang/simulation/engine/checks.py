"""What a purchase comes to (`Check`) and what it was made of: the rows of `Recorder.items`,
one per product in a check (the main product, then each add-on attached to it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import Catalogue
from .recorder import Recorder

__all__ = ["Check", "record_items"]


@dataclass(frozen=True)
class Check:
    """What each purchase of a batch came to: revenue after discounts and upsells, the cost
    of goods, the offer's discount and bonus, the members' reward, and the profit; and what
    it was made of: the main product's revenue and cost, and the add-ons attached (for each,
    the purchases it joined and the product)."""

    revenue: np.ndarray
    cost_of_goods: np.ndarray
    discount: np.ndarray
    bonus: np.ndarray
    reward: np.ndarray
    profit: np.ndarray
    main_revenue: np.ndarray
    main_cost: np.ndarray
    add_ons: tuple[tuple[np.ndarray, int], ...]
    reward_share: np.ndarray  # each purchase's members' reward per unit of revenue


def record_items(
    recorder: Recorder,
    catalogue: Catalogue,
    ids: np.ndarray,
    t: np.ndarray,
    product: np.ndarray,
    check: Check,
) -> None:
    """What the checks were made of (`Recorder.items`): the main product with the offer's
    cost (its discount and bonus, the bonus also out of its profit), then each add-on at
    its price; the members' reward split in proportion to revenue."""
    items, cat = recorder.items, catalogue
    share = check.reward_share
    items.add(
        customer=ids,
        time=t,
        product=product,
        kind=0,
        revenue=check.main_revenue,
        cost_of_goods=check.main_cost,
        reward=share * check.main_revenue + check.bonus,
        offer_cost=check.discount + check.bonus,
    )
    for took, addon in check.add_ons:
        price = cat.price[addon]
        items.add(
            customer=ids[took],
            time=t[took],
            product=addon,
            kind=1,
            revenue=price,
            cost_of_goods=cat.cost[addon],
            reward=share[took] * price,
            offer_cost=0.0,
        )
