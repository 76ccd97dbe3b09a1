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
