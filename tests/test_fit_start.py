"""A fit whose starting point has no finite log-likelihood: a clear failure, never the start
reported as the maximum; a closed-form gradient that overflows at the start while the
likelihood does not: the fit descends on the likelihood alone and reaches the maximum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clmlang.forecasting.fitting import FitError, fit_model
from clmlang.forecasting.history import HistoryError


def _ll(theta: np.ndarray) -> np.ndarray:
    """Two terms, -(theta - 1)^2 each: the maximum at theta = 1 (the parameter e)."""
    return np.full(2, -((theta[0] - 1.0) ** 2))


def test_a_start_without_a_finite_likelihood_is_a_clear_failure():
    """The likelihood is NaN past theta = 3: from theta = 4 the fit fails and says where."""

    def ll(theta: np.ndarray) -> np.ndarray:
        return _ll(theta) if theta[0] <= 3 else np.full(2, np.nan)

    with pytest.raises(FitError, match=r"the toy fit cannot start: .* not finite at k 54.59"):
        fit_model("toy", ["k"], ll, [math.exp(4.0)], 2, errors=False)
    # a backtest skips the model (ValueError); the forecast command reports it (HistoryError)
    assert issubclass(FitError, ValueError) and issubclass(FitError, HistoryError)


def test_a_gradient_that_overflows_at_the_start_falls_back_to_the_likelihood():
    """The closed form is NaN past theta = 3, the likelihood finite everywhere: from
    theta = 4 the fit reaches theta = 1, not the start (once reported as converged)."""

    def score(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if theta[0] > 3:
            return math.nan, np.array([math.nan])
        return float(_ll(theta).sum()), np.array([-4.0 * (theta[0] - 1.0)])

    fit = fit_model("toy", ["k"], _ll, [math.exp(4.0)], 2, errors=False, score=score)
    assert math.isclose(math.log(fit.params["k"]), 1.0, abs_tol=1e-4)
    assert math.isclose(fit.log_likelihood, 0.0, abs_tol=1e-7)


def test_a_finite_start_is_unchanged():
    """From theta = 2, with the closed form, the fit reaches theta = 1."""

    def score(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(_ll(theta).sum()), np.array([-4.0 * (theta[0] - 1.0)])

    fit = fit_model("toy", ["k"], _ll, [math.exp(2.0)], 2, errors=False, score=score)
    assert math.isclose(math.log(fit.params["k"]), 1.0, abs_tol=1e-6)
