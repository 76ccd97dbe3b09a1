"""Rule firings kept as runs of days and messages kept as counts (engine/firings.py): the same
firings and messages as the one-row-each logs a run keeps with `logs`, and rules.csv from
counted values (a rule that fires daily) the same as from one value per firing."""

from __future__ import annotations

import numpy as np
import pytest

import clmlang
import clmlang.simulation.rule_effects as rule_effects
from clmlang.core import compiled
from clmlang.core.statistics import counted_mean, counted_too_small, too_small
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.engine.firings import Firings, expand
from clmlang.simulation.metrics import forecast

from .conftest import ROOT

DAILY = """program "Daily"
channel sms cost 1
channel call cost 50 capacity 30 per day
cap 2 per 7 days
stage everyone when purchases >= 0
rule daily_sms { on schedule daily when days_since_purchase >= 7 days send sms "Hi" }
rule daily_call { on schedule daily priority 5 holdout 20% send call "Hello" }
rule receipt { on purchase send sms "Receipt" transactional }
rule held { on schedule weekly on monday holdout 50% send sms "Weekly" }
"""


def _rows(log: dict[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray:
    table = np.stack([log[k].astype(np.int64) for k in keys], axis=1)
    return table[np.lexsort(table.T[::-1])]


def test_runs_spell_out_to_the_days_fired():
    f = Firings()
    # arm 0: customer 3 on days 0-2 and 5, customer 1 on day 1 (in two batches) and twice on 2
    f.add(arm=0, customer=[3], day=0)
    f.add(arm=0, customer=[3, 1], day=1)
    f.add(arm=1, customer=[3], day=1)
    f.add(arm=0, customer=[1], day=2)
    f.add(arm=0, customer=[1, 3], day=2)
    f.add(arm=0, customer=[3], day=5)
    runs = _rows(f.runs(), ("arm", "customer", "first", "last"))
    assert runs.tolist() == [[0, 1, 1, 2], [0, 1, 2, 2], [0, 3, 0, 2], [0, 3, 5, 5], [1, 3, 1, 1]]
    spelled = expand(f.runs())
    assert spelled["day"].tolist() == [0, 1, 1, 1, 2, 2, 2, 5]  # in the order of days
    assert spelled["customer"].tolist() == [3, 1, 3, 3, 1, 1, 3, 3]


def test_a_day_settles_every_arm_at_once():
    """Arms fire on days of their own: a run is extended only by its own arm firing for the
    same customer the next day, whatever the other arms did in between."""
    f = Firings()
    f.add(arm=0, customer=[5, 2], day=1)
    f.add(arm=2, customer=[5], day=1)
    f.add(arm=1, customer=[5], day=2)  # arm 0 and 2 skip day 2
    f.add(arm=2, customer=[5, 9], day=2)
    f.add(arm=0, customer=[5], day=3)  # not day 2: a new run
    f.add(arm=2, customer=[9], day=3)
    f.add(arm=2, customer=[9], day=3)  # twice the same day: a run of its own
    runs = _rows(f.runs(), ("arm", "customer", "first", "last"))
    expected = [
        [0, 2, 1, 1], [0, 5, 1, 1], [0, 5, 3, 3], [1, 5, 2, 2],
        [2, 5, 1, 2], [2, 9, 2, 3], [2, 9, 3, 3],
    ]  # fmt: skip
    assert runs.tolist() == expected


@pytest.mark.skipif(not compiled.available(), reason="numba is not installed")
def test_the_compiled_merge_settles_the_runs_of_the_binary_search():
    rng = np.random.default_rng(9)
    both = [Firings(), Firings()]
    both[1].compiled = True
    for day in range(60):
        if rng.random() < 0.2:
            continue  # a day nobody fires for
        for arm in sorted(rng.choice(6, size=rng.integers(1, 6), replace=False).tolist()):
            ids = np.sort(rng.choice(40, size=rng.integers(1, 30), replace=False))
            for f in both:
                f.add(arm=arm, customer=ids, day=day)
    keys = ("arm", "customer", "first", "last")
    plain, merged = (_rows(f.runs(), keys) for f in both)
    assert plain.shape[0] > 300 and (plain[:, 3] > plain[:, 2]).sum() > 50  # runs of days
    assert np.array_equal(merged, plain)


def test_firings_and_message_counts_match_the_full_logs():
    policy = clmlang.loads(DAILY)
    run = simulate_policy(
        policy, Market(), customers=1500, days=60, rng=np.random.default_rng(3), logs=True
    )
    rec = run.recorder
    logged = rec.rule_events.log.arrays()
    assert logged["customer"].size > 20 * 1500  # the daily rules fire for most, most days
    runs = rec.rule_events.runs()
    assert runs["customer"].size < logged["customer"].size / 5  # runs, not days
    spelled = expand(runs)
    keys = ("arm", "customer", "day")
    assert np.array_equal(_rows(spelled, keys), _rows(logged, keys))
    for arm in range(len(run.arms)):  # each arm's firings in the order they happened
        mine = logged["arm"] == arm
        order = np.lexsort((logged["customer"][mine], logged["day"][mine]))
        assert np.array_equal(order, np.arange(order.size))
    # the delivered messages, counted per day and send step, as the log has them
    sent, counts = rec.messages.arrays(), rec.messages.counts()
    expected = np.zeros((60, len(run.sites)), np.int64)
    np.add.at(expected, (sent["day"], sent["site"]), 1)
    got = np.zeros_like(expected)
    np.add.at(got, (counts["day"], counts["site"]), counts["count"])
    assert np.array_equal(got, expected) and got.sum() > 1500
    assert counts["channel"].tolist() == [run.sites[s].channel for s in counts["site"]]


def test_without_logs_the_outputs_are_the_same():
    policy = clmlang.loads(DAILY)
    runs = [
        simulate_policy(
            policy, Market(), customers=1000, days=45, rng=np.random.default_rng(5), logs=logs
        )
        for logs in (False, True)
    ]
    a, b = (forecast(r).files() for r in runs)
    assert a == b
    with pytest.raises(ValueError, match="logs=True"):
        runs[0].recorder.messages.arrays()


def test_counted_rules_csv_agrees_with_one_value_per_firing(monkeypatch):
    """Forcing the counted values (as for a rule that fires for millions of customer-days):
    the same firings, means and conversions; the interval is another bootstrap of the same
    differences, so it lands within the Monte Carlo error of the exact one."""
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    run = simulate_policy(policy, Market(), customers=4000, days=365, rng=np.random.default_rng(2))
    exact = forecast(run).rules
    monkeypatch.setattr(rule_effects, "EXACT_PER_CUSTOMER", 0)
    monkeypatch.setattr(rule_effects, "EXACT_AT_LEAST", 0)
    monkeypatch.setattr(rule_effects, "CHUNK", 1000)  # several chunks
    counted = forecast(run).rules
    assert counted["fired"].sum() > 1000
    for column in ("fired", "holdout", "too_small"):
        assert counted[column].tolist() == exact[column].tolist()
    for column in (
        "revenue_per_eligible",
        "holdout_revenue_per_eligible",
        "conversion",
        "holdout_conversion",
        "incremental_revenue_per_eligible",
    ):
        np.testing.assert_allclose(counted[column], exact[column], rtol=1e-9)
    told = ~exact["too_small"]
    assert told.any()
    width = (exact["incremental_high"] - exact["incremental_low"])[told]
    for bound in ("incremental_low", "incremental_high"):
        assert (abs(counted[bound] - exact[bound])[told] < 0.15 * width).all()


def test_counted_too_small_is_too_small_of_the_values_spelled_out():
    rng = np.random.default_rng(4)
    for _ in range(200):
        a = rng.choice([0.0, 0.0, 0.0, 100.0, 250.0, 4000.0], size=rng.integers(1, 60))
        b = rng.choice([0.0, 0.0, 100.0, 250.0, 4000.0], size=rng.integers(1, 12))
        ua, na = np.unique(a, return_counts=True)
        ub, nb = np.unique(b, return_counts=True)
        assert counted_too_small(ua, na, ub, nb) == too_small(a, b)
        assert counted_mean(ua, na) == pytest.approx(a.mean(), rel=1e-12)


def test_a_block_sent_back_keeps_arms_past_int16():
    """A recorder sent back without its logs (engine/merge.py's `without_logs`) keeps the arms'
    type: with 40,000 arms, arm 39,999 (past int16's 32,767) is still 39,999, not -25,537."""
    from clmlang.simulation.engine.merge import without_logs
    from clmlang.simulation.engine.recorder import Recorder

    slim = without_logs(Recorder(days=3, stages=1, channels=1, arms=40_000))
    slim.rule_events.add(arm=39_999, customer=[7], day=1)
    runs = slim.rule_events.runs()
    assert runs["arm"].tolist() == [39_999]
    assert runs["customer"].tolist() == [7]
