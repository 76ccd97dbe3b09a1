"""Fits at their edge: a Beta(a, b) dropout with a + b past what scipy's Gauss-Jacobi rule
can scale (every customer with nearly the same dropout probability)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import special

from clmlang.forecasting.history import summarise
from clmlang.forecasting.reactivation_posterior import posterior
from clmlang.forecasting.reactivation_quadrature import dropout_nodes

from .conftest import cdnow_days


@pytest.mark.parametrize("a, b", [(0.8, 2.4), (3.0, 7.0), (50.0, 400.0)])
def test_dropout_nodes_are_scipys_where_scipy_gives_them(a, b):
    z, w = special.roots_jacobi(12, b - 1.0, a - 1.0)
    p, weights = dropout_nodes(12, a, b)
    np.testing.assert_array_equal(p, (1.0 + z) / 2.0)
    np.testing.assert_allclose(weights, w / w.sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "a, b", [(1.818e6, 1.452e7), (2.0e3, 6.0e3), (1.0, 5.0e3), (1.47e48, 1.46e48)]
)
def test_dropout_nodes_keep_the_betas_mean_and_spread_past_scipys_range(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, w = dropout_nodes(12, a, b)
    assert np.isfinite(p).all() and np.isfinite(w).all() and abs(w.sum() - 1) < 1e-12
    mean = a / (a + b)  # the Beta's moments, in closed form
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert (p * w).sum() == pytest.approx(mean, rel=1e-9)
    spread = np.sqrt((w * (p - (p * w).sum()) ** 2).sum())
    assert spread == pytest.approx(sd, rel=1e-6, abs=1e-15)
    # a 12-node rule is exact for polynomials of degree 23: the third moment too
    third = a * (a + 1) * (a + 2) / ((a + b) * (a + b + 1) * (a + b + 2))
    assert (w * p**3).sum() == pytest.approx(third, rel=1e-6)


def test_the_posterior_at_a_point_mass_dropout_is_finite_and_silent():
    """BG/NBD with reactivation fitted to a simulated clinic ran a and b off to 1.5e48: the
    posterior then took scipy's NaN nodes (RuntimeWarnings, a NaN posterior)."""
    summary = summarise(cdnow_days(), "1997-09-30")
    common = {"r": 0.21, "alpha": 3.2, "omega": 0.017}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        edge = posterior(summary, {**common, "a": 1.0e48, "b": 3.0e48}).p_active
    assert np.isfinite(edge).all() and ((edge > -1e-12) & (edge < 1 + 1e-12)).all()
    # near the limit (p's sd 0.014 about 0.25), where scipy's rule still holds, nearly the same
    near = posterior(summary, {**common, "a": 250.0, "b": 750.0}).p_active
    np.testing.assert_allclose(edge, near, atol=1e-2)
