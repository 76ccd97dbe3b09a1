"""One population split into blocks of customers, run side by side in worker processes (the
command's own process runs one share of them instead of waiting) and merged into one run.

The split depends on the population alone (`block_sizes`: blocks of at most
`BLOCK_CUSTOMERS`, or a number asked for), never on the number of workers, and block k draws
its customers and its random streams from the k-th child of the run's Generator: the merged
run has the same bytes whichever worker ran which block. Blocks are independent except for the
channels' daily capacities (a call centre's calls a day). When a channel has one, the blocks
walk the days in lockstep with a coordinator in this process: each batch of messages a
capacity binds is sent to it (the uniforms that rank its customers) and it allots the day's
capacity over every block's batches of the same send step (in the order of priority, rule and
send step; queued messages first, oldest first) to the smallest uniforms, so the capacity is
used exactly as a single calendar would use it: never exceeded, none left while anyone waits.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import multiprocessing
import multiprocessing.connection
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...compile.policy import Policy
from ...market.model import Market
from .merge import merge_runs
from .simulation import Run, simulate_policy

__all__ = [
    "BLOCK_CUSTOMERS",
    "Block",
    "block_sizes",
    "coordinate",
    "merge_blocks",
    "plan_blocks",
    "run_block",
    "run_blocks",
    "share_link",
    "shares_capacity",
    "split_problem",
]

BLOCK_CUSTOMERS = 500_000  # the largest block when the number of blocks is not given


def block_sizes(customers: int, blocks: int | None = None) -> list[int]:
    """The blocks' sizes: `blocks` of them (default: as few as keep each within
    BLOCK_CUSTOMERS), sizes differing by at most one, the larger first."""
    count = blocks if blocks is not None else math.ceil(customers / BLOCK_CUSTOMERS)
    count = max(1, min(count, customers))
    size, extra = divmod(customers, count)
    return [size + (1 if k < extra else 0) for k in range(count)]


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


class _Stopped(Exception):
    """Another block failed: this one stops too."""


class _Share:
    """A block's side of the coordinator (`link`, one end of a pipe): it asks how many of a
    batch to send and says when its day is over; while it waits, another block of its
    process may compute (`baton`)."""

    def __init__(self, link, baton: threading.Lock):
        self.link, self.baton = link, baton

    def _ask(self, message: tuple) -> int:
        self.link.send(message)
        self.baton.release()
        try:
            answer = self.link.recv()
        finally:
            self.baton.acquire()
        if answer < 0:
            raise _Stopped
        return answer

    def allot(self, key: tuple, channel: int, uniforms: np.ndarray) -> int:
        """How many of a batch whose customers' uniforms are `uniforms` (ascending) go."""
        return self._ask(("allot", key, channel, uniforms))

    def day_done(self, day: int) -> None:
        self._ask(("done", day))


def share_link(link) -> _Share:
    """The share of a block that runs alone in its thread, coordinated over `link`."""
    baton = threading.Lock()
    baton.acquire()
    return _Share(link, baton)


_KEPT = "kept"  # what a block run in the coordinator's own process sends: its result is kept


def _host(policy, market, days, blocks, logs, coupled, links, measure=None, kept=None) -> None:
    """Run `blocks` in this process, each result (or failure) sent on its link: one thread
    per block when they share capacities (one of them computing at a time), else one by one.
    `measure(run, block)`, when given, is what is sent instead of the run (the run is freed
    once measured). `kept`: the coordinator runs in this process: each result goes into
    this dict by block index (not pickled through its link, which says only `_KEPT`)."""
    baton = threading.Lock()

    def one(block: Block, link) -> None:
        with baton:
            try:
                share = _Share(link, baton) if coupled else None
                run = run_block(policy, market, days, block, logs, share)
                if measure is not None:
                    run = measure(run, block)
            except _Stopped:
                return
            except BaseException:
                link.send(("error", traceback.format_exc()))
                return
            if kept is not None:
                kept[block.index] = run
                run = _KEPT
            link.send(("run", run))

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


def _allot(batches: list[np.ndarray], left: float) -> list[int]:
    """How many of each batch (uniforms, ascending) the `left` capacity takes: the smallest
    uniforms over all of them."""
    sizes = [b.size for b in batches]
    if sum(sizes) <= left:
        return sizes
    owner = np.repeat(np.arange(len(batches)), sizes)
    first = np.argsort(np.concatenate(batches), kind="stable")[: int(left)]
    return np.bincount(owner[first], minlength=len(batches)).tolist()


def coordinate(links, capacity, days, progress, collect: bool = True) -> list[Run]:
    """Receive the blocks' runs on `links` (one per block); with `capacity` (per channel),
    first walk the days with them, allotting each channel's capacity over their batches in
    key order. `collect=False`: the runs come back another way (a cluster's futures)."""
    runs: list[Run | None] = [None] * len(links)
    index = {id(link): b for b, link in enumerate(links)}

    def receive() -> list[tuple[int, tuple]]:
        got = []
        waiting = [link for b, link in enumerate(links) if runs[b] is None]
        for link in multiprocessing.connection.wait(waiting):  # (a block done may be closed)
            b = index[id(link)]
            try:
                msg = link.recv()
            except EOFError:
                raise RuntimeError(f"block {b} stopped without a result") from None
            if msg[0] == "error":
                raise RuntimeError(f"block {b} failed:\n{msg[1]}")
            if msg[0] == "run":
                runs[b] = msg[1]
            got.append((b, msg))
        return got

    try:
        for day in range(days if capacity is not None else 0):
            left, pending, done = capacity.copy(), {}, set()
            while len(done) < len(links):
                while len(pending) + len(done) < len(links):
                    for b, msg in receive():
                        if msg[0] == "done":
                            done.add(b)
                        elif msg[0] == "allot":
                            pending[b] = msg[1:]
                if pending:
                    key = min(v[0] for v in pending.values())
                    members = sorted(b for b, v in pending.items() if v[0] == key)
                    channel = pending[members[0]][1]
                    counts = _allot([pending[b][2] for b in members], left[channel])
                    left[channel] -= sum(counts)
                    for b, k in zip(members, counts, strict=True):
                        links[b].send(int(k))
                        del pending[b]
            for link in links:
                link.send(day)
            if progress is not None:
                progress(day)
        while collect and any(r is None for r in runs):
            receive()
    except BaseException:
        for link in links:
            with contextlib.suppress(OSError):
                link.send(-1)
        raise
    if progress is not None and capacity is None:
        progress(days - 1)
    return runs  # type: ignore[return-value]


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
    capacity = None
    if coupled:
        capacity = np.array(
            [np.inf if c.capacity_per_day is None else c.capacity_per_day for c in policy.channels]
        )
    workers = max(1, min(workers, len(plan)))
    ends = [multiprocessing.Pipe() for _ in plan]  # (the coordinator's end, the block's)
    mine = [a for a, _ in ends]
    theirs = [b for _, b in ends]
    # the first share of the blocks (the smallest: this process merges them after) runs in
    # this process, a thread beside the coordinator, the others each in a worker process:
    # N workers are this one and N - 1 started
    bounds = [len(plan) * w // workers for w in range(workers + 1)]
    shares = list(itertools.pairwise(bounds))
    # fork: the workers start with what this process has loaded (no imports, no pickling of
    # the policy), which matters on a busy machine; elsewhere a fresh interpreter each
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    processes = [
        ctx.Process(
            target=_host,
            args=(policy, market, days, plan[a:b], logs, coupled, theirs[a:b], measure),
            daemon=True,
        )
        for a, b in shares[1:]
    ]
    for p in processes:  # (before the thread below: a fork copies only the forking thread)
        p.start()
    for a, b in shares[1:]:
        for link in theirs[a:b]:
            link.close()  # the blocks' ends live in their processes now
    a, b = shares[0]
    kept: dict[int, object] = {}
    host = threading.Thread(
        target=_host,
        args=(policy, market, days, plan[a:b], logs, coupled, theirs[a:b], measure, kept),
        daemon=True,
    )
    host.start()
    try:
        runs = coordinate(mine, capacity, days, progress)
    finally:
        for p in processes:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    host.join()
    runs = [kept.pop(k) if isinstance(r, str) and r == _KEPT else r for k, r in enumerate(runs)]
    return runs if measure is not None else merge_blocks(plan, runs)
