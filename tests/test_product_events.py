"""Events on products in the simulator: a first purchase of a product or line, and add-ons
attached to a whole line."""

from __future__ import annotations

import numpy as np

import clmlang
from clmlang.market.model import Market, market_from_mapping
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.logs import event_logs

SHOP = """program "Shop" currency USD
channel email cost 0.02
product coffee role lead price 0 cost 1
product tee role profit price 20 cost 8 line apparel
product hat role profit price 30 cost 9 line apparel
product mug role profit price 10 cost 3 line kitchen
stage everyone when purchases >= 0
"""


def _run(spec: str, market: Market, seed: int = 3):
    policy = clmlang.loads(spec)
    run = simulate_policy(
        policy, market, customers=1500, days=150, rng=np.random.default_rng(seed), logs=True
    )
    return run, event_logs(run)


def test_first_purchase_of_a_product_and_a_line_fire_once_on_that_day():
    """`on first purchase of tee` (and `of line apparel`) reaches each customer who bought it
    exactly once, on the day of their first purchase of it; nobody else."""
    spec = SHOP + (
        'rule first_tee { on first purchase of tee send email "Tee care" transactional }\n'
        'rule first_apparel { on first purchase of line apparel send email "Style" transactional }\n'
    )
    _, logs = _run(spec, Market())
    purchases, messages = logs["purchases"], logs["messages"]
    for rule, bought in (("first_tee", ["tee"]), ("first_apparel", ["tee", "hat"])):
        first_day = purchases[purchases["product"].isin(bought)].groupby("customer_id")["date"]
        expected = first_day.min().sort_index()
        got = messages[messages["rule"] == rule].set_index("customer_id")["date"].sort_index()
        assert got.index.is_unique, rule  # once per customer
        assert len(expected) > 100  # the run has many buyers who come back for a second item
        assert list(got.index) == list(expected.index), rule
        assert (got == expected).all(), rule


def test_first_purchase_of_a_product_is_not_the_first_purchase():
    """A lead product makes every first purchase; `first purchase of tee` fires on a later one."""
    spec = SHOP + 'rule first_tee { on first purchase of tee send email "Tee" transactional }\n'
    _, logs = _run(spec, Market())
    purchases, messages = logs["purchases"], logs["messages"]
    first_product = purchases.groupby("customer_id")["product"].first()  # rows are in time order
    sent = messages[messages["rule"] == "first_tee"]["customer_id"]
    assert sent.size > 100
    assert (first_product[sent] == "coffee").all()


def test_upsell_attached_to_a_line_joins_purchases_of_that_line():
    """`attach to line apparel`: with an attach chance of 1 every buyer of a tee or a hat holds
    the add-on at the end, and no customer who bought only coffee and mugs does."""
    spec = SHOP + "product socks role upsell price 4 cost 1 attach to line apparel\n"
    market = market_from_mapping({"roles": {"upsell_attach": 1.0}})
    run, logs = _run(spec, market)
    purchases = logs["purchases"]
    names = [p.name for p in run.policy.products]
    socks = np.uint64(1) << np.uint64(names.index("socks"))
    holds = (run.state.owned & socks) != 0
    apparel = purchases[purchases["product"].isin(["tee", "hat"])]["customer_id"].unique()
    others = np.setdiff1d(purchases["customer_id"].unique(), apparel)
    assert apparel.size > 100 and others.size > 100
    assert holds[apparel].all()
    assert not holds[others].any()
