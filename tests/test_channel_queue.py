"""Channels with a queue (`max_wait_days`): the overflow of a day's capacity waits for the
next days, first in first out, before the new day's messages, and is dropped once it has
waited as long as the market lets it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.market.model import Market, MarketError, market_from_mapping
from clmlang.simulation.engine import simulate_policy

# one call a day for ten customers; a rule rings all 50 customers on day 0 and no later
SPEC = """program "Queue"
channel call cost 100 capacity 10 per day
stage everyone when purchases >= 0
rule ring { on schedule on 2026-01-01 send call "Hello" }
"""
CUSTOMERS, DAYS = 50, 8


def market(max_wait: int) -> Market:
    call = {"reach": 1.0, "response": 0.0, "unsubscribe": 0.0, "max_wait_days": max_wait}
    return Market.model_validate({"channels": {"call": call}})


def forecast(max_wait: int) -> clmlang.simulation.metrics.Forecast:
    return clmlang.simulate(
        clmlang.loads(SPEC), market(max_wait), customers=CUSTOMERS, days=DAYS, rng=3, logs=True
    )


def by_day(messages: pd.DataFrame, status: str) -> list[int]:
    days = pd.to_datetime(messages["date"][messages["status"] == status])
    offset = (days - pd.Timestamp("2026-01-01")).dt.days.to_numpy()
    return np.bincount(offset, minlength=DAYS).tolist()


def test_the_overflow_waits_three_days_then_is_dropped():
    """50 calls on day 0, 10 a day: 10 go out on each of days 0 to 3 (the queue's 40, then
    30, 20, 10 waiting); the 10 still waiting at the end of day 3 (they arrived on day 0 and
    have waited 3 days) are dropped."""
    f = forecast(3)
    messages = f.logs()["messages"]
    assert by_day(messages, "delivered") == [10, 10, 10, 10, 0, 0, 0, 0]
    assert by_day(messages, "over_capacity") == [0, 0, 0, 10, 0, 0, 0, 0]
    assert len(messages) == CUSTOMERS  # each customer once: sent, or dropped
    assert messages["customer_id"].is_unique
    daily = f.daily
    assert daily["backlog_call"].tolist() == [40, 30, 20, 0, 0, 0, 0, 0]
    assert daily["expired_call"].tolist() == [0, 0, 0, 10, 0, 0, 0, 0]
    assert daily["waited_days_call"].tolist() == [0, 10, 20, 30, 0, 0, 0, 0]
    assert daily["messages_call"].tolist() == [10, 10, 10, 10, 0, 0, 0, 0]
    assert daily["over_capacity"].tolist() == [0, 0, 0, 10, 0, 0, 0, 0]
    rules = f.rules.set_index("rule")
    assert rules.loc["ring", "sent"] == 40 and rules.loc["ring", "over_capacity"] == 10


def test_waiting_messages_go_first_and_in_order():
    """A second rule ringing all 50 customers every day, 20 calls a day, a wait of 2 days:
    the queue goes first, oldest first, so the new day's calls wait behind it."""
    spec = SPEC.replace("capacity 10", "capacity 20") + (
        'rule again { on schedule daily send call "Again" }\n'
    )
    policy = clmlang.loads(spec)
    result = simulate_policy(
        policy, market(2), customers=CUSTOMERS, days=4, rng=np.random.default_rng(1), logs=True
    )
    rec = result.recorder
    # day 0: 100 calls (ring 50, again 50), 20 sent, 80 wait.
    # day 1: 20 of day 0's go (60 left), the new 50 wait behind them: 110.
    # day 2: 20 of day 0's go (40 left), 50 new: 140; day 0's 40 have waited 2 days: dropped.
    # day 3: 20 of day 1's go (30 left), 50 new: 130; day 1's 30 are dropped: 100.
    assert rec.channel_messages[:, 0].tolist() == [20, 20, 20, 20]
    assert rec.channel_backlog[:, 0].tolist() == [80, 110, 100, 100]
    assert rec.channel_waited[:, 0].tolist() == [0, 20, 40, 40]
    assert rec.channel_expired[:, 0].tolist() == [0, 0, 40, 30]
    sent = rec.messages.arrays()
    on_day_3 = sent["site"][sent["day"] == 3]
    assert np.unique(on_day_3).size == 1  # day 1's calls: all from the `again` rule


def test_without_a_wait_the_outputs_are_todays():
    """`max_wait_days = 0` (the default) drops the overflow at once, as before: the same
    daily.csv (no queue columns) and messages as a market without the key."""
    f = forecast(0)
    messages = f.logs()["messages"]
    assert by_day(messages, "delivered") == [10, 0, 0, 0, 0, 0, 0, 0]
    assert by_day(messages, "over_capacity") == [40, 0, 0, 0, 0, 0, 0, 0]
    call = {"reach": 1.0, "response": 0.0, "unsubscribe": 0.0}
    plain = clmlang.simulate(
        clmlang.loads(SPEC),
        Market.model_validate({"channels": {"call": call}}),
        customers=CUSTOMERS,
        days=DAYS,
        rng=3,
        logs=True,
    )
    pd.testing.assert_frame_equal(f.daily, plain.daily)
    pd.testing.assert_frame_equal(messages, plain.logs()["messages"])
    assert not any(c.startswith(("backlog_", "expired_")) for c in f.daily.columns)


def test_blocks_each_have_their_own_queue():
    """Stacked runs: each block has the whole capacity and its own queue."""
    policy = clmlang.loads(SPEC)
    result = simulate_policy(
        policy,
        market(3),
        customers=3 * CUSTOMERS,
        days=5,
        rng=np.random.default_rng(2),
        blocks=3,
        logs=True,
    )
    rec = result.recorder
    assert rec.channel_messages[:, 0].tolist() == [30, 30, 30, 30, 0]
    assert rec.channel_backlog[:, 0].tolist() == [120, 90, 60, 0, 0]
    assert rec.channel_expired[:, 0].tolist() == [0, 0, 0, 30, 0]
    log = rec.messages.arrays()
    per_block = np.bincount(log["customer"] // CUSTOMERS * 5 + log["day"], minlength=15)
    assert per_block.reshape(3, 5).tolist() == [[10, 10, 10, 10, 0]] * 3


@pytest.mark.parametrize("bad", [-1, 366, 1.5])
def test_the_wait_has_bounds(bad):
    with pytest.raises(MarketError):
        market_from_mapping({"channels": {"call": {"max_wait_days": bad}}})


def test_the_clinic_call_centre_example_works_a_backlog():
    """simulations/clinic_call_centre.toml: when the rules' failure branches come due for the
    whole base at once (about day 89), they ask the 200-call centre for far more calls than a
    day holds; with a 3-day backlog the overflow waits (and what waited 3 days is dropped), no
    call waits longer, and more calls are made than when the overflow is dropped at once."""
    from .conftest import ROOT

    path = ROOT / "simulations" / "clinic_call_centre.toml"
    size = {"customers": 15000, "days": 120}
    queued = clmlang.simulate(market=path, variant="backlog of 3 days", **size).daily
    dropped = clmlang.simulate(market=path, **size).daily
    assert queued["backlog_call"].max() > 200 and queued["expired_call"].sum() > 0
    assert (queued["messages_call"] <= 200).all()
    sent = queued["messages_call"].sum()
    assert 0 < queued["waited_days_call"].sum() <= 3 * sent
    assert "backlog_call" not in dropped.columns
    assert sent > dropped["messages_call"].sum()
