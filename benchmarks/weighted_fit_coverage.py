"""Coverage of the weighted BG/NBD fit's 95% intervals under a selection on the history
(not part of the suite).

Run with `python benchmarks/weighted_fit_coverage.py [seeds] [customers]` (default 20 seeds
of 3,000 customers; a few seconds). For each seed it draws a BG/NBD population with known
parameters (tests/test_weighted_fits.py's generator), keeps the customers with 2 or more
repeat purchases with probability 0.3 and the others always (like a marketing rule's
holdout), and fits BG/NBD three ways:

- weighted by 1 / probability, with the sandwich standard errors the fit reports;
- the same weighted fit with the naive standard errors of its Hessian (as if each weight
  were that many customers seen);
- unweighted on the kept customers (the selection ignored), with its Hessian's.

It prints how often each parameter's estimate +- 1.96 standard errors covers the truth, and
the mean z-score (estimate - truth) / standard error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clmlang.forecasting.case_weights import by_group, positive
from clmlang.forecasting.fitting import _bgnbd_ll, _hessian, fit_bgnbd
from clmlang.forecasting.history import rfm_groups
from tests.test_weighted_fits import TRUTH, bgnbd_summary, selected

Z95 = 1.959964


def hessian_errors(summary, weights, params: dict[str, float]) -> np.ndarray:
    """The naive standard errors of a weighted BG/NBD fit: the inverse Hessian of the
    weighted log-likelihood, by the delta method, as the unweighted fits report them."""
    summary, weights = positive(summary, weights)
    first, inverse = rfm_groups(summary)
    counts, _ = by_group(inverse, first.size, weights)
    x, t_x, T = summary.x[first], summary.t_x[first], summary.T[first]
    theta = np.log(list(params.values()))
    hessian = _hessian(lambda th: -float(np.sum(counts * _bgnbd_ll(th, x, t_x, T))), theta)
    return np.exp(theta) * np.sqrt(np.diag(np.linalg.inv(hessian)))


def main(seeds: int = 20, customers: int = 3000) -> None:
    start = time.perf_counter()
    truth = np.array(list(TRUTH.values()))
    rows: dict[str, list[np.ndarray]] = {"weighted, sandwich": [], "weighted, Hessian": []}
    rows["unweighted, Hessian"] = []
    for seed in range(seeds):
        population = bgnbd_summary(customers, seed=1000 + seed)
        kept, chance = selected(population, seed=2000 + seed)
        weights = np.where(kept, 1 / chance, 0.0)
        fit = fit_bgnbd(population, weights=weights)
        estimate = np.array(list(fit.params.values()))
        rows["weighted, sandwich"].append((estimate - truth) / list(fit.std_errors.values()))
        naive = hessian_errors(population, weights, fit.params)
        rows["weighted, Hessian"].append((estimate - truth) / naive)
        plain = fit_bgnbd(population.take(np.flatnonzero(kept)))
        z = (np.array(list(plain.params.values())) - truth) / list(plain.std_errors.values())
        rows["unweighted, Hessian"].append(z)
    names = list(TRUTH)
    print(
        f"BG/NBD {TRUTH}, {customers:,} customers, those with x >= 2 kept with probability "
        f"0.3; {seeds} seeds, {time.perf_counter() - start:.1f} s"
    )
    print(f"{'95% interval covers the truth':<31}" + "".join(f"{k:>8}" for k in names))
    for label, zs in rows.items():
        z = np.array(zs)
        print(f"{label:<31}" + "".join(f"{v:>7.0%} " for v in (np.abs(z) < Z95).mean(axis=0)))
    print(f"{'mean z-score':<31}")
    for label, zs in rows.items():
        print(f"{label:<31}" + "".join(f"{v:>8.2f}" for v in np.mean(zs, axis=0)))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
