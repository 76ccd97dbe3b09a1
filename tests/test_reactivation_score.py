"""The reactivation model's score (its log-likelihood's gradient in closed form) against
finite differences of the likelihood, and the fit that uses it against the fit by L-BFGS-B's
own finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clmlang.forecasting import fitting, reactivation
from clmlang.forecasting.history import summarise
from clmlang.forecasting.reactivation_score import loglik_and_score

from .conftest import cdnow_days, log_uniform


def _summary(end: str):
    return summarise(cdnow_days(), end)


@pytest.fixture(scope="module")
def data():
    return reactivation.prepare(_summary("1997-09-30"))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    r=log_uniform(0.05, 5.0),
    alpha=log_uniform(0.3, 30.0),
    a=log_uniform(0.2, 10.0),
    b=log_uniform(0.2, 50.0),
    omega=log_uniform(1e-4, 1.0),
    by_quadrature=st.booleans(),
)
def test_the_score_is_the_likelihoods_slope(data, r, alpha, a, b, omega, by_quadrature):
    """At parameters anywhere in a wide box, the closed-form gradient in the log-parameters
    is the likelihood's central difference (step 1e-5, error about 1e-7 relative), with every
    group integrated over p by the recursion or every group by quadrature; the value is the
    likelihood's."""
    params = np.array([r, alpha, a, b, omega])
    counts = data.weight * np.linspace(0.5, 1.5, data.weight.size)  # unequal weights too
    threshold = 0 if by_quadrature else 10**12
    value, gradient = loglik_and_score(params, data, counts, threshold)

    def total(log_params):
        return float(counts @ reactivation._loglik(np.exp(log_params), data))

    assert value == pytest.approx(total(np.log(params)), rel=1e-12)
    h = 1e-5
    for i in range(5):
        step = np.zeros(5)
        step[i] = h
        slope = (total(np.log(params) + step) - total(np.log(params) - step)) / (2 * h)
        assert gradient[i] * params[i] == pytest.approx(slope, rel=1e-5, abs=1e-4)


def test_the_fit_with_the_score_is_the_fit_without(monkeypatch):
    """Fitted with the closed-form gradient or with L-BFGS-B's finite differences, from the
    same BG/NBD start, the maximum is the same to the optimiser's tolerance (ftol, relative)
    and the parameters and their standard errors agree far inside the standard errors."""
    summary = _summary("1997-06-30")
    bg = fitting.fit_bgnbd(summary, errors=False)
    scored = reactivation.fit_bgnbd_reactivation(summary, bg)
    plain_fit = fitting.fit_model

    def without_score(*args, **kwargs):
        kwargs.pop("score", None)
        return plain_fit(*args, **kwargs)

    monkeypatch.setattr(reactivation, "fit_model", without_score)
    plain = reactivation.fit_bgnbd_reactivation(summary, bg)
    ftol = fitting.TOLERANCE["ftol"] * abs(plain.log_likelihood)
    assert scored.log_likelihood > plain.log_likelihood - 10 * ftol - 1e-6
    for k, v in plain.params.items():
        assert abs(scored.params[k] - v) < 0.001 * plain.std_errors[k]
        assert scored.std_errors[k] == pytest.approx(plain.std_errors[k], rel=1e-3)


def test_distinct_rows_are_numpys_unique_rows():
    """The distinct histories by a column-wise stable sort: the same rows as np.unique's,
    each row's first occurrence, and every row mapped to its own."""
    from clmlang.forecasting.distinct import distinct_rows as _distinct_rows

    keys = np.random.default_rng(2).integers(-1, 3, (4000, 5))
    who, index = _distinct_rows(keys)
    unique, first = np.unique(keys, axis=0, return_index=True)
    assert np.array_equal(keys[who][index], keys)
    assert np.array_equal(np.sort(who), np.sort(first))
    assert len(who) == len(unique)
    # floats too (the posterior's grids of lambda nodes), in np.unique's order
    rows = np.random.default_rng(3).choice([0.5, 1.25, 2.0], (3000, 3))
    who, index = _distinct_rows(rows)
    unique, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    assert np.array_equal(who, first) and np.array_equal(index, inverse.reshape(-1))


def test_distinct_values_are_numpys_unique():
    from clmlang.forecasting.distinct import distinct

    values = np.random.default_rng(4).integers(0, 10_000, 50_000)
    assert np.array_equal(distinct(values), np.unique(values))
    assert distinct(np.zeros(0, dtype=np.int64)).size == 0
