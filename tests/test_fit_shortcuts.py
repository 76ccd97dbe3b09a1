"""The shortcuts that make `clm forecast` fast give the numbers the long way gives: a fit
without standard errors has the same parameters, the reactivation fit's kept parts give the
same likelihood as computing each trial point afresh, a backtest's fit started from the whole
period's reaches the same maximum, and the weekly totals summed over the posterior's grids are
the customers' expected purchases summed."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from clmlang.forecasting import reactivation
from clmlang.forecasting.fitting import TOLERANCE, fit_bgnbd
from clmlang.forecasting.history import summarise
from clmlang.forecasting.reactivation_posterior import posterior

from .conftest import cdnow_days


@pytest.fixture(scope="module")
def merged() -> pd.DataFrame:
    return cdnow_days()


def test_a_fit_without_standard_errors_has_the_same_parameters(merged):
    summary = summarise(merged, "1997-06-30")
    full, bare = fit_bgnbd(summary), fit_bgnbd(summary, errors=False)
    assert bare.params == full.params and bare.log_likelihood == full.log_likelihood
    assert all(math.isnan(v) for v in bare.std_errors.values())
    assert all(v > 0 for v in full.std_errors.values())


def test_kept_parts_give_the_likelihood_computed_afresh(merged):
    """Steps in a and b reuse the parts r, alpha and omega fix: the same floats, at every
    point of a gradient's stencil, whatever order they come in."""
    data = reactivation.prepare(summarise(merged, "1997-09-30"))
    base = np.array([0.21, 3.2, 1.1, 2.0, 0.017])
    points = [base * np.exp(1e-4 * step) for step in np.eye(5)] + [base]
    kept: dict = {}
    for theta in points + points[::-1]:
        fresh = reactivation._loglik(theta, data)
        assert np.array_equal(reactivation._loglik(theta, data, kept), fresh)
    assert len(kept) == 4  # base, and the steps in r, alpha and omega: a and b reuse base's


def test_a_warm_start_reaches_the_same_maximum(merged):
    """A backtest's reactivation fit starts from the whole period's, near the maximum rather
    than at BG/NBD's: the log-likelihood where it stops is the one from BG/NBD's start to
    within L-BFGS-B's tolerance (ftol, relative), and the parameters agree far inside their
    standard errors."""
    inner = summarise(merged, "1997-06-30")
    cold = reactivation.fit_bgnbd_reactivation(inner, fit_bgnbd(inner, errors=False))
    nearby = {k: v * (1.05 if i % 2 else 0.95) for i, (k, v) in enumerate(cold.params.items())}
    warm = reactivation.fit_bgnbd_reactivation(inner, replace(cold, params=nearby), errors=False)
    ftol = TOLERANCE["ftol"] * abs(cold.log_likelihood)
    assert abs(warm.log_likelihood - cold.log_likelihood) < 10 * ftol + 1e-6
    for k, v in cold.params.items():
        assert abs(warm.params[k] - v) < 0.01 * cold.std_errors[k]


def test_weekly_totals_over_the_grids_are_the_customers_summed(merged):
    summary = summarise(merged, "1997-09-30")
    post = posterior(summary, {"r": 0.21, "alpha": 3.2, "a": 1.1, "b": 2.0, "omega": 0.017})
    horizons = np.array([0.5, 1.0, 13.0, 39.0, 104.0])
    spend = np.random.default_rng(3).gamma(2.0, 20.0, summary.x.size)
    weights = np.column_stack([np.ones(spend.size), spend])
    summed = np.array([post.expected_purchases(w) @ weights for w in horizons])
    assert np.allclose(post.expected_totals(horizons, weights), summed, rtol=1e-12, atol=0)


def test_customers_with_the_same_summary_are_one_likelihood_term(merged):
    """BG/NBD's fit evaluates each distinct (x, t_x, T) once, weighted by how many customers
    share it (exact for the maximum likelihood: the sum is the same sum). Its log-likelihood
    is the per-customer sum of Fader, Hardie & Lee's (2005, eq. 6), written here from the
    paper, each customer on their own."""
    from scipy.special import betaln, gammaln

    from clmlang.forecasting.history import rfm_groups

    summary = summarise(merged, "1997-09-30")
    first, _ = rfm_groups(summary)
    assert first.size < summary.x.size / 2  # daily data: many customers share a summary
    fit = fit_bgnbd(summary, errors=False)
    r, alpha, a, b = (fit.params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = summary.x, summary.t_x, summary.T
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        gone = betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    each = common + np.logaddexp(alive, np.where(x > 0, gone, -np.inf))
    assert fit.log_likelihood == pytest.approx(float(each.sum()), rel=1e-11)


def test_the_gamma_gamma_score_is_the_likelihoods_slope(merged):
    """Gamma-Gamma's closed-form gradient (digammas) against central differences."""
    from clmlang.forecasting.likelihoods import _gg_ll, _gg_score

    s = summarise(merged, "1997-09-30")
    keep = (s.x > 0) & (s.monetary > 0)
    x, m = s.x[keep], s.monetary[keep]
    counts = np.ones(x.size)
    for params in ([6.25, 3.74, 15.44], [1.0, 2.0, 30.0]):
        theta = np.log(params)
        value, gradient = _gg_score(theta, x, m, counts)
        assert value == pytest.approx(_gg_ll(theta, x, m).sum(), rel=1e-13)
        for i in range(3):
            step = np.zeros(3)
            step[i] = 1e-6
            up, down = (_gg_ll(theta + d, x, m).sum() for d in (step, -step))
            assert gradient[i] == pytest.approx((up - down) / 2e-6, rel=1e-6, abs=1e-5)
