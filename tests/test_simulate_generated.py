"""Property test: `clm simulate` runs every spec the checker accepts, with any market.

Specs are generated as text: custom attributes of every type (bare flags as filters
included), conditions over them and over built-in fields, and every kind of trigger; markets
model those attributes (shares, normal numbers, text values, date spans) and start new or
existing bases. A run must finish and produce its forecast: no exception of any kind.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import clmlang
from clmlang.core.diagnostics import ClmError
from clmlang.market.model import market_from_mapping

CONDITIONS = [
    "cart_abandoned",
    "not cart_abandoned",
    "cart_abandoned == true",
    "cart_abandoned == false",
    "cart_abandoned != true",
    "mileage >= {n}",
    "mileage in 1..{n}",
    'car_model == "suv"',
    'car_model != "compact"',
    "days_since(delivery) > {n} days",
    "owns(basic)",
    "not owns(line core)",
    "subscribed",
    "subscribed(club)",
    "messages(7 days) < 2",
    "messages(sms, 30 days) <= 1",
    "rfm.r >= 3",
    "total_spent / purchases > {n}",
    "days_since_purchase >= {n} days",
    "audience is premium",
    "last_product is basic",
    "bargain_hunters",
    "(cart_abandoned or mileage > {n}) and not bargain_hunters",
]
TRIGGERS = [
    "",
    "on purchase",
    "on purchase of line core",
    "on first purchase",
    "on {n} days after purchase of basic",
    "on {n} days after first purchase",
    "on {n} days after delivery",
    "on {n} days before delivery",
    "on {n} days before anniversary of delivery",
    "on anniversary of delivery",
    "on enter regular",
    "on leave new",
    "on {n} days after enter regular",
    "on {n} days of inactivity",
    "on every {n} days",
    "on schedule daily",
    "on schedule monthly on day 3",
]


@st.composite
def specs(draw) -> str:  # type: ignore[no-untyped-def]
    n = lambda: draw(st.integers(1, 90))  # noqa: E731
    lines = [
        'program "Generated" currency USD',
        "channel email cost 0.1",
        "channel sms cost 1",
        "attribute cart_abandoned flag",
        "attribute mileage number",
        "attribute delivery date",
        "attribute car_model text",
        "audience premium",
        "audience budget",
        "rfm {\n  recency 30 days, 60 days, 90 days, 120 days\n  frequency 2, 3, 4, 5\n"
        "  monetary 20, 40, 80, 160\n}",
        "product basic role profit price 20 cost 8 line core every 30 days",
        "product extra role upsell price 5 cost 1 line core attach to basic",
        "product club role lifetime price 10 cost 2 every 30 days",
        "stage new when purchases <= 1",
        "stage regular when purchases in 2..4",
        "stage loyal when purchases >= 5",
        "segment bargain_hunters when avg_check < 15 or cart_abandoned",
    ]
    for i in range(draw(st.integers(1, 4))):
        trigger = draw(st.sampled_from(TRIGGERS)).format(n=n())
        header = [trigger] if trigger else []
        if draw(st.booleans()):
            header.append(f"for {draw(st.sampled_from(CONDITIONS)).format(n=n())}")
        if not trigger or draw(st.booleans()):
            header.append(f"when {draw(st.sampled_from(CONDITIONS)).format(n=n())}")
        if draw(st.booleans()):
            header.append("holdout 20%")
        send = f'send {draw(st.sampled_from(["email", "sms"]))} "m{i}" offer line core'
        body = [*header, send, 'send email "club" offer club']
        if draw(st.booleans()):
            body += ["success purchase within 14 days", 'on failure send sms "f"']
        lines.append(f"rule r{i} {{\n  " + "\n  ".join(body) + "\n}")
    return "\n".join(lines) + "\n"


shares = st.sampled_from([None, 0.0, 0.3, 1.0])
markets = st.fixed_dictionaries(
    {
        "population": st.fixed_dictionaries({"start": st.sampled_from(["new", "existing"])}),
        "attributes": st.fixed_dictionaries(
            {
                "cart_abandoned": shares.map(lambda v: {} if v is None else {"share": v}),
                "mileage": st.sampled_from([{}, {"mean": 40.0, "sd": 30.0}]),
                "delivery": st.sampled_from([{}, {"days": 30.0}]),
                "car_model": st.sampled_from([{}, {"values": {"suv": 0.5, "compact": 0.2}}]),
            }
        ),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(spec=specs(), market=markets, seed=st.integers(0, 2**16))
def test_simulation_never_raises(spec: str, market: dict, seed: int):
    """Any spec the checker accepts simulates with any market, without an exception."""
    try:
        policy = clmlang.loads(spec)
    except ClmError:
        assume(False)  # a generated contradiction the checker rightly refuses
    result = clmlang.simulate(
        policy,
        market_from_mapping(market),
        customers=300,
        days=60,
        rng=np.random.default_rng(seed),
    )
    assert result.summary["days"] == 60
