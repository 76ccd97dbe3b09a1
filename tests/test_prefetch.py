"""The purchases' kernels' cache hint (engine/prefetch.py): compiled into a `llvm.prefetch`
of the row's address, and changing no value, even for rows past either end of a column."""

from __future__ import annotations

import numpy as np
import pytest

from clmlang.core import compiled
from clmlang.core.compiled import kernel
from clmlang.simulation.engine.prefetch import AHEAD, prefetch

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")


@kernel
def _gather_sum(column, ids, far):
    """The sum of column[ids], hinting each later row (and `far`, out of range) first."""
    total = 0.0
    for i in range(ids.size):
        if i + AHEAD < ids.size:
            prefetch(column, ids[i + AHEAD])
        prefetch(column, far)
        total += column[ids[i]]
    return total


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint64, np.bool_])
def test_prefetch_changes_no_value(dtype):
    """A kernel that hints rows (its next ones, and rows far outside the column) reads the
    same values: its sum is the sum of the gathered rows added one by one."""
    rng = np.random.default_rng(3)
    column = (rng.random(100_000) * 1000).astype(dtype)
    ids = np.sort(rng.choice(column.size, 5_000, replace=False))
    want = 0.0
    for c in ids:
        want += float(column[c])
    for far in (column.size + 10**9, -(10**9), column.size):
        assert _gather_sum(column, ids, far) == want
    assert _gather_sum(column, ids[:3], 0) == sum(float(column[c]) for c in ids[:3])


def test_prefetch_is_an_llvm_prefetch():
    """The hint compiles to the processor's prefetch (not to nothing), reading into every
    cache level; from Python it does nothing."""
    import numba

    fresh = numba.njit(cache=False)(_gather_sum.py_func)
    column, ids = np.arange(64.0), np.arange(40)
    assert fresh(column, ids, 0) == float(ids.sum())
    ir = "\n".join(fresh.inspect_llvm().values())
    assert "llvm.prefetch" in ir
    assert prefetch(column, 3) is None
