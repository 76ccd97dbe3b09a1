"""A backtest's reactivation and stage-multiplier fits descend in the metric of the whole
period's fit (its inverse Hessian, `fit_model(metric=...)`) and reach the same maximum as the
plain descent, in fewer evaluations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from clmlang.forecasting import reactivation, stage_multipliers
from clmlang.forecasting.backtest import backtest
from clmlang.forecasting.fitting import FitError, fit_bgnbd
from clmlang.forecasting.history import summarise

from .conftest import cdnow_days

CUT = "1997-06-30"  # the backtest's later origin (2/3 of the calibration period)


@pytest.fixture(scope="module")
def merged():
    return cdnow_days()


def test_the_reactivation_fit_in_the_whole_fits_metric_is_the_plain_fit(monkeypatch, merged):
    whole = summarise(merged, "1997-09-30")
    full = reactivation.fit_bgnbd_reactivation(whole, fit_bgnbd(whole))
    assert full.hessian is not None and full.hessian.shape == (5, 5)
    inner = summarise(merged[merged["date"] <= CUT], CUT)
    calls = []
    score = reactivation.loglik_and_score

    def counted(*args, **kwargs):
        calls.append(1)
        return score(*args, **kwargs)

    monkeypatch.setattr(reactivation, "loglik_and_score", counted)
    fast = reactivation.fit_bgnbd_reactivation(inner, full, errors=False)
    n_fast = len(calls)
    plain_start = dataclasses.replace(full, hessian=None)  # no metric: the plain descent
    plain = reactivation.fit_bgnbd_reactivation(inner, plain_start, errors=False)
    n_plain = len(calls) - n_fast
    # L-BFGS-B stops where a step gains less than ftol (1e-12) of the log-likelihood: both
    # maxima agree to a few such steps, and the parameters to the likelihood's flatness
    assert fast.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-10)
    for name in reactivation.NAMES:
        assert fast.params[name] == pytest.approx(plain.params[name], rel=1e-4)
    assert n_fast < n_plain
    assert np.isnan(list(fast.std_errors.values())).all()


def test_the_stage_fit_from_the_whole_fit_is_the_fit_from_bgnbd(monkeypatch, merged):
    """The backtest's stage-multiplier fit from the whole period's (its multipliers, in its
    metric) against the fit from the origin's BG/NBD (multipliers 1, no metric)."""
    whole = summarise(merged, "1997-09-30")
    full = stage_multipliers.fit_bgnbd_stages(whole, fit_bgnbd(whole))
    assert full.hessian is not None and len(full.params) > 4  # multipliers were fitted
    inner = summarise(merged[merged["date"] <= CUT], CUT)
    calls = []
    score = stage_multipliers._score

    def counted(*args):
        calls.append(1)
        return score(*args)

    monkeypatch.setattr(stage_multipliers, "_score", counted)
    fast = stage_multipliers.fit_bgnbd_stages(inner, full, errors=False)
    n_fast = len(calls)
    plain = stage_multipliers.fit_bgnbd_stages(inner, fit_bgnbd(inner, errors=False), errors=False)
    n_plain = len(calls) - n_fast
    assert list(fast.params) == list(plain.params)
    assert fast.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-10)
    for name, value in plain.params.items():
        assert fast.params[name] == pytest.approx(value, rel=1e-3)
    assert n_fast < n_plain


def test_the_bgnbd_score_is_the_likelihoods_slope(merged):
    """The closed-form gradient against central differences of the summed likelihood, at
    the maximum and away from it."""
    from clmlang.forecasting.likelihoods import _bgnbd_ll, _bgnbd_score

    s = summarise(merged, "1997-09-30")
    counts = np.ones(s.x.size)
    for params in ([0.243, 4.41, 0.79, 2.43], [2.0, 0.5, 30.0, 0.3]):
        theta = np.log(params)
        value, gradient = _bgnbd_score(theta, s.x, s.t_x, s.T, counts)
        assert value == pytest.approx(_bgnbd_ll(theta, s.x, s.t_x, s.T).sum(), rel=1e-13)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6
            up, down = (_bgnbd_ll(theta + d, s.x, s.t_x, s.T).sum() for d in (step, -step))
            # the differences' rounding: 1e-16 x 1e4 / 1e-6, about 1e-6 absolute
            assert gradient[i] == pytest.approx((up - down) / 2e-6, rel=1e-6, abs=1e-5)


def test_the_bgnbd_fit_from_the_whole_fit_is_the_plain_fit(merged):
    whole = fit_bgnbd(summarise(merged, "1997-09-30"))
    assert whole.hessian is not None and whole.hessian.shape == (4, 4)
    inner = summarise(merged[merged["date"] <= CUT], CUT)
    plain = fit_bgnbd(inner, errors=False)
    fast = fit_bgnbd(inner, errors=False, start=whole)
    assert fast.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-10)
    for name in ("r", "alpha", "a", "b"):
        assert fast.params[name] == pytest.approx(plain.params[name], rel=1e-4)


def test_the_hessian_from_the_score_is_the_likelihoods(merged):
    """The fits with a closed-form gradient take their Hessian (and standard errors) from
    its differences: the same as second differences of the likelihood, to their error."""
    from clmlang.forecasting.fitting import _bgnbd_ll, _hessian

    s = summarise(merged, "1997-09-30")
    fit = fit_bgnbd(s)
    theta = np.log([fit.params[k] for k in ("r", "alpha", "a", "b")])
    direct = _hessian(lambda th: -_bgnbd_ll(th, s.x, s.t_x, s.T).sum(), theta)
    assert np.allclose(fit.hessian, direct, rtol=1e-3, atol=1e-3 * np.abs(direct).max())


def test_a_backtest_whose_bgnbd_cannot_start_has_no_origin(merged):
    """BG/NBD, every origin's baseline, failing at its start (a FitError) leaves the origin
    out, as the docstring says ("None when ... BG/NBD cannot be had"): no origin, no
    backtest (None), not the FitError out of the whole command's model choice."""

    def cannot(summary, _):
        raise FitError("the bgnbd fit cannot start: its log-likelihood is not finite")

    assert backtest(merged, pd.Timestamp("1997-09-30"), {"bgnbd": cannot}) is None
