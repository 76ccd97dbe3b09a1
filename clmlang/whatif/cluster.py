"""One simulation's blocks of customers on a Dask cluster (`clm simulate --scheduler`).

The blocks are those `simulation.engine.blocks` runs in local processes (the split depends on
the population alone, block k draws from the k-th child of the run's Generator), one task each;
their runs come back here and are merged in block order, so the output has the same bytes as
`--workers N` with the same blocks. The policy and the market go to the workers once
(scattered to all of them), not with each task.

When a channel has a daily capacity the blocks walk the days in lockstep with the coordinator
in this process, as local workers do: each task connects back to it (a socket on the address
this machine reaches the scheduler from, with a random key), so every block must run at once:
the cluster needs at least as many worker threads as there are blocks.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from numbers import Integral

import numpy as np

from ..compile.policy import Policy
from ..core.extras import require
from ..market.model import Market
from ..simulation.engine.blocks import (
    Block,
    block_sizes,
    merge_blocks,
    plan_blocks,
    run_block,
    run_blocks,
    shares_capacity,
    split_problem,
)
from ..simulation.engine.lockstep import coordinate, share_link
from ..simulation.engine.simulation import Run
from .allocator import roomy_allocator

__all__ = ["QUIET_DASK", "scheduler_problem", "simulate_blocks", "simulate_on_cluster"]

# Dask settings for a cluster that runs clm's long tasks (seconds to minutes each): its
# processes' timers, which cost CPU in proportion to the wall time whatever the tasks do, run
# less often. `dask.config.set(QUIET_DASK)` before starting a LocalCluster (the benchmarks do),
# or the same keys as DASK_* environment variables for `dask scheduler` / `dask worker`
# (docs/engine.md).
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,  # a stack sample every 10 ms, each worker
    "distributed.admin.tick.interval": "1s",  # the event loop's health check: every 20 ms
    "distributed.admin.system-monitor.interval": "2s",  # 500 ms
    "distributed.worker.memory.monitor-interval": "500ms",  # 100 ms, workers and nannies
}

_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def scheduler_problem(address: str) -> str | None:
    """Why `address` cannot be a Dask scheduler's address, or None (it is not contacted)."""
    if not _ADDRESS.match(address):
        return (
            f"`{address}` is not a scheduler's address (tcp://host:port, e.g. tcp://10.0.0.5:8786)"
        )
    try:
        require("distributed", "running blocks on a Dask scheduler")
    except ImportError as error:
        return str(error)
    return None


def _task(policy, market, days: int, block: Block, logs: bool, link_to, measure=None):
    """One block on a Dask worker; `link_to`: (address, key) of the coordinator, or None;
    `measure(run, block)`: what comes back instead of the run, when given."""
    with roomy_allocator():  # a Dask worker's allocator maps every large array afresh
        if link_to is None:
            run = run_block(policy, market, days, block, logs)
        else:
            link = multiprocessing.connection.Client(link_to[0], authkey=link_to[1])
            link.send(block.index)
            try:
                run = run_block(policy, market, days, block, logs, share_link(link))
            finally:
                link.close()
        return run if measure is None else measure(run, block)


def _own_address(client) -> str:
    """The address of this machine the scheduler's network reaches it on."""
    host = client.scheduler.address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((host, 9))  # no packet is sent: only the route is looked up
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def simulate_on_cluster(
    scheduler: str,
    policy: Policy,
    market: Market,
    *,
    customers: int,
    days: int,
    rng: np.random.Generator,
    blocks: int | None = None,
    logs: bool = False,
    trace: int | None = None,
    progress: Callable[[int], None] | None = None,
    measure: Callable | None = None,
) -> Run | list:
    """Run the blocks on the Dask scheduler at `scheduler` and merge them (with `measure`:
    each block measured on its worker, the measures in block order). Raises OSError
    when it cannot be reached, ValueError when a shared capacity needs more worker threads
    than the cluster has."""
    distributed = require("distributed", "running blocks on a Dask scheduler")
    plan = plan_blocks(customers, rng, blocks, trace)
    client = distributed.Client(scheduler, timeout=10, set_as_default=False)
    try:
        coupled = shares_capacity(policy) and len(plan) > 1
        if coupled:
            threads = sum(client.nthreads().values())
            if threads < len(plan):
                raise ValueError(
                    f"a channel's daily capacity makes the {len(plan)} blocks run at once, and "
                    f"the cluster has {threads} worker thread(s): ask for --blocks {threads} or"
                    " fewer"
                )
        shipped_policy = client.scatter(policy, broadcast=True)
        shipped_market = client.scatter(market, broadcast=True)
        if not coupled:
            futures = [
                client.submit(
                    _task, shipped_policy, shipped_market, days, b, logs, None, measure, pure=False
                )
                for b in plan
            ]
            runs = _taken(distributed, client, futures)
            if progress is not None:
                progress(days - 1)
            return runs if measure is not None else merge_blocks(plan, runs)
        return _lockstep(
            client, plan, policy, shipped_policy, shipped_market, days, logs, progress, measure
        )
    finally:
        client.close()


def _taken(distributed, client, futures: list) -> list:
    """The tasks' results in the order of `futures`, each taken as soon as it is done and then
    released, so a worker that ran several blocks holds one finished result at a time, not
    all of them until the last block is done."""
    index = {future.key: k for k, future in enumerate(futures)}
    results: list = [None] * len(futures)
    for future in distributed.as_completed(futures, loop=client.loop):
        results[index[future.key]] = future.result()
        future.release()
    return results


def _lockstep(
    client, plan, policy, shipped_policy, shipped_market, days, logs, progress, measure=None
) -> Run | list:
    key = os.urandom(16)
    listener = multiprocessing.connection.Listener((_own_address(client), 0), authkey=key)
    links: dict[int, object] = {}

    def accept() -> None:
        for _ in plan:
            link = listener.accept()
            links[link.recv()] = link

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    futures = [
        client.submit(
            _task,
            shipped_policy,
            shipped_market,
            days,
            b,
            logs,
            (listener.address, key),
            measure,
            pure=False,
        )
        for b in plan
    ]
    try:
        while acceptor.is_alive():  # a task that fails before it connects is reported here
            for f in futures:
                if f.status == "error":
                    f.result()
            time.sleep(0.05)
        capacity = np.array(
            [np.inf if c.capacity_per_day is None else c.capacity_per_day for c in policy.channels]
        )
        ordered = [links[b.index] for b in plan]
        try:
            coordinate(ordered, capacity, days, progress, collect=False)
        except RuntimeError:
            for f in futures:  # the task's own error says more than a closed connection
                if f.status == "error":
                    f.result()
            raise
        runs = client.gather(futures)
    finally:
        listener.close()
        for f in futures:
            f.cancel()
    return runs if measure is not None else merge_blocks(plan, runs)


def simulate_blocks(
    policy, market, customers, days, rng, trace, progress, logs, workers, blocks, scheduler,
    measure=None,
):  # fmt: skip
    """`clmlang.simulate`'s run as blocks (`workers` local processes, or the Dask cluster at
    `scheduler`); raises ValueError for a bad `workers` or `blocks`, or a market that cannot
    be split. Without any of the three: the run `simulate_policy` makes, in this process.
    With `measure`: each block's measure (`run_blocks`), in block order, instead of the run."""
    if workers is None and blocks is None and scheduler is None:
        blocks = 1  # one block: the run `simulate_policy` makes, in this process
    for name, value in (("workers", workers), ("blocks", blocks)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Integral) or not 1 <= value <= 1024
        ):
            raise ValueError(f"{name}: a whole number from 1 to 1,024, not {value!r}")
    if len(block_sizes(customers, blocks)) > 1:
        problem = split_problem(market)
        if problem:
            raise ValueError(problem)
    if scheduler is not None:
        return simulate_on_cluster(
            scheduler, policy, market, customers=customers, days=days, rng=rng,
            blocks=blocks, logs=logs, trace=trace, progress=progress, measure=measure,
        )  # fmt: skip
    return run_blocks(
        policy,
        market,
        customers=customers,
        days=days,
        rng=rng,
        workers=workers or 1,
        blocks=blocks,
        logs=logs,
        trace=trace,
        progress=progress,
        measure=measure,
    )
