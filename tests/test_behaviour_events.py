"""Behavioural events in the simulator: `[market.events.NAME]` rates give Poisson counts per
customer and day; `on event`, `after event`, `success event`, `events of` and
`days_since_event of` see them. Expected figures are worked out here from the rates and the
events log, not from the engine's own counters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.market.model import Market, MarketError
from clmlang.simulation.engine import simulate_policy

HEAD = """program "Events"
channel email cost 0.01
event cart "Left a full cart"
event visit
"""
ONE_STAGE = "stage everyone when purchases >= 0\n"
CUSTOMERS, DAYS, RATE = 2000, 200, 0.03
START = pd.Timestamp("2026-01-01")


def market(cart: dict | None = None, visit: dict | None = None, **more) -> Market:
    events = {"cart": {"rate": RATE, "lapsed": 1.0, **(cart or {})}}
    if visit is not None:
        events["visit"] = visit
    email = {"reach": 1.0, "response": 0.0, "unsubscribe": 0.0}
    return Market.model_validate({"events": events, "channels": {"email": email}, **more})


def run(spec: str, m: Market, customers: int = CUSTOMERS, days: int = DAYS, seed: int = 7):
    return clmlang.simulate(
        clmlang.loads(HEAD + spec), m, customers=customers, days=days, rng=seed, logs=True
    )


def event_rows(f, name: str = "cart") -> pd.DataFrame:
    log = f.logs()["events"]
    log = log[log["event"] == name].copy()
    log["day"] = (pd.to_datetime(log["date"]) - START).dt.days
    return log


def test_counts_are_poisson_at_the_rate_and_an_on_event_rule_fires_once_per_event_day():
    """λ x customer-days events, within 4 standard errors (Poisson: the square root); the
    rule fires on each day a customer has an event, once whatever the count, so as often as
    there are customer-days with at least one: N D (1 - e^-λ) within 4 standard errors."""
    spec = ONE_STAGE + 'rule remind { on event cart send email "Your cart" }'
    f = run(spec, market())
    expected = RATE * CUSTOMERS * DAYS
    total = int(f.daily["events_cart"].sum())
    assert abs(total - expected) < 4 * math.sqrt(expected)
    rows = event_rows(f)
    assert int(rows["count"].sum()) == total
    assert not rows.duplicated(["customer_id", "day"]).any()
    fired = int(f.rules.set_index("rule").loc["remind", "fired"])
    assert fired == len(rows)
    p = 1 - math.exp(-RATE)
    n = CUSTOMERS * DAYS
    assert abs(fired - n * p) < 4 * math.sqrt(n * p * (1 - p))
    assert (rows["count"] > 1).any()  # several events on a day: one firing
    assert f.daily["events_visit"].sum() == 0  # declared, no market entry: never happens


def test_reentry_once_per_period_follows_the_events():
    """`reentry once per 30 days`: the firings are the event days 30 days or more after the
    customer's last firing, worked out from the events log."""
    spec = ONE_STAGE + 'rule remind { on event cart reentry once per 30 days send email "x" }'
    f = run(spec, market(), customers=500)
    expected = 0
    for _, days in event_rows(f).groupby("customer_id")["day"]:
        last = None
        for d in sorted(days):
            if last is None or d - last >= 30:
                expected += 1
                last = d
    assert int(f.rules.set_index("rule").loc["remind", "fired"]) == expected


def test_a_condition_on_the_count_fires_once_per_customer_who_reaches_it():
    """`when events of cart >= 3`: the customers with 3 events or more in the log."""
    spec = ONE_STAGE + 'rule third { when events of cart >= 3 send email "x" }'
    f = run(spec, market(), customers=500)
    totals = event_rows(f).groupby("customer_id")["count"].sum()
    assert int(f.rules.set_index("rule").loc["third", "fired"]) == int((totals >= 3).sum())


def test_days_since_event_and_after_event():
    """`3 days after event cart` fires 3 days after each event day still in the run, and
    `when days_since_event of cart == 3` agrees with it on the days it can come."""
    spec = ONE_STAGE + (
        'rule later { on 3 days after event cart send email "x" }\n'
        'rule since { when days_since_event of cart == 3 reentry always send email "y" }'
    )
    f = run(spec, market(), customers=500, days=100)
    rows = event_rows(f)
    by_customer = rows.groupby("customer_id")["day"].apply(set)
    # the timer fires on day d + 3 unless a later event moved the anchor before it came
    expected = sum(
        1
        for days in by_customer
        for d in days
        if d + 3 < 100 and not ({d + 1, d + 2, d + 3} & days)
    )
    rules = f.rules.set_index("rule")
    assert int(rules.loc["later", "fired"]) == expected
    assert int(rules.loc["since", "fired"]) == expected


def test_success_event_within_the_window():
    """`success event visit within 5 days` after the first cart (reentry once): converted
    when the customer visits on one of the 5 days after it."""
    spec = ONE_STAGE + (
        "rule remind { on event cart reentry once "
        'send email "x" success event visit within 5 days }'
    )
    f = run(spec, market(visit={"rate": 0.05}), customers=800, days=120)
    carts, visits = event_rows(f, "cart"), event_rows(f, "visit")
    first = carts.groupby("customer_id")["day"].min()
    seen = visits.groupby("customer_id")["day"].apply(set)
    converted = sum(1 for c, d in first.items() if any(d < v <= d + 5 for v in seen.get(c, set())))
    rules = f.rules.set_index("rule")
    assert int(rules.loc["remind", "converted"]) == converted
    assert converted > 0


def test_a_stage_can_stop_the_events():
    """A stage entered on the first event, with multiplier 0 there: one event day each."""
    spec = (
        "stage browsing when events of cart >= 1\nstage quiet when purchases >= 0\n"
        'rule remind { on enter browsing send email "x" }'
    )
    f = run(spec, market({"stages": {"browsing": 0.0}}), customers=500)
    rows = event_rows(f)
    assert rows["customer_id"].is_unique and len(rows) > 300
    assert int(f.rules.set_index("rule").loc["remind", "fired"]) == len(rows)


def test_audience_and_purchase_multipliers():
    """x0 for one audience, x2 for the other (within 4 standard errors of 2 λ times its
    customer-days); after a purchase x0 for longer than the run: no events at all."""
    spec = "audience a\naudience b\nstage everyone when audience is a or purchases >= 0\n"
    m = market(
        {"audiences": {"a": 0.0, "b": 2.0}},
        population={"audiences": {"a": 0.5, "b": 0.5}},
    )
    policy = clmlang.loads(HEAD + spec)
    r = simulate_policy(policy, m, customers=CUSTOMERS, days=DAYS, rng=np.random.default_rng(1))
    log = r.recorder.events.arrays() if r.recorder.logs else None
    assert log is None  # the events log is kept with logs only
    r = simulate_policy(
        policy, m, customers=CUSTOMERS, days=DAYS, rng=np.random.default_rng(1), logs=True
    )
    log = r.recorder.events.arrays()
    audience = r.state.audience[log["customer"]]
    assert not (audience == 0).any()
    in_b = int((r.state.audience[:CUSTOMERS] == 1).sum())
    expected = 2 * RATE * in_b * DAYS
    assert abs(int(log["count"].sum()) - expected) < 4 * math.sqrt(expected)
    none = run(ONE_STAGE, market({"after_purchase": 0.0, "after_purchase_days": 10_000}))
    assert none.daily["events_cart"].sum() == 0


def test_a_message_damps_the_events_for_its_window():
    """A message to everyone on day 0 (after the day's events), x0 for 10 days: no events
    on days 1 to 9, and events again from day 10."""
    spec = ONE_STAGE + 'rule hello { on schedule on 2026-01-01 send email "Hello" }'
    f = run(spec, market({"after_message": 0.0, "after_message_days": 10}), days=30)
    per_day = f.daily["events_cart"].to_numpy()
    assert per_day[0] > 0 and per_day[1:10].sum() == 0 and per_day[10:].min() > 0


def test_dropped_out_customers_have_the_lapsed_rate():
    """Same seed, lapsed x1 and x0: the same draws (common random numbers), so the events
    of x0 are those of x1 less those of customers who had dropped out (for good: no
    reactivation), and every customer still active at the end has the same events."""
    buying = {"a": 3.0, "b": 1.0}  # most drop out after a repeat purchase
    lapsed = {}
    for factor in (1.0, 0.0):
        m = market({"lapsed": factor, "rate": 0.05}, buying=buying)
        lapsed[factor] = simulate_policy(
            clmlang.loads(HEAD + ONE_STAGE),
            m,
            customers=1000,
            days=200,
            rng=np.random.default_rng(2),
            logs=True,
        )
    rows = {
        k: {
            tuple(x)
            for x in zip(
                *(v.recorder.events.arrays()[c] for c in ("customer", "day", "count")), strict=True
            )
        }
        for k, v in lapsed.items()
    }
    assert rows[0.0] < rows[1.0]
    alive = lapsed[1.0].state.alive
    extra = rows[1.0] - rows[0.0]
    assert all(not alive[c] for c, _, _ in extra)


def test_events_can_bring_purchases():
    """`buy = 1` within a day: the same events (the draws do not depend on it), and a
    purchase the day after each event day, answering no rule."""
    m0, m1 = market(), market({"buy": 1.0, "buy_days": 1})
    f0, f1 = run(ONE_STAGE, m0, customers=500), run(ONE_STAGE, m1, customers=500)
    assert f0.logs()["events"].equals(f1.logs()["events"])
    purchases = f1.logs()["purchases"]
    days = (pd.to_datetime(purchases["date"]) - START).dt.days
    bought = set(zip(purchases["customer_id"], days, strict=True))
    rows = event_rows(f1)
    due = rows[rows["day"] + 1 < DAYS]
    assert all((c, d + 1) in bought for c, d in zip(due["customer_id"], due["day"], strict=True))
    assert f1.daily["purchases"].sum() > f0.daily["purchases"].sum() + 0.8 * len(due)
    assert purchases["rule"].isna().all()


def test_no_events_declared_no_columns_and_no_log():
    """A spec without `event` declarations: no events_ columns, no events log."""
    f = clmlang.simulate(
        clmlang.loads('program "P"\n' + ONE_STAGE),
        Market(),
        customers=50,
        days=10,
        rng=1,
        logs=True,
    )
    assert not [c for c in f.daily.columns if c.startswith("events_")]
    assert "events" not in f.logs()


def test_the_market_names_only_declared_events_stages_and_audiences():
    """An event, or an event's stage or audience, that the spec does not declare."""
    policy = clmlang.loads(HEAD + ONE_STAGE)
    m = Market.model_validate(
        {"events": {"carts": {"rate": 0.1}, "cart": {"stages": {"every": 2.0}}}}
    )
    with pytest.raises(MarketError) as caught:
        clmlang.simulate(policy, m, customers=10, days=5, rng=1)
    text = str(caught.value)
    assert "market.events.carts" in text and "did you mean `cart`" in text
    assert "market.events.cart.stages.every" in text and "`everyone`" in text
