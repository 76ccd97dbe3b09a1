"""`clm simulate --workers N`: the population as blocks run in worker processes and merged,
the same bytes for any N, and a channel's daily capacity shared exactly between the blocks;
`--scheduler`: the same blocks on a Dask cluster."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import clmlang
from clmlang.cli import app
from clmlang.market.model import Market
from clmlang.market.scenario import load_scenario_file
from clmlang.simulation.engine.blocks import run_blocks
from clmlang.whatif.experiment import variant_policy

ROOT = Path(__file__).resolve().parent.parent
# one call a day for ten customers; a rule rings all 50 customers on day 0 and no later
QUEUE = """program "Queue"
channel call cost 100 capacity 10 per day
stage everyone when purchases >= 0
rule ring { on schedule on 2026-01-01 send call "Hello" }
"""


def queue_market(max_wait: int) -> Market:
    call = {"reach": 1.0, "response": 0.0, "unsubscribe": 0.0, "max_wait_days": max_wait}
    return Market.model_validate({"channels": {"call": call}})


def daily(forecast) -> pd.DataFrame:
    return forecast.daily


def test_a_queue_is_served_as_one_calendar_would_across_blocks():
    """50 calls asked on day 0, 10 a day, a wait of 3 days at most: 10 a day on days 0-3
    (the queue's oldest first), the last 10 dropped at the end of day 3, whichever block
    the customers are in and whichever process runs it."""
    runs = [
        clmlang.simulate(
            clmlang.loads(QUEUE), queue_market(3), customers=50, days=8, rng=3, workers=w, blocks=3
        )
        for w in (1, 2, 3)
    ]
    assert runs[0].files() == runs[1].files() == runs[2].files()
    d = daily(runs[0])
    assert d["messages_call"].tolist() == [10, 10, 10, 10, 0, 0, 0, 0]
    assert d["over_capacity"].tolist() == [0, 0, 0, 10, 0, 0, 0, 0]


def test_call_centre_capacity_is_shared_exactly_and_any_worker_count_gives_the_same_bytes():
    """The call centre's base with 2 calls a day for 450 patients in 3 blocks: never more
    than 2 calls a day, and exactly 2 on every day a call was dropped (a capacity split in
    fixed shares would leave some unused while another block drops calls)."""
    scenario = load_scenario_file(ROOT / "simulations" / "clinic_call_centre.toml")
    policy, market = variant_policy(scenario, scenario.variant("base"))
    channels = tuple(
        c.model_copy(update={"capacity_per_day": 2}) if c.name == "call" else c
        for c in policy.channels
    )
    policy = policy.model_copy(update={"channels": channels})
    runs = [
        clmlang.simulate(policy, market, customers=450, days=100, rng=5, workers=w, blocks=3)
        for w in (1, 2, 3)
    ]
    assert runs[0].files() == runs[1].files() == runs[2].files()
    d = daily(runs[0])
    assert d["messages_call"].max() <= 2
    dropped = d["over_capacity"] > 0
    assert dropped.sum() >= 5  # the capacity binds on several days
    assert (d["messages_call"][dropped] == 2).all()


def test_one_block_is_the_run_without_workers():
    plain = clmlang.simulate(clmlang.loads(QUEUE), queue_market(0), customers=50, days=8, rng=3)
    blocked = clmlang.simulate(
        clmlang.loads(QUEUE), queue_market(0), customers=50, days=8, rng=3, workers=2
    )
    assert plain.files() == blocked.files()


def test_dask_local_cluster_gives_the_same_bytes_as_local_workers():
    distributed = pytest.importorskip("distributed")
    policy, market = clmlang.loads(QUEUE), queue_market(2)
    local = clmlang.simulate(policy, market, customers=50, days=8, rng=3, workers=1, blocks=2)
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        preload=["clmlang.whatif.preload"],  # (docs/engine.md: what a cluster's workers load)
    ) as cluster:
        on_dask = clmlang.simulate(
            policy, market, customers=50, days=8, rng=3, blocks=2,
            scheduler=cluster.scheduler_address,
        )  # fmt: skip
        with pytest.raises(ValueError, match="2 worker thread"):
            clmlang.simulate(
                policy, market, customers=50, days=8, rng=3, blocks=3,
                scheduler=cluster.scheduler_address,
            )  # fmt: skip
        # without a capacity the blocks need not run at once: 5 blocks on 2 worker threads,
        # each run taken as it finishes, merged in block order
        free = clmlang.loads(QUEUE.replace(" capacity 10 per day", ""))
        free_on_dask = clmlang.simulate(
            free, market, customers=50, days=8, rng=3, blocks=5,
            scheduler=cluster.scheduler_address,
        )  # fmt: skip
    assert local.files() == on_dask.files()
    free_local = clmlang.simulate(free, market, customers=50, days=8, rng=3, workers=1, blocks=5)
    assert free_local.files() == free_on_dask.files()
    assert free_local.daily["messages_call"].tolist() == [50, 0, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "give one"),
        (["--blocks", "2"], "--blocks: the blocks are for --workers"),
        (["--scheduler", "not an address"], "not a scheduler's address"),
        (
            ["--scenario", str(ROOT / "simulations" / "clinic.toml"), "--workers", "2"],
            "acquisition",
        ),
    ],
)
def test_bad_workers_and_scheduler_are_usage_errors(args, message, tmp_path):
    spec = [] if "--scenario" in args else [str(ROOT / "specs" / "clinic.clm")]
    result = CliRunner().invoke(
        app,
        ["simulate", *spec, *args, "--customers", "1000", "--blocks", "2", "--days", "5"]
        if "--scenario" in args
        else ["simulate", *spec, *args, "--days", "5", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_traced_customer_of_a_later_block_keeps_their_journey():
    policy, market = clmlang.loads(QUEUE), queue_market(3)
    journeys = [
        clmlang.simulate(
            policy, market, customers=50, days=8, rng=3, trace=45, workers=w, blocks=3
        ).trace
        for w in (1, 2)
    ]
    assert journeys[0] == journeys[1]
    assert any(kind == "message" for _, kind, _ in journeys[0])  # everyone is rung, in time


def _failing(run, block):
    """A block's measure that fails for block `FAILING[0]`, else gives the block's index."""
    if block.index == FAILING[0]:
        raise ArithmeticError(f"block {block.index} cannot be measured")
    return block.index


FAILING = [0]


@pytest.mark.parametrize("failing", [0, 2])
@pytest.mark.parametrize("text", [QUEUE, QUEUE.replace(" capacity 10 per day", "")])
def test_a_block_that_fails_in_a_worker_or_in_this_process_stops_the_run(failing, text):
    """Three blocks over two workers: this process runs block 0, a worker process blocks 1
    and 2; a failure in either is raised here with the block's traceback, with or without
    a capacity the blocks share (lockstep), and nothing waits for the other blocks."""
    policy = clmlang.loads(text)

    def run():  # type: ignore[no-untyped-def]
        return run_blocks(
            policy,
            queue_market(2),
            customers=60,
            days=5,
            rng=np.random.default_rng(1),
            workers=2,
            blocks=3,
            measure=_failing,
        )

    FAILING[0] = failing
    with pytest.raises(RuntimeError, match=f"block {failing} failed:(.|\\n)*cannot be measured"):
        run()
    FAILING[0] = -1  # none fails: the measures come back in block order
    kept = run()
    assert kept == [0, 1, 2]


def test_the_quiet_dask_settings_name_keys_dask_has():
    """A misspelt key would be set and ignored: every key of QUIET_DASK is one of Dask's
    own settings, and it changes its value (the default runs the timer more often)."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from clmlang.whatif.cluster import QUIET_DASK

    for key, value in QUIET_DASK.items():
        default = dask.config.get(key)  # KeyError for a key Dask does not have
        assert default != value, key
        with dask.config.set({key: value}):
            assert dask.config.get(key) == value


def test_a_worker_whose_first_block_ends_with_a_result_bigger_than_its_pipe_goes_on(monkeypatch):
    """Three blocks over two workers, logs kept, with a call capacity (the blocks walk the
    days together) and the results through the pipe (no shared memory): the worker's block 1
    ends with a run bigger than the pipe holds, which this process reads only once the days
    are walked; the worker's block 2 still walks them (its block 1 sends without keeping
    the others from computing), and the run is the one of `--workers 1`."""
    monkeypatch.delattr("clmlang.simulation.engine.handover.os.memfd_create", raising=False)
    policy, market = clmlang.loads(QUEUE), queue_market(2)
    args = {"customers": 3000, "days": 6, "rng": 3, "blocks": 3, "logs": True}
    runs = [clmlang.simulate(policy, market, workers=w, **args) for w in (1, 2)]
    assert runs[0].files() == runs[1].files()
    logs = [r.logs() for r in runs]
    assert logs[0].keys() == logs[1].keys()
    for name in logs[0]:
        pd.testing.assert_frame_equal(logs[0][name], logs[1][name])
    assert daily(runs[0])["messages_call"].tolist() == [10, 10, 10, 0, 0, 0]


def test_the_blocks_run_with_the_heap_frozen_and_give_it_back():
    """During the run the objects alive before it are frozen (left out of the collector's
    passes); after it nothing is: and a heap someone else froze stays frozen."""
    policy, market = clmlang.loads(QUEUE), queue_market(0)
    frozen: list[int] = []

    def measure(run, block):
        frozen.append(gc.get_freeze_count())
        return block.index

    args = {"customers": 50, "days": 3, "rng": np.random.default_rng(1), "measure": measure}
    assert run_blocks(policy, market, blocks=2, **args) == [0, 1]
    assert min(frozen) > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        run_blocks(policy, market, blocks=2, **args)
        assert gc.get_freeze_count() > 0  # (its count falls as frozen objects are freed)
    finally:
        gc.unfreeze()
