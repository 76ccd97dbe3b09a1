"""One population split into blocks of customers, run side by side in worker processes (the
command's own process runs one share of them instead of waiting) and merged into one run.

The split depends on the population alone (`block_sizes`: blocks of at most
`BLOCK_CUSTOMERS`, or a number asked for), never on the number of workers, and block k draws
its customers and its random streams from the k-th child of the run's Generator: the merged
run has the same bytes whichever worker ran which block. Blocks are independent except for the
channels' daily capacities (a call centre's calls a day). When a channel has one, the blocks
walk the days in lockstep (`lockstep.py`): each batch of messages a capacity binds goes to the
coordinator (the uniforms that rank its customers), which allots the day's capacity over every
block's batches of the same send step (in the order of priority, rule and send step; queued
messages first, oldest first) to the smallest uniforms, so the capacity is used exactly as a
single calendar would use it: never exceeded, none left while anyone waits. The coordinator is
run by this process's blocks as they wait, not by a thread of its own.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import multiprocessing
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...compile.policy import Policy
from ...market.model import Market
from .handover import send_result
from .lockstep import Share, Stopped, Walk
from .merge import merge_runs
from .simulation import Run, simulate_policy

__all__ = [
    "BLOCK_CUSTOMERS",
    "Block",
    "block_sizes",
    "merge_blocks",
    "plan_blocks",
    "run_block",
    "run_blocks",
    "shares_capacity",
    "split_problem",
]

BLOCK_CUSTOMERS = 500_000  # customers per block when the number of blocks is not given

# The first block's size against the others' (FIRST_WEIGHT / WEIGHT): it is the one the
# command's process runs, which also reads the workers' parts, merges every block's metrics
# and writes the files after its block. Measured by wall time on an idle machine (2026-12-02,
# 1,000,000 customers, `--workers 2`, alternated, 3 rounds): equal blocks beat a first block
# 7/8 of the others' for the clinic (9.2-10.0 s against 10.1-13.1 s: its channel capacity
# walks the blocks in lockstep, so the biggest block sets the pace) and were no slower for
# tyre_shop (no capacity: 9.7-13.1 against 10.7-11.1 s). The split depends on the population
# alone: the same bytes for any number of workers.
FIRST_WEIGHT, WEIGHT = 1, 1


def block_sizes(customers: int, blocks: int | None = None) -> list[int]:
    """The blocks' sizes: `blocks` of them (default: one per BLOCK_CUSTOMERS customers,
    rounded up), the first FIRST_WEIGHT / WEIGHT of the others' size, each at least one
    customer, the others differing by at most one."""
    count = blocks if blocks is not None else math.ceil(customers / BLOCK_CUSTOMERS)
    count = max(1, min(count, customers))
    # one customer each, and the rest shared in proportion to the weights (in integers)
    weights = [FIRST_WEIGHT] + [WEIGHT] * (count - 1)
    ends = itertools.accumulate(weights)
    total = sum(weights)
    bounds = [0] + [k + 1 + (customers - count) * end // total for k, end in enumerate(ends)]
    return [b - a for a, b in itertools.pairwise(bounds)]


def split_problem(market: Market) -> str | None:
    """Why this market's population cannot be split into blocks, or None."""
    if market.prospects.active:
        return "a market with prospects (market.prospects) runs as one block"
    if market.acquisition.per_day:
        return "a market with acquisition (market.acquisition.per_day) runs as one block"
    return None


def shares_capacity(policy: Policy) -> bool:
    """Whether the blocks must share a channel's daily capacity (walk the days in lockstep)."""
    return any(c.capacity_per_day is not None for c in policy.channels)


@dataclass(frozen=True)
class Block:
    """Block `index`: customers `start` to `start + size - 1` of the whole, drawn from `rng`;
    `trace`: the id within the block of the customer whose journey to record."""

    index: int
    start: int
    size: int
    rng: np.random.Generator
    trace: int | None = None


def plan_blocks(
    customers: int, rng: np.random.Generator, blocks: int | None = None, trace: int | None = None
) -> list[Block]:
    sizes = block_sizes(customers, blocks)
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    children = rng.spawn(len(sizes))
    return [
        Block(
            k,
            start,
            size,
            child,
            trace - start if trace is not None and start <= trace < start + size else None,
        )
        for k, (start, size, child) in enumerate(zip(starts, sizes, children, strict=True))
    ]


def run_block(
    policy: Policy, market: Market, days: int, block: Block, logs: bool = False, share=None
) -> Run:
    """Simulate one block on its own (`share`: the link to the coordinator of capacities)."""
    return simulate_policy(
        policy,
        market,
        customers=block.size,
        days=days,
        rng=block.rng,
        trace=block.trace,
        logs=logs,
        share=share,
    )


def merge_blocks(blocks: list[Block], runs: list[Run]) -> Run:
    """The blocks' runs as one run, with the traced customer's journey if any."""
    merged = merge_runs(runs)
    for block, run in zip(blocks, runs, strict=True):
        if block.trace is not None and run.trace is not None:
            run.trace.customer = block.start + block.trace
            merged.trace = run.trace
    return merged


def _host(policy, market, days, blocks, logs, coupled, links, measure=None) -> None:
    """Run `blocks` in this worker process, each result (or failure) sent on its link: one
    thread per block when they share capacities (one of them computing at a time), else one
    by one. `measure(run, block)`, when given, is what is sent instead of the run (the run is
    freed once measured)."""
    baton = threading.Lock()

    def one(block: Block, link) -> None:
        with baton:
            try:
                share = Share(link, baton) if coupled else None
                run = run_block(policy, market, days, block, logs, share)
                message = ("run", measure(run, block) if measure is not None else run)
                del run
            except Stopped:
                return
            except BaseException:
                message = ("error", traceback.format_exc())
        # sent without the baton: the command's process reads the results once the days are
        # walked, and a result bigger than the pipe holds (a run with its logs, where the
        # result cannot be mapped) would block its sender until then; holding the baton, the
        # sender kept its process's other blocks from walking the days: they all waited
        if message[0] == "error":
            link.send(message)
        else:
            # in shared memory (handover.py): the command's process maps the arrays instead
            # of reading them through the pipe (0.2 s of its CPU for a 500,000-customer
            # clinic part, on its critical path)
            send_result(link, message)

    if not coupled:
        for block, link in zip(blocks, links, strict=True):
            one(block, link)
        return
    threads = [
        threading.Thread(target=one, args=(block, link), daemon=True)
        for block, link in zip(blocks, links, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _run_here(policy, market, days, blocks, logs, coupled, walk: Walk, kept, measure) -> None:
    """Run `blocks` in the coordinator's process, in threads holding `walk.baton` (one per
    block when they share capacities: they talk to `walk` in memory, else one thread for
    them all, one by one); each result (or its measure) kept in `kept` by block index, a
    failure handed to `walk`, which stops the others."""

    def one(todo: list[Block]) -> None:
        with walk.baton:
            try:
                for block in todo:
                    if walk.error is not None:
                        return
                    share = walk.share(block.index) if coupled else None
                    run = run_block(policy, market, days, block, logs, share)
                    kept[block.index] = run if measure is None else measure(run, block)
                    del run
            except Stopped:
                return
            except BaseException:
                error = f"block {block.index} failed:\n{traceback.format_exc()}"
                walk.fail(RuntimeError(error))
            finally:
                walk.ended()

    groups = [[block] for block in blocks] if coupled else [blocks]
    threads = [threading.Thread(target=one, args=(g,), daemon=True) for g in groups if g]
    with walk.baton:
        for t in threads:
            walk.started()
            t.start()


def run_blocks(
    policy: Policy,
    market: Market,
    *,
    customers: int,
    days: int,
    rng: np.random.Generator,
    workers: int = 1,
    blocks: int | None = None,
    logs: bool = False,
    trace: int | None = None,
    progress: Callable[[int], None] | None = None,
    measure: Callable[[Run, Block], object] | None = None,
) -> Run | list:
    """Simulate `customers` customers as blocks (`blocks`, default `block_sizes`'s) over
    `workers` processes (this one, which runs the first share of the blocks beside the
    coordinator, and `workers - 1` started) and merge them: the same bytes for any `workers`.
    One block is the run `simulate_policy` makes with `rng`. With `measure`, each block's
    run is measured where it ran (`measure(run, block)`) and freed: the measures come back, in
    block order, instead of the merged run. Raises ValueError for a market whose population
    cannot be split (`split_problem`)."""
    with _frozen_heap():
        return _run_blocks(
            policy,
            market,
            customers=customers,
            days=days,
            rng=rng,
            workers=workers,
            blocks=blocks,
            logs=logs,
            trace=trace,
            progress=progress,
            measure=measure,
        )


@contextlib.contextmanager
def _frozen_heap():
    """The objects alive before the run (the modules, pandas', the compiled spec) left out
    of the garbage collector's passes during it (`gc.freeze`), given back after: each full
    pass walked all of them again, 4 a run at 1,000,000 clinic customers (0.34 s of the
    command's CPU, 0.23 s of its worker's), and in a worker process, which starts frozen,
    the collector no longer writes to their pages (their reference counts still may).
    Nothing is collected differently: only later. Left as it is when someone else froze
    the heap."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_blocks(
    policy: Policy,
    market: Market,
    *,
    customers: int,
    days: int,
    rng: np.random.Generator,
    workers: int,
    blocks: int | None,
    logs: bool,
    trace: int | None,
    progress: Callable[[int], None] | None,
    measure: Callable[[Run, Block], object] | None,
) -> Run | list:
    if len(block_sizes(customers, blocks)) == 1:
        run = simulate_policy(
            policy,
            market,
            customers=customers,
            days=days,
            rng=rng,
            trace=trace,
            progress=progress,
            logs=logs,
        )
        if measure is None:
            return run
        return [measure(run, Block(0, 0, customers, rng, trace))]
    problem = split_problem(market)
    if problem:
        raise ValueError(problem)
    plan = plan_blocks(customers, rng, blocks, trace)
    coupled = shares_capacity(policy)
    capacity = np.zeros(0)
    if coupled:
        capacity = np.array(
            [np.inf if c.capacity_per_day is None else c.capacity_per_day for c in policy.channels]
        )
    workers = max(1, min(workers, len(plan)))
    # the first share of the blocks (the smallest: this process merges them after) runs in
    # this process, the others each in a worker process: N workers are this one and N - 1
    # started, each block of theirs with a pipe to this process
    bounds = [len(plan) * w // workers for w in range(workers + 1)]
    shares = list(itertools.pairwise(bounds))
    here = range(*shares[0])
    ends = {k: multiprocessing.Pipe() for k in range(len(plan)) if k not in here}
    # fork: the workers start with what this process has loaded (no imports, no pickling of
    # the policy), which matters on a busy machine; elsewhere a fresh interpreter each
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    processes = [
        ctx.Process(
            target=_host,
            args=(policy, market, days, plan[a:b], logs, coupled),
            kwargs={"links": [ends[k][1] for k in range(a, b)], "measure": measure},
            daemon=True,
        )
        for a, b in shares[1:]
    ]
    for p in processes:  # (before any thread here: a fork copies only the forking thread)
        p.start()
    for _, theirs in ends.values():
        theirs.close()  # the blocks' ends live in their processes now
    # the days are walked by the blocks of this process as they wait (lockstep.py), the
    # worker processes' blocks answered over their pipes; without a capacity: no walk
    walk = Walk(
        len(plan), capacity, days if coupled else 0, progress, {k: e[0] for k, e in ends.items()}
    )
    kept: dict[int, object] = {}
    mine = plan[here.start : here.stop]
    _run_here(policy, market, days, mine, logs, coupled, walk, kept, measure)
    try:
        results = walk.finish()
    finally:
        for p in processes:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    if not coupled and progress is not None:
        progress(days - 1)
    runs = [kept.pop(k) if k in here else results[k] for k in range(len(plan))]
    return runs if measure is not None else merge_blocks(plan, runs)
