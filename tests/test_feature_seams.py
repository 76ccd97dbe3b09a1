"""Where the market's features meet: prospects, behavioural events, durables and attributes
that switch, run together (each has its own tests; these pin down how they combine)."""

from __future__ import annotations

import numpy as np

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy

from .conftest import ROOT

CDP = ROOT / "specs" / "ecommerce_cdp.clm"
BASE = {"start": "existing", "purchases": {1: 0.5, 2: 0.5}, "recency_days": 200}


def test_prospects_who_left_do_not_browse_or_buy():
    """Prospects who leave within minutes of arriving (dropout 100 a day, and practically no
    conversion of their own) have no events after leaving, so an event that always brings a
    purchase converts only the few whose leaving crossed midnight: not the thousands who left."""
    market = Market.model_validate(
        {
            "population": BASE,
            "prospects": {"sources": {"web": {"per_day": 50, "convert": 1e-6, "dropout": 100}}},
            "events": {"page_visit": {"rate": 0.3, "lapsed": 1.0, "buy": 1.0, "buy_days": 2}},
        }
    )
    summary = clmlang.simulate(clmlang.load(CDP), market, customers=500, days=120, rng=3).summary
    assert summary["prospects_lost"] > 5000
    assert summary["conversions"] <= 0.02 * summary["prospects_lost"]


def test_an_event_purchase_with_nothing_to_buy_leaves_later_responses_alone():
    """Customers who own the durable they would buy (signature_line, weighted up) have events
    that bring a purchase; that purchase finds nothing to buy. Their later responses to
    messages must still come: the rule answering browsing gets about as many responses as
    when the events bring no purchase at all."""

    def responses(buy: float) -> int:
        market = Market.model_validate(
            {
                "population": BASE,
                "products": {"signature_line": {"weight": 20}},
                "events": {"page_visit": {"rate": 0.05, "buy": buy}},
            }
        )
        f = clmlang.simulate(clmlang.load(CDP), market, customers=3000, days=200, rng=3)
        return int(f.rules.set_index("rule").loc["browsing_again", "responses"].sum())

    without = responses(0.0)
    assert without > 30
    assert responses(1.0) > 0.5 * without


def test_prospects_arriving_later_have_their_attributes_switch():
    """A flag that switches at 0.5 a day is true for nearly everyone after a few days, for
    prospects who arrive during the run as for the customers there on day 0."""
    spec = clmlang.loads(
        'program "Switch"\nattribute has_children flag\n'
        "stage potential when purchases == 0\nstage customer when purchases >= 1\n"
    )
    market = Market.model_validate(
        {
            "attributes": {"has_children": {"hazard": 0.5}},
            "prospects": {"sources": {"web": {"per_day": 40, "convert": 0.001, "dropout": 0.001}}},
        }
    )
    run = simulate_policy(spec, market, customers=500, days=60, rng=np.random.default_rng(4))
    st = run.state
    later = np.flatnonzero(np.isfinite(st.arrival) & (st.arrival >= 1) & (st.arrival < 50))
    assert later.size > 1000
    flag = st.attributes["has_children"]
    # true by the end unless the switch is still to come: P(not yet) = exp(-0.5 x days waited)
    waited = np.floor(60 - st.arrival[later])
    expected = float(np.mean(1 - np.exp(-0.5 * np.maximum(waited - 1, 0))))
    assert float(np.mean(flag[later] > 0.5)) >= expected - 0.03
