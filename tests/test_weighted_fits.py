"""Case weights in the calibration fits and their sandwich standard errors: without weights
(or with weights of 1) every fit is what it was, a customer of weight 0 is one left out, a
weight of 2 is a customer counted twice, and inverse-propensity weights undo a selection that
depends on the history, within the sandwich's standard errors of the truth."""

from __future__ import annotations

import time

import numpy as np
import pytest

from clmlang.forecasting.fitting import fit_bgnbd, fit_gamma_gamma, fit_pareto_nbd
from clmlang.forecasting.history import Summary, load_history, summarise
from clmlang.forecasting.reactivation import fit_bgnbd_reactivation
from clmlang.forecasting.stage_multipliers import fit_bgnbd_stages

from .conftest import ROOT

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
END = "1997-09-30"

FITTERS = {
    "bgnbd": fit_bgnbd,
    "pareto_nbd": fit_pareto_nbd,
    "gamma_gamma": fit_gamma_gamma,
    "bgnbd_stages": fit_bgnbd_stages,
    "bgnbd_reactivation": fit_bgnbd_reactivation,
}

# BG/NBD, weeks: about 5 repeat purchases in a customer's 26-52 weeks, a third of them gone
TRUTH = {"r": 1.0, "alpha": 3.0, "a": 1.0, "b": 3.0}
KEEP_BUYERS = 0.3  # the chance that a customer with 2 or more repeat purchases is kept


def bgnbd_summary(customers: int, seed: int, truth: dict[str, float] = TRUTH) -> Summary:
    """BG/NBD's generative process in continuous time (no day rounding, no same-day merging):
    the first purchase at 0, an observation length of 26-52 whole weeks' days, purchases
    after Exp(lambda) gaps, lambda ~ Gamma(r, alpha), and after each repeat purchase gone
    with p ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(truth["r"], 1 / truth["alpha"], customers)
    p = rng.beta(truth["a"], truth["b"], customers)
    T = rng.integers(26 * 7, 52 * 7, customers, endpoint=True) / 7.0
    t = np.zeros(customers)
    active = np.ones(customers, dtype=bool)
    who, when = [], []
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        bought = idx[t[idx] < T[idx]]
        active[idx] = False
        who.append(bought)
        when.append(t[bought])
        active[bought[rng.random(bought.size) >= p[bought]]] = True
    owner, times = np.concatenate(who), np.concatenate(when)
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    x = np.bincount(owner, minlength=customers)
    ends = np.cumsum(x)
    t_x = np.where(x > 0, times[np.maximum(ends - 1, 0)] if times.size else 0.0, 0.0)
    return Summary(
        customers=np.arange(customers).astype(str),
        x=x,
        t_x=t_x,
        T=T,
        monetary=np.where(x > 0, 1.0, 0.0),
        first=np.full(customers, np.datetime64("2026-01-01")),
        times=np.split(times, ends[:-1]),
    )


def selected(summary: Summary, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A selection that depends on the history, like a marketing rule's holdout: customers
    with 2 or more repeat purchases kept with probability KEEP_BUYERS, the others always.
    (Which were kept, their chance of being kept.)"""
    chance = np.where(summary.x >= 2, KEEP_BUYERS, 1.0)
    kept = np.random.default_rng(seed).random(summary.x.size) < chance
    return kept, chance


def _fit(name: str, summary: Summary, weights: np.ndarray | None = None):
    if name in ("bgnbd_stages", "bgnbd_reactivation"):
        return FITTERS[name](summary, None, weights)
    return FITTERS[name](summary, weights)


@pytest.fixture(scope="module")
def cdnow() -> Summary:
    return summarise(load_history(CDNOW), END)


@pytest.mark.parametrize("name", list(FITTERS))
def test_weights_of_one_change_nothing_but_the_standard_errors(cdnow: Summary, name: str):
    """Weights of 1 give the unweighted fit to the bit; only the standard errors change,
    to the sandwich's (on CDNOW within a factor 1.6 of the Hessian's)."""
    plain = _fit(name, cdnow)
    ones = _fit(name, cdnow, np.ones(cdnow.x.size))
    assert ones.params == plain.params
    assert ones.log_likelihood == plain.log_likelihood
    assert ones.n == plain.n
    assert (plain.std_errors_method, ones.std_errors_method) == ("hessian", "sandwich")
    assert plain.to_dict()["std_errors_method"] == "hessian"
    for k, se in plain.std_errors.items():
        assert se > 0 and 0.6 < ones.std_errors[k] / se < 1.6


@pytest.mark.parametrize("name", list(FITTERS))
def test_a_weight_of_zero_leaves_the_customer_out(cdnow: Summary, name: str):
    """Weights that zero out every other customer give the fit on the others alone, with
    their weights."""
    rng = np.random.default_rng(3)
    weights = rng.uniform(0.5, 2.0, cdnow.x.size)
    weights[1::2] = 0.0
    half = np.arange(0, cdnow.x.size, 2)
    mine, theirs = _fit(name, cdnow, weights), _fit(name, cdnow.take(half), weights[half])
    assert mine.params == pytest.approx(theirs.params, rel=1e-6)
    assert mine.log_likelihood == pytest.approx(theirs.log_likelihood, rel=1e-9)
    assert mine.std_errors == pytest.approx(theirs.std_errors, rel=1e-4)
    assert mine.n == theirs.n == half.size or name == "gamma_gamma"


@pytest.mark.parametrize("name", list(FITTERS))
def test_a_weight_of_two_counts_the_customer_twice(cdnow: Summary, name: str):
    """Weight 2 on a third of the customers is the unweighted fit with them duplicated."""
    twice = np.arange(0, cdnow.x.size, 3)
    weights = np.ones(cdnow.x.size)
    weights[twice] = 2.0
    mine = _fit(name, cdnow, weights)
    theirs = _fit(name, cdnow.take(np.r_[np.arange(cdnow.x.size), twice]))
    # to the optimiser's tolerance: Gamma-Gamma starts from the customers' mean spend, which
    # the duplicates move (and its p and q lie on a flat ridge); the reactivation model places
    # its quadrature by their median T, the same likelihood to about 1e-5, not to the bit
    rel = 1e-4 if name == "bgnbd_reactivation" else 1e-5
    assert mine.params == pytest.approx(theirs.params, rel=rel)
    assert mine.log_likelihood == pytest.approx(theirs.log_likelihood, rel=rel / 100)


def test_weights_are_checked(cdnow: Summary):
    n = cdnow.x.size
    for bad, message in [
        (np.ones(n - 1), "one per customer"),
        (np.r_[np.ones(n - 1), np.nan], "finite"),
        (np.r_[np.ones(n - 1), -1.0], "negative"),
        (np.zeros(n), "every weight is 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            fit_bgnbd(cdnow, weights=bad)


def test_inverse_propensity_weights_undo_a_selection_on_the_history():
    """3,000 BG/NBD customers, those with 2+ repeat purchases kept with probability 0.3:
    weighted by 1 / probability, every parameter is within 3 sandwich standard errors of the
    truth; unweighted, the same customers give a fit biased far beyond its standard errors
    (too few buyers: here b is 57 standard errors low)."""
    start = time.perf_counter()
    population = bgnbd_summary(3000, seed=11)
    kept, chance = selected(population, seed=12)
    weighted = fit_bgnbd(population, weights=np.where(kept, 1 / chance, 0.0))
    naive = fit_bgnbd(population.take(np.flatnonzero(kept)))
    assert weighted.std_errors_method == "sandwich" and weighted.n == kept.sum()
    z = {k: (weighted.params[k] - v) / weighted.std_errors[k] for k, v in TRUTH.items()}
    assert all(abs(v) < 3 for v in z.values()), z
    bias = {k: (naive.params[k] - v) / naive.std_errors[k] for k, v in TRUTH.items()}
    assert max(abs(v) for v in bias.values()) > 3, bias
    assert time.perf_counter() - start < 10


def test_the_generator_is_bgnbd():
    """The unweighted fit on a whole generated population finds the truth (the generator
    the weighted tests and benchmarks/weighted_fit_coverage.py rely on)."""
    fit = fit_bgnbd(bgnbd_summary(3000, seed=5))
    for k, v in TRUTH.items():
        assert abs(fit.params[k] - v) < 3 * fit.std_errors[k]
    assert isinstance(fit.to_dict()["std_errors_method"], str)
