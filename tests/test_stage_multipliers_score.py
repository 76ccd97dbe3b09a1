"""The stage multipliers' score (the log-likelihood's gradient in closed form) against finite
differences of the likelihood, and the fit that uses it against L-BFGS-B's own differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clmlang.forecasting import fitting, stage_multipliers
from clmlang.forecasting.history import summarise

from .conftest import cdnow_days, log_uniform


@pytest.fixture(scope="module")
def summary():
    return summarise(cdnow_days(), "1997-09-30")


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    r=log_uniform(0.05, 5.0),
    alpha=log_uniform(0.3, 30.0),
    a=log_uniform(0.2, 10.0),
    b=log_uniform(0.2, 50.0),
    multipliers=st.lists(log_uniform(0.2, 5.0), min_size=0, max_size=3),
)
def test_the_score_is_the_likelihoods_slope(summary, r, alpha, a, b, multipliers):
    """With 0 to 3 free multipliers, anywhere in a wide box, the closed-form gradient is the
    likelihood's central difference in the log-parameters (step 1e-5)."""
    free = len(multipliers)
    parts = stage_multipliers.exposures(summary)
    x = summary.x
    counts = np.linspace(0.5, 1.5, x.size)
    params = np.array([r, alpha, a, b, *multipliers])
    value, gradient = stage_multipliers._score(params, x, parts, free, counts)

    def total(log_params):
        return float(counts @ stage_multipliers._loglik(np.exp(log_params), x, parts, free))

    assert value == pytest.approx(total(np.log(params)), rel=1e-12)
    h = 1e-5
    for i in range(params.size):
        step = np.zeros(params.size)
        step[i] = h
        slope = (total(np.log(params) + step) - total(np.log(params) - step)) / (2 * h)
        assert gradient[i] * params[i] == pytest.approx(slope, rel=1e-5, abs=1e-4)


def test_the_fit_with_the_score_is_the_fit_without(summary, monkeypatch):
    """With the closed-form gradient or L-BFGS-B's finite differences, from the same start:
    the same maximum to the optimiser's tolerance, and parameters and standard errors that
    agree far inside the standard errors."""
    bg = fitting.fit_bgnbd(summary, errors=False)
    scored = stage_multipliers.fit_bgnbd_stages(summary, bg)
    plain_fit = fitting.fit_model

    def without_score(*args, **kwargs):
        kwargs.pop("score", None)
        return plain_fit(*args, **kwargs)

    monkeypatch.setattr(stage_multipliers, "fit_model", without_score)
    plain = stage_multipliers.fit_bgnbd_stages(summary, bg)
    assert len(plain.params) > 4  # multipliers fitted
    ftol = fitting.TOLERANCE["ftol"] * abs(plain.log_likelihood)
    assert scored.log_likelihood > plain.log_likelihood - 10 * ftol - 1e-6
    for k, v in plain.params.items():
        assert abs(scored.params[k] - v) < 0.001 * plain.std_errors[k]
        assert scored.std_errors[k] == pytest.approx(plain.std_errors[k], rel=1e-3)
