"""The switch between the compiled kernels and the numpy path (clmlang.core.compiled)."""

import numpy as np
import pytest

from clmlang.core import compiled


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        ("0", 10**12, False),
        ("1", 1, True),
        ("", compiled.THRESHOLD - 1, False),
        ("", compiled.THRESHOLD, True),
    ],
)
def test_switch(monkeypatch, value, size, expected):
    monkeypatch.setenv(compiled.SWITCH, value)
    assert compiled.use_compiled(size) is expected


def test_kernel_compiles_on_first_call_and_agrees_with_python():
    def running_max(values):
        out = np.empty_like(values)
        best = -np.inf
        for i in range(values.size):
            best = max(best, values[i])
            out[i] = best
        return out

    k = compiled.kernel(running_max)
    assert k._compiled is None
    values = np.random.default_rng(3).random(50)
    np.testing.assert_array_equal(k(values), np.maximum.accumulate(values))
    assert k._compiled is not None


@compiled.kernel(inline=True)
def _clamp(x, low, high):
    return min(max(x, low), high)


def _clamped_sum(values, low, high):
    total = 0.0
    for i in range(values.size):
        total += _clamp(values[i], low, high)
    return total


def test_an_inline_helper_is_copied_into_the_kernels_that_call_it():
    values = np.random.default_rng(5).normal(size=200)
    k = compiled.kernel(_clamped_sum)
    expected = 0.0
    for v in values.tolist():  # the same additions in the same order
        expected += min(max(v, -0.5), 0.5)
    assert k(values, -0.5, 0.5) == expected
    # the kernel saw the helper as numba's own dispatcher (which inlines it), not the wrapper
    assert k._compiled.py_func.__globals__["_clamp"] is _clamp._compiled
    assert _clamped_sum.__globals__["_clamp"] is _clamp  # the module's name is left alone
    assert _clamp(3.0, 0.0, 1.0) == 1.0
