"""What an existing customer owns on day 0: drawn from the market's choice model for a
synthetic base, as the history's product column says for a real one.

Expected shares are derived here from the market's parameters (the demand weights and the
purchase-count distribution), never read back from the simulator.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.forecasting.history import HistoryError, load_history, summarise
from clmlang.market.model import Market
from clmlang.simulation.engine import Base, simulate_policy

from .conftest import clm

SPEC = """program "Owners"
channel email cost 1
product trial_a role lead price 0
product trial_b role lead price 0
product serum role profit price 1000 every 30 days
product cream role profit price 500
stage everyone when purchases >= 0
rule trial_a_owners {
  when owns(trial_a)
  reentry once
  send email "For trial A owners"
}
rule after_serum {
  on 10 days after purchase of serum
  send email "How is the serum?"
}
"""
COUNTS = {1: 0.3, 2: 0.3, 4: 0.4}  # purchases before day 0
WEIGHTS = {"trial_a": 0.1, "serum": 0.3, "cream": 0.6}  # trial_b: a lead's default, 0
RECENCY = 60
N = 4000


@pytest.fixture(scope="module")
def policy():
    return clmlang.loads(SPEC, "owners.clm")


def _market() -> Market:
    return Market.model_validate(
        {
            "population": {"start": "existing", "recency_days": RECENCY, "purchases": COUNTS},
            "products": {name: {"weight": w} for name, w in WEIGHTS.items()},
            "channels": {"email": {"reach": 1.0}},
        }
    )


@pytest.fixture(scope="module")
def run(policy):
    return clmlang.simulate(policy, _market(), customers=N, days=10, rng=7, logs=True)


def _within(observed: float, p: float, n: int) -> None:
    """`observed` successes out of `n` within 4 binomial standard errors of `p`."""
    assert abs(observed / n - p) < 4 * math.sqrt(p * (1 - p) / n), (observed / n, p)


def test_an_owns_rule_fires_on_day_0_for_the_share_the_choice_model_implies(run) -> None:
    """The first purchase is one of the two leads (even odds); each later one is trial_a
    with probability 0.1 (its weight over the weights' sum): P(owns trial_a) =
    1/2 + 1/2 E[1 - 0.9^(k-1)]. Day 0's buyers are left out of both counts (what they buy on
    day 0 could add to it; whether they buy is independent of what they own)."""
    total = sum(WEIGHTS.values())
    p_a = WEIGHTS["trial_a"] / total
    expected = 0.5 + 0.5 * sum(q * (1 - (1 - p_a) ** (k - 1)) for k, q in COUNTS.items())
    logs = run.logs()
    day0 = pd.Timestamp(_market().start_date)
    buyers = set(logs["purchases"].loc[logs["purchases"].date == day0, "customer_id"])
    msgs = logs["messages"]
    fired = set(msgs.loc[(msgs.rule == "trial_a_owners") & (msgs.date == day0), "customer_id"])
    assert fired and max(fired) < N  # existing customers, on day 0
    _within(len(fired - buyers), expected, N - len(buyers))


def test_the_last_purchase_before_day_0_starts_after_purchase_of_timers(run) -> None:
    """`on 10 days after purchase of serum` fires on days 0-9 only for a customer whose last
    purchase before day 0 was serum, 1 to 10 days before (no purchase in the run can make it
    fire before day 10): P = P(k >= 2) * 0.3 * 10 / RECENCY."""
    p_serum = WEIGHTS["serum"] / sum(WEIGHTS.values())
    expected = (1 - COUNTS[1]) * p_serum * 10 / RECENCY
    msgs = run.logs()["messages"]
    fired = msgs.loc[msgs.rule == "after_serum", "customer_id"]
    assert fired.is_unique
    _within(len(fired), expected, N)


def test_same_seed_same_bytes(policy, run, tmp_path: Path) -> None:
    again = clmlang.simulate(policy, _market(), customers=N, days=10, rng=7, logs=True)
    for name in ("purchases", "messages"):
        assert run.logs()[name].to_csv() == again.logs()[name].to_csv()


HISTORY = """customer_id,date,amount,product
a,2024-01-05,0,trial_a
a,2024-03-01,1000,serum
a,2024-03-01,500,cream
b,2024-02-01,0,trial_b
b,2024-06-01,70,gift_card
c,2024-04-01,500,cream
c,2024-05-01,1000,serum
d,2024-05-01,90,gift_card
"""


def _history(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(HISTORY)
    return path


def test_a_history_product_column_says_what_each_customer_owns(policy, tmp_path: Path) -> None:
    """Hand-checked: the products each customer bought that the spec declares, their last
    (the last declared one of their last day), the undeclared gift_card ignored."""
    s = summarise(load_history(_history(tmp_path)), "2024-12-31")
    n = s.x.size
    base = Base(
        purchases=(s.x + 1).astype(np.int32),
        first_day=-s.T * 7 - 1,
        last_day=-(s.T - s.t_x) * 7 - 1,
        spent=np.zeros(n),
        alive=np.ones(n, dtype=bool),
        rate=np.full(n, 1e-9),  # nobody buys in the run: day 0 holds what the history says
        dropout=np.zeros(n),
        spend=np.ones(n),
        holdings=s.holdings,
    )
    market = Market.model_validate({"start_date": "2025-01-01"})
    run = simulate_policy(
        policy, market, customers=n, days=1, rng=np.random.default_rng(0), base=base
    )
    names = [p.name for p in policy.products]

    def owned(i: int) -> set[str]:
        return {name for j, name in enumerate(names) if (int(run.state.owned[i]) >> j) & 1}

    def last(i: int) -> str | None:
        j = int(run.state.last_product[i])
        return names[j] if j >= 0 else None

    assert list(s.customers) == ["a", "b", "c", "d"]
    assert [owned(i) for i in range(n)] == [
        {"trial_a", "serum", "cream"},
        {"trial_b"},
        {"cream", "serum"},
        set(),
    ]
    assert [last(i) for i in range(n)] == ["cream", None, "serum", None]


def test_forecast_reports_the_undeclared_products_and_logs_history_ids(tmp_path: Path) -> None:
    """From the CLI: --product-col, the undeclared product named once with its purchases,
    and the logs (--logs) with the history's customer ids."""
    spec = tmp_path / "owners.clm"
    spec.write_text(SPEC)
    market = tmp_path / "market.toml"
    market.write_text("[market.buying]\nr = 0.5\nalpha = 30\na = 0.5\nb = 2\n")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(HISTORY.replace(",product\n", ",sku\n", 1))
    out = tmp_path / "out"
    args = ["--calibration-end", "2024-12-31", "--until", "2025-01-31", "--replications", "2"]
    result = clm(
        "forecast", str(spec), "--history", str(renamed), "--product-col", "sku",
        "--market", str(market), *args, "--out", str(out), "--logs",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("gift_card") == 1
    assert "1 product of the history is not declared" in result.stderr
    assert "(2 purchases of them)" in result.stderr
    messages = pd.read_csv(out / "messages.csv", dtype={"customer_id": str})
    # trial_a's owner is told on day 0, by the history's id
    assert "a" in set(messages.loc[messages.rule == "trial_a_owners", "customer_id"])
    assert set(messages["customer_id"]) <= {"a", "b", "c", "d"}


def test_a_named_product_column_must_exist(tmp_path: Path) -> None:
    """Named, it must be there (the CLI turns HistoryError into exit 1 with the message);
    not named, a `product` column is read when there is one, and nothing else is."""
    with pytest.raises(HistoryError, match="no column `item`"):
        load_history(_history(tmp_path), product_col="item")
    assert "products" in load_history(_history(tmp_path)).columns
    plain = tmp_path / "plain.csv"
    plain.write_text(HISTORY.replace(",product\n", ",sku\n", 1))
    assert "products" not in load_history(plain).columns
