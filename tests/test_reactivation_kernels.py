"""The reactivation score's recursion by the numba kernel against its numpy twin
(clmlang/forecasting/reactivation_kernels.py): the same value and gradient to 1e-12
relative, at parameters anywhere in a wide box, on the CDNOW sample's histories."""

from __future__ import annotations

import numpy as np
import pytest

from clmlang.forecasting import reactivation
from clmlang.forecasting.history import summarise
from clmlang.forecasting.reactivation_score import loglik_and_score

from .conftest import ROOT, cdnow_days

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"


@pytest.fixture(scope="module")
def data():
    return reactivation.prepare(summarise(cdnow_days(), "1997-09-30"))


@pytest.mark.parametrize(
    "params",
    [
        (0.21, 3.3, 1.1, 2.0, 0.017),  # about CDNOW's fit
        (0.05, 0.3, 0.2, 0.2, 1e-4),
        (5.0, 30.0, 10.0, 50.0, 1.0),
        (1.0, 1.0, 300.0, 900.0, 0.05),  # a nearly fixed p
    ],
)
def test_the_kernel_is_numpys_recursion(data, params):
    """Every group by the recursion (no quadrature): value and gradient agree to 1e-12
    relative between the two paths, and the gradient is not all zeros (the kernel ran)."""
    params = np.array(params)
    counts = data.weight * np.linspace(0.5, 1.5, data.weight.size)
    by_numpy = loglik_and_score(params, data, counts, 10**12, compiled=False)
    by_kernel = loglik_and_score(params, data, counts, 10**12, compiled=True)
    assert by_kernel[0] == pytest.approx(by_numpy[0], rel=1e-12)
    assert np.abs(by_numpy[1]).max() > 0
    np.testing.assert_allclose(by_kernel[1], by_numpy[1], rtol=1e-12, atol=1e-12 * abs(by_numpy[0]))
