"""A Dask worker's preload: clm's modules and numba loaded as the worker starts, not in its
first task.

`dask worker tcp://10.0.0.5:8786 --preload clmlang.whatif.preload` (or
`LocalCluster(preload=["clmlang.whatif.preload"])`, as the benchmarks do). Without it each
worker imports the engine, the metrics (pandas with pyarrow) and numba in its first task, about
1 s of CPU per worker on every `clm run` or `clm simulate --scheduler` it serves first, on the
critical path of each. The kernels' machine code itself still loads on the first call of each
(numba compiles per argument types, which only a run knows).
"""

from __future__ import annotations

__all__ = ["dask_setup", "load"]


def load() -> None:
    """Import what a task runs: the engine, the metrics, the what-if runs, and numba (if it
    can be imported: the engine's numpy path does without it)."""
    from ..core.compiled import available
    from . import cluster, experiment  # noqa: F401  (the engine and the metrics with them)

    available()


def dask_setup(worker=None) -> None:
    """Dask's hook for a preload module, called as the worker starts."""
    load()
