"""rules.csv (issue 17 §6): conversion counts purchases after the trigger, the holdout column
counts the held-out customers, and heavy-tailed revenue on a small holdout is not called
significant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.core.statistics import bootstrap_difference, too_small

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clinic() -> clmlang.simulation.metrics.Forecast:
    return clmlang.simulate(ROOT / "specs/clinic.clm", customers=2000, days=200, rng=3, logs=True)


def test_welcome_conversion_is_a_purchase_after_the_first_in_its_window(clinic) -> None:
    """`welcome` (`on first purchase`, no success window: 30 days) converts a customer who
    bought again on days 1..30 after the first purchase's day, as the purchase log says; the
    first purchase itself does not count."""
    row = clinic.rules.set_index("rule").loc["welcome"]
    purchases = clinic.logs()["purchases"]
    dates = purchases["date"].to_numpy(dtype="datetime64[D]")
    frame = pd.DataFrame({"customer": purchases["customer_id"].to_numpy(), "date": dates})
    first = frame.groupby("customer")["date"].transform("min")
    gap = (frame["date"] - first) / pd.Timedelta(days=1)
    again = frame[(gap >= 1) & (gap <= row["window_days"])]["customer"].nunique()
    customers = frame["customer"].nunique()
    assert row["fired"] == customers
    assert 0 < row["conversion"] < 1
    assert row["conversion"] == pytest.approx(again / customers)
    assert row["revenue_per_eligible"] < purchases["amount"].sum() / customers


def test_the_holdout_column_counts_the_held_out_customers(clinic) -> None:
    """One column, `holdout`: the times the rule held a customer out, which the messages log
    shows as `held_out` rows; there is no always-zero `held_out` column beside it."""
    rules = clinic.rules
    assert "held_out" not in rules.columns
    messages = clinic.logs()["messages"]
    held = messages[messages["status"] == "held_out"].groupby("rule", observed=True).size()
    assert held.sum() > 0
    for row in rules.itertuples(index=False):
        assert row.holdout == held.get(row.rule, 0), row.rule


def _heavy(rng: np.random.Generator, n: int) -> np.ndarray:
    """Revenue per eligible customer: mostly nothing, 10% small checks, 0.3% huge ones."""
    u = rng.random(n)
    return np.where(u < 0.003, rng.pareto(1.2, n) * 1e6 + 5e5, np.where(u < 0.1, 200.0, 0.0))


def test_heavy_tailed_revenue_on_a_small_holdout_is_too_small_to_tell() -> None:
    """81 held-out customers from the same distribution as 5,000 treated: no true effect.
    Welch's interval calls 29 of these 50 cases "significant", a percentile bootstrap 41 (the
    holdout mostly holds no huge purchase, so no interval from its own spread can be trusted);
    `too_small` flags every one, and rules.csv gives no interval for it."""
    rng = np.random.default_rng(0)
    flagged = 0
    for _ in range(50):
        treated, held = _heavy(rng, 5000), _heavy(rng, 81)
        flagged += too_small(treated, held)
    assert flagged == 50
    # a holdout as large as the treated group can tell, and its interval covers 0
    treated, held = _heavy(rng, 20_000), _heavy(rng, 20_000)
    assert not too_small(treated, held)
    diff, low, high = bootstrap_difference(treated, held, np.random.default_rng(1))
    assert low < 0 < high and low < diff < high


def test_bootstrap_is_seeded_and_finds_a_real_effect() -> None:
    """The same Generator seed gives the same bounds; a clear lift is significant."""
    rng = np.random.default_rng(2)
    treated = np.where(rng.random(3000) < 0.3, 100.0, 0.0)
    held = np.where(rng.random(1000) < 0.1, 100.0, 0.0)
    assert not too_small(treated, held)
    first = bootstrap_difference(treated, held, np.random.default_rng(5))
    assert first == bootstrap_difference(treated, held, np.random.default_rng(5))
    assert first[1] > 0 and first[0] == pytest.approx(20, abs=5)


def test_rules_csv_gives_no_interval_when_too_small(clinic) -> None:
    """A rule without a holdout, or with one too small to tell, has `too_small` and no bounds;
    the others have bounds around their difference."""
    rules = clinic.rules
    small = rules["too_small"].astype(bool)
    assert rules.loc[rules["holdout"] == 0, "too_small"].all()
    assert rules.loc[small, ["incremental_low", "incremental_high"]].isna().all().all()
    told = rules[~small]
    assert (told["incremental_low"] <= told["incremental_revenue_per_eligible"]).all()
    assert (told["incremental_revenue_per_eligible"] <= told["incremental_high"]).all()


def test_bootstrap_draws_in_batches_give_the_bits_of_drawing_all_at_once(monkeypatch) -> None:
    """The resamples' sums, drawn a few resamples at a time (bounded memory), are the sums of
    one pass over all the draws: the same draws from the same stream, added in the same order."""
    from clmlang.core import statistics

    values = np.where(np.arange(5000) % 3 == 0, np.linspace(1.0, 900.0, 5000), 0.0)
    nonzero = values[values != 0]

    def all_at_once(seed: int) -> np.ndarray:  # the whole bootstrap in one pass, spelled out
        rng = np.random.default_rng(seed)
        m = rng.binomial(values.size, nonzero.size / values.size, 200)
        draws = nonzero[rng.integers(0, nonzero.size, int(m.sum()))]
        cum = np.r_[0.0, np.cumsum(draws)]
        ends = np.cumsum(m)
        return (cum[ends] - cum[ends - m]) / values.size

    monkeypatch.setattr(statistics, "DRAWS_AT_ONCE", 5000)  # ~1,700 draws a resample: 2-3 a batch
    batched = statistics._resampled_means(values, np.random.default_rng(7), 200)
    assert batched.tobytes() == all_at_once(7).tobytes()


def test_a_block_counted_under_its_own_bound_merges_counted() -> None:
    """A block decides one value per firing or counted values by the population it is given
    (`measure_block`'s: the command's customers), the merge by the rows of the runs (with
    acquisition or referrals, many more): a block past its bound sends counted values while
    the merge would take every block's as one per firing. It merges them counted (once a
    KeyError 'day', an internal error). By hand: the purchases' cumulative revenue 0, 5, 12;
    block 1 counted 0.0 once and 5.0 twice; block 2's two firings have the windows [2, 2) and
    [0, 1) of the purchases: 0.0 and 5.0. Together: 0.0 twice, 5.0 three times."""
    from clmlang.simulation.rule_effects import _merged

    cum = np.array([0.0, 5.0, 12.0])
    counted = {"values": np.array([0.0, 5.0]), "counts": np.array([1, 2]), "firings": 3,
               "converted": 2}  # fmt: skip
    exact = {"day": np.array([3, 4], np.int32), "lo": np.array([2, 0], np.int32),
             "hi": np.array([2, 1], np.int32), "firings": 2, "converted": 1}  # fmt: skip
    sample = _merged([(counted, 0), (exact, 0)], cum, exact=True)
    assert sample.counts is not None  # counted, not one value per firing
    assert sample.values.tolist() == [0.0, 5.0]
    assert sample.counts.tolist() == [2, 3]
    assert sample.converted == 3


HALF_OFF = """program "ROI" currency EUR
channel email cost 0.01
product box role profit price 100 cost 0 every 30 days
stage all when purchases >= 0
rule half_off {
  when days_since_purchase >= 20 days
  reentry once per 30 days
  send email "Half off" offer box discount 50%
  success purchase within 14 days
}
"""


def test_an_offer_discount_is_counted_once_in_a_rules_roi(tmp_path) -> None:
    """The discount is the rule's cost (docs/model.md), so rules.csv's revenue and profit are
    before it and the ROI subtracts it once: with a 50% discount and free goods, the purchases
    the rule drove bring S after the discount (the purchase log's amounts), 2S before it; the
    rule costs 0.01 a delivered email plus S; ROI = (2S - cost) / cost. It used to subtract S
    twice (profit S, cost S + emails: ROI below 0)."""
    spec = tmp_path / "roi.clm"
    spec.write_text(HALF_OFF)
    run = clmlang.simulate(spec, customers=2000, days=120, rng=1, logs=True)
    logs = run.logs()
    purchases, messages = logs["purchases"], logs["messages"]
    net = float(purchases.loc[purchases["rule"] == "half_off", "amount"].sum())
    sent = int((messages["status"] == "delivered").sum())
    assert net > 0 and sent > 0
    cost = 0.01 * sent + net
    row = run.rules.set_index("rule").loc["half_off"]
    assert row["revenue"] == pytest.approx(2 * net)
    assert row["profit"] == pytest.approx(2 * net)
    assert row["cost"] == pytest.approx(cost)
    assert row["roi"] == pytest.approx((2 * net - cost) / cost)
    assert run.summary["offer_cost"] == pytest.approx(net, rel=1e-6)
    assert run.summary["marketing_roi"] == pytest.approx((2 * net - cost) / cost, abs=1e-6)
