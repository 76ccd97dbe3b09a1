"""Standard errors when the closed-form gradient overflows next to the maximum: the Hessian's
forward step that lands there is taken backward, and where both sides overflow the Hessian
comes from the likelihood's own differences; never a zero (or NaN) gradient taken for a
slope."""

from __future__ import annotations

import math

import numpy as np

from clmlang.forecasting.fitting import _hessian_of_gradient, fit_model

A = np.array([[4.0, 1.0], [1.0, 3.0]])  # the negative log-likelihood's Hessian, exactly


def _quadratic(overflows):
    """log-likelihood -theta' A theta / 2 and its gradient, inf where `overflows(theta)`."""

    def score(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if overflows(theta):
            return -math.inf, np.array([math.inf, math.inf])
        return -0.5 * float(theta @ A @ theta), -(A @ theta)

    return score


def test_a_forward_step_into_overflow_is_taken_backward():
    """At 0 the gradient is 0; one step forward in the first parameter overflows: that row
    was (0 - 0) / h, a zero curvature and a standard error of inf; now it is A's."""
    score = _quadratic(lambda theta: theta[0] > 1e-6)
    hessian = _hessian_of_gradient(score, np.zeros(2))
    np.testing.assert_allclose(hessian, A, rtol=1e-9)


def test_both_sides_overflowing_go_by_the_likelihood_or_give_nan():
    """Both steps in the first parameter overflow: the Hessian is the likelihood's second
    differences (exact for a quadratic, to rounding), or NaN when there is no likelihood."""
    score = _quadratic(lambda theta: abs(theta[0]) > 1e-6)
    hessian = _hessian_of_gradient(
        score, np.zeros(2), fallback=lambda theta: 0.5 * float(theta @ A @ theta)
    )
    np.testing.assert_allclose(hessian, A, rtol=1e-6)
    assert np.isnan(_hessian_of_gradient(score, np.zeros(2))).all()


def test_a_fit_whose_gradient_overflows_past_its_maximum_keeps_its_standard_error():
    """Poisson counts, rate lambda = e^theta: the maximum is the mean, its standard error
    sqrt(mean / n) (the inverse Fisher information). The closed-form gradient overflows
    just past the maximum (one side), then on both sides of it."""
    x = np.array([0, 1, 1, 2, 3, 3, 4, 6], dtype=float)
    mean, n = x.mean(), x.size
    top = math.log(mean)

    def ll(theta: np.ndarray) -> np.ndarray:
        return x * theta[0] - math.exp(theta[0])

    for overflows in (lambda t: t > top + 2e-6, lambda t: abs(t - top) > 2e-6):

        def score(theta: np.ndarray, overflows=overflows) -> tuple[float, np.ndarray]:
            if overflows(theta[0]):
                return math.nan, np.array([math.nan])
            return float(ll(theta).sum()), np.array([x.sum() - n * math.exp(theta[0])])

        fit = fit_model("poisson", ["rate"], ll, [mean * 0.999999], n, score=score)
        assert math.isclose(fit.params["rate"], mean, rel_tol=1e-5)
        assert math.isclose(fit.std_errors["rate"], math.sqrt(mean / n), rel_tol=1e-4)


def test_a_hessian_with_nan_gives_no_metric():
    """The Hessian's fallback (the likelihood's second differences) is NaN where the
    likelihood overflows beside the maximum: a later fit must not descend in a metric made
    of it (numpy's inverse and Cholesky factor of a NaN matrix give NaN, not an error, and
    L-BFGS-B stops at once at a NaN point); like a Hessian that is not positive definite, it
    gives none."""
    from clmlang.forecasting.fitting import Fit, start_metric

    def fit(hessian: np.ndarray) -> Fit:
        return Fit("bgnbd", {"r": 1.0, "alpha": 1.0}, {}, -1.0, 10, hessian=hessian)

    metric = start_metric(fit(A), "bgnbd")  # L L' = A^-1
    np.testing.assert_allclose(metric @ metric.T, np.linalg.inv(A))
    assert start_metric(fit(np.array([[np.nan, 1.0], [1.0, 3.0]])), "bgnbd") is None
    assert start_metric(fit(np.array([[np.inf, 1.0], [1.0, 3.0]])), "bgnbd") is None
