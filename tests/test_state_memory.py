"""The customers' state keeps no memory for what a run cannot have (a history before day 0
without an existing base, events the market never draws), and a merge of blocks keeps each
customer's state as the run left it."""

from __future__ import annotations

import numpy as np

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine.blocks import run_blocks
from clmlang.simulation.engine.events import EventMemory
from clmlang.simulation.engine.population import State


def _state(n: int) -> State:
    zeros = np.zeros(n)
    return State(
        n, zeros, zeros.astype(bool), zeros.astype(np.int16), zeros + 1, zeros, zeros + 1,
        zeros.astype(np.uint64), zeros.astype(bool), {},
    )  # fmt: skip


def test_no_history_takes_no_memory_until_an_existing_base_fills_it():
    """Without a history the prior fields are views of one value (0 bytes per customer); an
    existing base makes them arrays of their own."""
    st = _state(1000)
    for name, value in (("prior_purchases", 0), ("prior_stage", -1)):
        assert getattr(st, name).strides == (0,) and (getattr(st, name) == value).all()
    assert np.isnan(st.prior_last_t).all()
    st.keep_history()
    st.prior_purchases[:10] = 3
    assert st.prior_purchases.sum() == 30 and st.prior_last_t.strides == (8,)


def test_an_event_without_a_rate_keeps_no_memory():
    """A declared event the market gives no rate reads 0 events and no last day."""
    policy = clmlang.load("specs/ecommerce_cdp.clm")
    mem = EventMemory(policy, Market(), 500)
    assert not mem.active
    for e in range(len(mem.names)):
        assert mem.count[e].strides == (0,) and mem.last_day[e].strides == (0,)
    assert mem.column("events:cart_abandoned", np.arange(5), 10).tolist() == [0.0] * 5
    assert np.isnan(mem.column("days_since_event:page_visit", np.arange(5), 10)).all()


def test_merged_blocks_keep_each_customers_state():
    """Two blocks merged: each customer's purchase count and money spent are those of their
    rows in the purchase log (a merge used to start the state afresh)."""
    run = run_blocks(
        clmlang.load("specs/clinic.clm"),
        Market(),
        customers=600,
        days=90,
        rng=np.random.default_rng(5),
        blocks=2,
        logs=True,
    )
    log = run.recorder.purchases.arrays()
    counts = np.bincount(log["customer"], minlength=run.state.n)
    spent = np.bincount(log["customer"], weights=log["revenue"], minlength=run.state.n)
    assert counts.sum() > 300
    assert np.array_equal(run.state.purchases, counts)
    assert np.allclose(run.state.spent, spent)
