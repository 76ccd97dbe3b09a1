"""The buying model's predictions in the simulator: rules reading `p_alive` and
`expected_purchases(D)` against the closed forms (written out here) applied to the purchase
log day by day, and the mean p_alive against the share the simulator still has alive.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

import clmlang
from clmlang.market.model import Market

HEADER = """program "Store" currency USD
channel email kind email
stage visitor when purchases == 0
stage buyer when purchases >= 1
"""


# ---- the simulator ---------------------------------------------------------------------


DAYS = 300


def _p_alive(x, t_x, T, r, alpha, a, b):
    """Eq. 13 written out for this test."""
    odds = a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return np.where(x > 0, 1 / (1 + odds), 1.0)


def _expected(t, x, t_x, T, r, alpha, a, b):
    """Eq. 10 written out for this test."""
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    return (a + b + x - 1) / (a - 1) * body * _p_alive(x, t_x, T, r, alpha, a, b)


def _daily(purchases: pd.DataFrame, form) -> dict[int, np.ndarray]:
    """Per customer, `form(x, t_x, T)` on every day of the run, from the purchase log (each
    purchase counts: the simulator counts same-day purchases one by one)."""
    out = {}
    days = np.arange(DAYS)
    for cid, group in purchases.groupby("customer_id"):
        bought = np.sort(group.day.to_numpy())
        k = np.searchsorted(bought, days, side="right")
        last = bought[np.maximum(k - 1, 0)]
        value = form(k - 1.0, last - bought[0], days - bought[0])
        out[int(cid)] = np.where(k > 0, value, np.nan)
    return out


def _crossings(daily: dict[int, np.ndarray], below: float) -> set[tuple[int, int]]:
    """(customer, day) where the value went below `below`, from at or above it the day before."""
    found = set()
    for cid, value in daily.items():
        under = value < below
        before = np.concatenate([[False], under[:-1]])
        found.update((cid, int(d)) for d in np.flatnonzero(under & ~before))
    return found


@pytest.fixture(scope="module")
def run():
    spec = (
        HEADER
        + """rule winback {
  when p_alive < 30%
  send email "We miss you"
}
rule quiet {
  when expected_purchases(60 days) < 0.25
  send email "Anything we can do?"
}
"""
    )
    market = Market.model_validate({"buying": {"r": 0.9, "alpha": 40, "a": 0.7, "b": 2.5}})
    forecast = clmlang.simulate(
        clmlang.loads(spec, "t.clm"), market, customers=1500, days=DAYS, rng=3, logs=True
    )
    logs = forecast.logs()
    start = pd.to_datetime(logs["purchases"].date).min()
    for table in logs.values():
        table["day"] = (pd.to_datetime(table.date) - start).dt.days
    return market, logs


def test_p_alive_rule_fires_exactly_when_the_history_crosses_below(run):
    """Each firing of `when p_alive < 30%` is a day the purchase log's p_alive crossed below
    30%, and every such crossing fired."""
    market, logs = run
    b = market.buying
    daily = _daily(logs["purchases"], lambda x, t_x, T: _p_alive(x, t_x, T, b.r, b.alpha, b.a, b.b))
    sent = logs["messages"][logs["messages"].rule == "winback"]
    fired = set(zip(sent.customer_id.astype(int), sent.day.astype(int), strict=True))
    assert len(fired) > 50
    assert all(daily[c][d] < 0.3 for c, d in fired)
    assert fired == _crossings(daily, 0.3)


def test_expected_purchases_rule_follows_the_closed_form(run):
    """`when expected_purchases(60 days) < 0.25` fires on the days eq. 10 crosses 0.25."""
    market, logs = run
    b = market.buying
    daily = _daily(
        logs["purchases"], lambda x, t_x, T: _expected(60.0, x, t_x, T, b.r, b.alpha, b.a, b.b)
    )
    sent = logs["messages"][logs["messages"].rule == "quiet"]
    fired = set(zip(sent.customer_id.astype(int), sent.day.astype(int), strict=True))
    assert len(fired) > 50
    assert fired == _crossings(daily, 0.25)


def test_mean_p_alive_is_the_share_still_buying():
    """With no marketing the simulator is BG/NBD itself: the mean of eq. 13 over the customers
    is the share the simulator still has alive, within sampling error."""
    from clmlang.simulation.engine import simulate_policy

    policy = clmlang.loads(HEADER, "t.clm")
    market = Market.model_validate({"buying": {"r": 0.9, "alpha": 40, "a": 0.7, "b": 2.5}})
    run = simulate_policy(
        policy, market, customers=4000, days=DAYS, rng=np.random.default_rng(5), logs=False
    )
    st, b = run.state, market.buying
    x = st.purchases - 1.0
    T = DAYS - st.first_day.astype(float)
    t_x = st.last_day.astype(float) - st.first_day.astype(float)
    p = _p_alive(x, t_x, T, b.r, b.alpha, b.a, b.b)
    alive = st.alive.mean()
    assert p.mean() == pytest.approx(alive, abs=3 * math.sqrt(alive * (1 - alive) / st.n))
