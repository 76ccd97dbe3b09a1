"""Metrics per block (clmlang.simulation.partials): each block measured where it ran, the
parts merged into the forecast the merged run gives, with the blocks' customers freed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import clmlang
from clmlang.market.model import Market
from clmlang.market.scenario import load_scenario_file
from clmlang.simulation.engine.blocks import plan_blocks, run_block, run_blocks
from clmlang.simulation.engine.merge import merge_runs
from clmlang.simulation.metrics import forecast, forecast_of
from clmlang.simulation.partials import measure, measure_block
from clmlang.simulation.rule_effects import _merged
from clmlang.whatif.experiment import variant_policy

ROOT = Path(__file__).resolve().parent.parent
CLINIC = ROOT / "specs" / "clinic.clm"


@pytest.fixture(scope="module")
def blocks():
    """The clinic's 900 customers over 200 days as 3 blocks: their runs, unmerged."""
    policy = clmlang.load(CLINIC)
    plan = plan_blocks(900, np.random.default_rng(11), blocks=3)
    return plan, [run_block(policy, Market(), 200, b) for b in plan]


def test_the_parts_of_blocks_give_the_merged_runs_forecast(blocks):
    """Every file, every byte: the merged run measured whole, and its blocks measured each
    on its own and merged."""
    plan, runs = blocks
    whole = forecast(merge_runs(runs))
    parts = forecast_of([measure(r, b.start, 900) for r, b in zip(runs, plan, strict=True)])
    assert parts.files() == whole.files()
    assert whole.summary["purchases"] > 500  # the blocks bought, and the rules fired
    assert whole.rules["fired"].sum() > 100


def test_rule_samples_merge_in_the_order_of_days_then_customers(blocks):
    """One arm's sample from the three blocks: each firing's revenue in its window (days
    d+1 to d+window), summed purchase by purchase from the merged logs, firings in the order
    of day then customer."""
    plan, runs = blocks
    merged = merge_runs(runs)
    parts = [measure(r, b.start, 900) for r, b in zip(runs, plan, strict=True)]
    arm = int(
        np.argmax([sum(p.rules[a]["firings"] for p in parts) for a in range(len(parts[0].rules))])
    )
    window = merged.policy.rules[merged.arms[arm][0]].flow.success
    window = window.within_days if window else 30.0
    buys = merged.recorder.purchases.arrays()
    firings = merged.recorder.rule_events.arrays()
    mine = firings["arm"] == arm
    day, customer = firings["day"][mine], firings["customer"][mine]
    order = np.lexsort((customer, day))
    expected = [
        buys["revenue"][
            (buys["customer"] == c) & (buys["time"] >= d + 1) & (buys["time"] < d + window + 1)
        ].sum()
        for c, d in zip(customer[order], day[order], strict=True)
    ]
    offsets = np.cumsum([0] + [p.revenue.size for p in parts[:-1]])
    cum = np.r_[0.0, np.cumsum(np.concatenate([p.revenue for p in parts]))]
    sample = _merged([(p.rules[arm], o) for p, o in zip(parts, offsets, strict=True)], cum, True)
    assert len(expected) > 50
    np.testing.assert_allclose(sample.values, expected, rtol=1e-9, atol=1e-6)


def test_a_part_holds_no_customer_state_nor_logs(blocks):
    """What a worker sends back is a fraction of its run: no state, no purchase log; a run
    measured whole is left as it was, a consumed one (a worker's) is freed."""
    plan, runs = blocks
    part = measure(runs[0], plan[0].start, 900)
    assert part.run.state is None
    assert part.run.recorder.purchases.arrays()["customer"].size == 0
    assert runs[0].recorder.purchases.arrays()["customer"].size > 0  # left as it was
    # beyond the counters both carry (the slim run), a third of the run's bytes at most
    counters = len(pickle.dumps(part.run))
    assert len(pickle.dumps(part)) - counters < (len(pickle.dumps(runs[0])) - counters) / 3
    [block] = plan_blocks(300, np.random.default_rng(4), blocks=1)
    run = run_block(clmlang.load(CLINIC), Market(), 60, block)
    whole = forecast(run)
    consumed = forecast_of([measure_block(run, block, 300)])
    assert consumed.files() == whole.files()
    assert run.state.rate is None and run.recorder.items.arrays()["customer"].size == 0


def test_workers_send_parts_and_the_logs_path_gives_the_same_files():
    """`simulate` measures each block where it ran; with logs the blocks' runs come back
    and are merged: the same files either way, and for 1 or 2 workers."""
    policy = clmlang.load(CLINIC)
    kw = {"customers": 400, "days": 90, "rng": 5, "blocks": 2}
    one = clmlang.simulate(policy, Market(), workers=1, **kw)
    two = clmlang.simulate(policy, Market(), workers=2, **kw)
    logged = clmlang.simulate(policy, Market(), workers=1, logs=True, **kw)
    assert one.files() == two.files() == logged.files()
    parts = run_blocks(
        policy, Market(), customers=400, days=90, rng=np.random.default_rng(5), blocks=2,
        measure=lambda run, block: measure_block(run, block, 400),
    )  # fmt: skip
    # two blocks of equal weight: one customer each, and 398 // 2 = 199 of the rest
    assert [p.start for p in parts] == [0, 200]


def test_an_existing_bases_blocks_keep_their_history():
    """The call centre's existing base of 600 patients as 3 blocks: its history before day 0
    (the `existing` cohort of 600, the customers active on day 0) survives the merge of the
    blocks' runs, and the blocks' parts give the same files."""
    scenario = load_scenario_file(ROOT / "simulations" / "clinic_call_centre.toml")
    policy, market = variant_policy(scenario, scenario.variant("base"))
    plan = plan_blocks(600, np.random.default_rng(2), blocks=3)
    runs = [run_block(policy, market, 60, b) for b in plan]
    whole = forecast(merge_runs(runs))
    parts = forecast_of([measure(r, b.start, 600) for r, b in zip(runs, plan, strict=True)])
    assert parts.files() == whole.files()
    assert whole.cohorts["cohort"].iloc[0] == "existing"
    assert whole.cohorts["customers"].iloc[0] == 600
    assert whole.daily["active"].iloc[0] > 100  # bought within 90 days before day 0


@pytest.mark.parametrize("logs", [False, True])
def test_the_measure_and_the_merge_decide_firings_with_one_population(monkeypatch, logs):
    """Prospects arriving make a run's rows (its state) outnumber its customers on day 0: the
    measure of the block and the merge of the parts still ask whether the firings are held one
    each (`exact_firings`) of the same population, the one the run was asked for. With its
    logs the merged run is measured whole (`metrics.forecast`): the same population, not its
    rows (4,617), or --logs could hold one value a firing where the run without counts them."""
    import clmlang.api
    from clmlang.simulation import rule_effects

    asked = []
    decide = rule_effects.exact_firings

    def recorded(firings, population):
        asked.append(population)
        return decide(firings, population)

    monkeypatch.setattr(rule_effects, "exact_firings", recorded)
    scenario = load_scenario_file(ROOT / "simulations" / "car_dealer_signups.toml")
    clmlang.api.simulate(market=scenario, customers=300, days=60, rng=3, logs=logs)
    assert asked == [300, 300]  # the measure's, then the merge's
