"""Whether the spec's prices can be the history's: a spec priced in another currency (or
scale) than the history's amounts turns the revenue forecast into nonsense without an error
(the clinic's RUB prices on CDNOW's dollars forecast tens of millions for 71 thousand).

A history has no currency column, so the check compares magnitudes, which no rounding of
prices explains: the spec's typical price (the median of its products' positive prices)
against the history's mean repeat order value, and the forecast's revenue per purchase against
the same. A factor of `FACTOR` (an order of magnitude) or more either way is a warning: in
forecast.json (`currency_warning`), on the CLI's stderr with a hint, and at the top of the
report. It cannot be certain (a spec may sell a few dear products to a base of small
spenders), so it does not refuse; `clm forecast --history-currency` makes it certain.
"""

from __future__ import annotations

import numpy as np

from ..compile.policy import Policy
from .history import Summary

__all__ = ["FACTOR", "currency_check", "currency_refusal"]

FACTOR = 10.0


def currency_check(
    policy: Policy, s: Summary, transactions: float, revenue: float
) -> dict[str, object] | None:
    """The `currency_warning` block, or None when the spec's prices and the forecast's
    revenue per purchase are within a factor of `FACTOR` of the history's order value."""
    bought = float(s.x.sum())
    if bought <= 0:
        return None  # no repeat purchase: no order value to compare with
    history = float((s.monetary * s.x).sum() / bought)
    prices = [p.price for p in policy.products if p.price > 0]
    typical = float(np.median(prices)) if prices else None
    per_purchase = revenue / transactions if transactions > 0 else None
    found = []
    if typical is not None and _apart(typical, history):
        found.append(
            f"its typical price ({_money(typical)} {policy.currency}".rstrip()
            + ", the median of its"
            f" products' prices) is {_factor(typical, history)} the history's mean order"
            f" value ({_money(history)})"
        )
    if per_purchase is not None and _apart(per_purchase, history):
        found.append(
            f"the forecast's revenue per purchase ({_money(per_purchase)}) is"
            f" {_factor(per_purchase, history)} the history's"
        )
    if not found:
        return None
    named = policy.currency or "none declared"
    return {
        "message": f"the spec {policy.program!r} (currency: {named}) does not look"
        f" priced like the history: {'; '.join(found)}, so the revenue forecast is likely in"
        " another currency or scale",
        "hint": f"check that the history's amounts are in {policy.currency or 'the spec currency'}"
        " and the spec's prices are what its customers pay; or forecast without the spec",
        "spec_currency": policy.currency,
        "history_order_value": history,
        "spec_typical_price": typical,
        "forecast_order_value": per_purchase,
    }


def currency_refusal(policy: Policy, history_currency: str) -> str | None:
    """The reason to refuse a forecast whose history is declared in `history_currency`
    (`--history-currency`) under a spec in another currency, or None."""
    if history_currency.strip().upper() == policy.currency.upper():
        return None
    return (
        f"the history is in {history_currency.strip().upper()} but the spec {policy.program!r}"
        f" prices in {policy.currency}: its revenue would be in the wrong currency"
    )


def _apart(value: float, reference: float) -> bool:
    return reference > 0 and not 1 / FACTOR < value / reference < FACTOR


def _factor(value: float, reference: float) -> str:
    ratio = value / reference
    return f"{ratio:,.0f} times" if ratio >= 1 else f"1/{1 / ratio:,.0f} of"


def _money(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"
