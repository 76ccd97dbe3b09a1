"""Maximum-likelihood fits of the buying and spend models to a purchase history.

BG/NBD (Fader, Hardie and Lee 2005) and Pareto/NBD (Schmittlein, Morrison and Colombo 1987)
for purchases and dropout, Gamma-Gamma for spend. Times are in weeks, as in the literature
(the market converts to days). Each fit reports its parameters, their standard errors (from
the numerical Hessian of the log-likelihood, by the delta method on log-parameters; BG/NBD
and Gamma-Gamma give L-BFGS-B their gradient in closed form, and the Hessian is its
differences), the
log-likelihood and the AIC; models are compared on the calibration data only.

Every fit takes optional case weights, one per customer (case_weights.py): it then maximises
sum_i w_i ll_i, and its standard errors are the sandwich's (sandwich.py), which holds for
inverse-propensity weights where the Hessian's does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import optimize

from .case_weights import by_group, positive
from .history import HistoryError, Summary, rfm_groups
from .likelihoods import (
    _bgnbd_ll,
    _bgnbd_score,
    _gg_ll,
    _gg_score,
    _pareto_ll,
    log_beta_ratio,
    log_rising,
)
from .sandwich import sandwich, scores

__all__ = [
    "Fit",
    "FitError",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_model",
    "fit_pareto_nbd",
    "log_beta_ratio",
    "log_rising",
]

TOLERANCE = {"ftol": 1e-12, "gtol": 1e-7}  # L-BFGS-B's, on the summed log-likelihood


class FitError(HistoryError, ValueError):
    """A fit that cannot start: the log-likelihood is not finite at its starting point (a
    backtest then leaves that model out; a forecast says so instead of a traceback)."""


@dataclass(frozen=True)
class Fit:
    model: str
    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    n: int  # observations fitted (customers; with weights, those of positive weight)
    # how the standard errors were had: "hessian" (the inverse Hessian; unweighted fits) or
    # "sandwich" (robust, H^-1 M H^-1; weighted fits)
    std_errors_method: str = "hessian"
    # the Hessian of the negative log-likelihood in the log-parameters at the maximum, when
    # the standard errors were computed: a later fit of the same model to similar data may
    # descend in its metric (`fit_model(metric=...)`); not part of the fit's output
    hessian: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def aic(self) -> float:
        return 2 * len(self.params) - 2 * self.log_likelihood

    def to_dict(self) -> dict[str, object]:
        """As JSON can hold it: a standard error that could not be had is None."""
        return {
            "model": self.model,
            "params": self.params,
            "std_errors": {k: v if np.isfinite(v) else None for k, v in self.std_errors.items()},
            "log_likelihood": self.log_likelihood,
            "aic": self.aic,
            "customers": self.n,
            "std_errors_method": self.std_errors_method,
        }


def fit_model(
    name: str,
    names: list[str],
    ll: Callable[[np.ndarray], np.ndarray],
    start: list[float],
    n: int,
    *,
    counts: np.ndarray | None = None,
    squares: np.ndarray | None = None,
    errors: bool = True,
    score: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    metric: np.ndarray | None = None,
) -> Fit:
    """Maximise the summed log-likelihood over log-parameters from `start`: `ll` gives each
    term's, `counts` its weight (how many customers share it, or the sum of their case
    weights; None: 1 each). `squares`, each term's sum of squared case weights, asks for
    sandwich standard errors instead of the Hessian's. `errors=False`: no standard errors
    (NaN), and none of the Hessian's evaluations (a backtest's fits).
    `score(theta)`: the weighted sum and its gradient in the log-parameters, together (a
    closed form): L-BFGS-B then takes no finite differences, and the Hessian is the
    gradient's forward differences (k + 1 scores; without a score, second differences of the
    likelihood: 1 + k (k + 1) evaluations). `metric` (with `score`): a
    matrix L, L L' the inverse Hessian of a fit of the same model to similar data (a
    backtest's fit from the whole period's): L-BFGS-B descends in z, theta = start + L z,
    where the likelihood is nearly round, and reaches the same maximum (to its tolerance) in
    about half the steps; the fallback and the standard errors are in theta."""

    def terms(theta: np.ndarray) -> np.ndarray:
        return ll(theta) if counts is None else counts * ll(theta)

    def objective(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # trial points far off overflow; they score badly
            value = -float(np.sum(terms(theta)))
        return value if np.isfinite(value) else 1e12

    def negative_ll(theta: np.ndarray) -> float:
        """The objective unclamped: inf or NaN where the likelihood overflows (for the
        Hessian's differences, which must not take the optimiser's clamp for a value)."""
        with np.errstate(all="ignore"):
            return -float(np.sum(terms(theta)))

    seen: dict[bytes, tuple[float, np.ndarray]] = {}  # the last few scores, by point

    def raw(theta: np.ndarray) -> tuple[float, np.ndarray]:
        """`score` as it is, non-finite where it overflows; each point computed once (the
        start's check and the optimiser's first step, its last step and the Hessian's base
        are the same points)."""
        key = np.asarray(theta, dtype=float).tobytes()
        if key not in seen:
            with np.errstate(all="ignore"):
                value, gradient = score(theta)
            if len(seen) >= 4:
                del seen[next(iter(seen))]
            seen[key] = (float(value), np.asarray(gradient, dtype=float))
        return seen[key]

    def with_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = raw(theta)
        if not (np.isfinite(value) and np.isfinite(gradient).all()):
            return 1e12, np.zeros(theta.size)
        return -value, -gradient

    x0 = np.log(start)
    with np.errstate(all="ignore"):
        at_start = -float(np.sum(terms(x0)))
    if not np.isfinite(at_start):
        # flat at the clamp: no gradient, and L-BFGS-B would report the start as converged
        shown = ", ".join(f"{k} {v:.6g}" for k, v in zip(names, start, strict=True))
        raise FitError(f"the {name} fit cannot start: its log-likelihood is not finite at {shown}")
    if score is not None and not _finite(raw, x0):
        # the closed-form gradient overflows where the likelihood does not: descend on the
        # likelihood alone (finite differences), which is finite there
        score = metric = None

    def descend(start: np.ndarray) -> optimize.OptimizeResult:
        if score is not None and metric is not None:

            def whitened(z: np.ndarray) -> tuple[float, np.ndarray]:
                value, gradient = with_gradient(start + metric @ z)
                return value, metric.T @ gradient

            zero = np.zeros(start.size)
            found = optimize.minimize(
                whitened, zero, jac=True, method="L-BFGS-B", options=TOLERANCE
            )
            found.x = start + metric @ found.x
            return found
        if score is None:
            return optimize.minimize(objective, start, method="L-BFGS-B", options=TOLERANCE)
        return optimize.minimize(
            with_gradient, start, jac=True, method="L-BFGS-B", options=TOLERANCE
        )

    # scipy's default ftol (2.2e-9, relative) stops a log-likelihood of -9,582 within 2e-5
    # of its value, short of the maximum: CDNOW's BG/NBD at b 2.411 for 2.426, its holdout
    # forecast 1,654.6 for 1,653.4; at 1e-12 the fit reaches it, in about twice the steps
    result = descend(x0)
    if not result.success:  # from a rough start the simplex is slower but does not give up
        result = optimize.minimize(
            objective,
            result.x,
            method="Nelder-Mead",
            options={"maxiter": 5000, "xatol": 1e-7, "fatol": 1e-7},
        )
        result = descend(result.x)
    if not errors:
        se_log = np.full(result.x.size, np.nan)
        return _fit_result(name, names, result.x, se_log, -result.fun, n, "hessian")
    if score is None:
        hessian = _hessian(negative_ll, result.x)
    else:  # from the closed-form gradient: k evaluations, not 1 + k (k + 1) likelihoods
        hessian = _hessian_of_gradient(raw, result.x, fallback=negative_ll)
    robust = None if squares is None else (scores(ll, result.x), squares)
    method = "hessian" if robust is None else "sandwich"
    fit = _fit_result(name, names, result.x, _se_log(hessian, robust), -result.fun, n, method)
    return replace(fit, hessian=hessian)


def _finite(score: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray) -> bool:
    """Whether `score` gives a finite value and gradient at `theta`."""
    with np.errstate(all="ignore"):
        value, gradient = score(theta)
    return bool(np.isfinite(value) and np.isfinite(gradient).all())


def _se_log(hessian: np.ndarray, robust: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The standard errors of the log-parameters from the Hessian of the negative
    log-likelihood, or with `robust` (the terms' scores and sums of squared weights) the
    sandwich's; NaN where there is none."""
    try:
        cov = np.linalg.inv(hessian)
        variance = np.diag(cov)
        if robust is not None:
            variance = np.where(variance > 0, np.diag(sandwich(hessian, *robust)), variance)
        # not a maximum in that direction (a flat or boundary likelihood): no standard error
        return np.where(variance > 0, np.sqrt(np.abs(variance)), np.nan)
    except np.linalg.LinAlgError:
        return np.full(hessian.shape[0], np.nan)


def _fit_result(
    name: str,
    names: list[str],
    theta: np.ndarray,
    se_log: np.ndarray,
    ll: float,
    n: int,
    method: str,
) -> Fit:
    """A fit at log-parameters `theta`, with their standard errors `se_log`: the parameters'
    by the delta method."""
    params = np.exp(theta)
    return Fit(
        model=name,
        params={k: float(v) for k, v in zip(names, params, strict=True)},
        std_errors={k: float(v * s) for k, v, s in zip(names, params, se_log, strict=True)},
        log_likelihood=float(ll),
        n=n,
        std_errors_method=method,
    )


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central differences, second order: f at x, x +- h e_i and x +- h (e_i + e_j), so
    1 + k (k + 1) evaluations instead of 4 per entry."""
    k = x.size
    step = np.eye(k) * h
    f0 = f(x)
    up = np.array([f(x + step[i]) for i in range(k)])
    down = np.array([f(x - step[i]) for i in range(k)])
    out = np.empty((k, k))
    for i in range(k):
        out[i, i] = (up[i] - 2 * f0 + down[i]) / (h * h)
        for j in range(i + 1, k):
            both = f(x + step[i] + step[j]) + f(x - step[i] - step[j])
            value = (both - up[i] - down[i] - up[j] - down[j] + 2 * f0) / (2 * h * h)
            out[i, j] = out[j, i] = value
    return out


def _hessian_of_gradient(
    f: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    h: float = 1e-5,
    fallback: Callable[[np.ndarray], float] | None = None,
) -> np.ndarray:
    """The Hessian of the negative log-likelihood as forward differences of the gradient
    (`f` gives the log-likelihood and its gradient, closed form), symmetrised: k evaluations.
    Its error, about h times the third derivatives (1e-5 relative), is far below the
    standard errors' own sampling error; the gradient's rounding (1e-10 relative) divided by
    h stays below it too. Where a forward step lands where the gradient overflows, that row
    is a backward difference; where both do, or at `x` itself, the Hessian is the second
    differences of `fallback` (the negative log-likelihood: `_hessian`), NaN without one,
    so that no standard error comes from an overflowed gradient."""
    k = x.size

    def gradient(at: np.ndarray) -> np.ndarray | None:
        value, slope = f(at)
        return -slope if np.isfinite(value) and np.isfinite(slope).all() else None

    g0 = gradient(x)
    out = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        ahead = None if g0 is None else gradient(x + step)
        if ahead is not None:
            out[i] = (ahead - g0) / h
            continue
        behind = None if g0 is None else gradient(x - step)
        if behind is None:
            return _hessian(fallback, x) if fallback is not None else np.full((k, k), np.nan)
        out[i] = (g0 - behind) / h
    return (out + out.T) / 2


def _fit_rfm(
    name,
    names,
    ll,
    start,
    summary: Summary,
    weights: np.ndarray | None,
    errors: bool = True,
    score=None,
    metric: np.ndarray | None = None,
) -> Fit:
    """A model of (x, t_x, T) alone: each distinct one evaluated once. `score(theta, x, t_x,
    T, counts)`: the weighted sum and its gradient (fit_model's `score`), when there is one."""
    summary, weights = positive(summary, weights)
    first, inverse = rfm_groups(summary)
    counts, squares = by_group(inverse, first.size, weights)
    x, t_x, T = summary.x[first], summary.t_x[first], summary.T[first]
    return fit_model(
        name,
        names,
        lambda th: ll(th, x, t_x, T),
        start,
        summary.x.size,
        counts=counts,
        squares=squares,
        errors=errors,
        score=None if score is None else lambda th: score(th, x, t_x, T, counts),
        metric=metric,
    )


def fit_bgnbd(
    summary: Summary,
    weights: np.ndarray | None = None,
    *,
    errors: bool = True,
    start: Fit | None = None,
) -> Fit:
    """`weights`: one case weight per customer (None: 1 each; sandwich standard errors).
    `errors=False`: no standard errors (fit_model). `start`: a BG/NBD fit to similar data
    (a backtest's fits start from the whole period's): the search starts at its maximum and
    descends in its metric (fit_model's `metric`), to the same maximum in fewer steps."""
    names = ["r", "alpha", "a", "b"]
    begin = [0.5, 5.0, 1.0, 2.0] if start is None else [start.params[k] for k in names]
    return _fit_rfm(
        "bgnbd",
        names,
        _bgnbd_ll,
        begin,
        summary,
        weights,
        errors,
        _bgnbd_score,
        metric=start_metric(start, "bgnbd"),
    )


def start_metric(start: Fit | None, model: str) -> np.ndarray | None:
    """The Cholesky factor of the inverse Hessian of `start`, a fit of `model` (fit_model's
    `metric`); None for another model's fit, or where that Hessian is not positive
    definite."""
    if start is None or start.model != model or start.hessian is None:
        return None
    try:
        metric = np.linalg.cholesky(np.linalg.inv(start.hessian))
    except np.linalg.LinAlgError:
        return None
    return metric if np.isfinite(metric).all() else None  # (NaN passes numpy's checks)


def fit_pareto_nbd(summary: Summary, weights: np.ndarray | None = None) -> Fit:
    """`weights`: one case weight per customer (None: 1 each; sandwich standard errors)."""
    names, start = ["r", "alpha", "s", "beta"], [0.5, 10.0, 0.5, 10.0]
    return _fit_rfm("pareto_nbd", names, _pareto_ll, start, summary, weights)


def fit_gamma_gamma(summary: Summary, weights: np.ndarray | None = None) -> Fit:
    """Fitted on the customers with at least one repeat purchase of positive value; `weights`
    one case weight per customer of the summary (None: 1 each; sandwich standard errors)."""
    summary, weights = positive(summary, weights)
    keep = (summary.x > 0) & (summary.monetary > 0)
    x, m = summary.x[keep], summary.monetary[keep]
    counts = None if weights is None else weights[keep]
    ones = np.ones(x.size) if counts is None else counts
    return fit_model(
        "gamma_gamma",
        ["p", "q", "gamma"],
        lambda th: _gg_ll(th, x, m),
        [1.0, 2.0, float(np.mean(m)) if m.size else 10.0],
        int(keep.sum()),
        counts=counts,
        squares=None if counts is None else counts * counts,
        score=lambda th: _gg_score(th, x, m, ones),
    )
