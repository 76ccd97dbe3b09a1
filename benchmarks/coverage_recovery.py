"""Coverage of the recovery tests' 95% intervals over many seeds (not part of the suite).

Run with `python benchmarks/coverage_recovery.py [seeds]` (default 20; about 10 minutes on
2 cores). For each seed it simulates the histories of tests/test_buying_models.py's recovery
tests and fits them:

- omega (reactivation 0.01 per day; 2,000 customers, 365 days) from the simulator, and from
  the model's own continuous-time generative process written here with numpy (same
  parameters, purchase times cut to whole days the same way): if the simulator and the
  likelihood disagreed, only the first would be biased;
- m3 (rate x0.5 from the 3rd purchase; 4,000 customers, 400 days) from the simulator.

It prints each estimate's z-score (estimate - truth) / standard error and how often the truth
lies within estimate +- 1.96 standard errors. docs/research/calibration.md has the figures.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

import clmlang
from clmlang.forecasting.fitting import fit_bgnbd
from clmlang.forecasting.history import merge_days, summarise
from clmlang.forecasting.reactivation import fit_bgnbd_reactivation
from clmlang.forecasting.stage_multipliers import fit_bgnbd_stages
from clmlang.simulation.engine import simulate_policy

NO_POLICY = 'program "None"\nstage all when purchases >= 0\n'
WAKING = {"r": 1.0, "alpha": 20.0, "a": 1.0, "b": 2.0, "reactivation": 0.01}
SLOWING = {"r": 2.0, "alpha": 40.0, "a": 1.0, "b": 6.0, "rate_after": {3: 0.5}}
START = pd.Timestamp("2026-01-01")


def to_history(customer: np.ndarray, time: np.ndarray, days: int):
    """Purchase times (days) as a history of dates, same-day purchases merged, and its end."""
    frame = pd.DataFrame(
        {
            "customer_id": customer.astype(str),
            "date": START + pd.to_timedelta(np.floor(time), unit="D"),
            "amount": 1.0,
        }
    )
    return merge_days(frame), (START + pd.Timedelta(days=days - 1)).date().isoformat()


def simulated(buying: dict, customers: int, days: int, seed: int):
    market = clmlang.Market.model_validate(
        {"start_date": START.date().isoformat(), "buying": buying}
    )
    rng = np.random.default_rng(seed)
    run = simulate_policy(clmlang.loads(NO_POLICY), market, customers=customers, days=days, rng=rng)
    log = run.recorder.purchases.arrays()
    return to_history(log["customer"], log["time"], days)


def generated(customers: int, days: int, seed: int):
    """The reactivation model's generative process: first purchase uniform in day 0; active,
    the next purchase after Exp(lambda); after each repeat purchase dormant with p, waking
    after Exp(omega) and buying after Exp(lambda)."""
    rng = np.random.default_rng(seed)
    b = WAKING
    lam = rng.gamma(b["r"], 1 / b["alpha"], customers)
    p = rng.beta(b["a"], b["b"], customers)
    who, when = [], []
    for i in range(customers):
        t, k = rng.random(), 1
        while t < days:
            who.append(i)
            when.append(t)
            if k >= 2 and rng.random() < p[i]:
                t += rng.exponential(1 / b["reactivation"])
            t += rng.exponential(1 / lam[i])
            k += 1
    return to_history(np.array(who), np.array(when), days)


def omega_z(history, end) -> tuple[float, float]:
    summary = summarise(history, end)
    fit = fit_bgnbd_reactivation(summary, fit_bgnbd(summary))
    omega, se = fit.params["omega"] / 7, fit.std_errors["omega"] / 7  # per day
    return omega, (omega - WAKING["reactivation"]) / se


def main(seeds: int) -> None:
    rows = []
    for seed in range(seeds):
        started = time.time()
        engine = omega_z(*simulated(WAKING, 2000, 365, seed))
        model = omega_z(*generated(2000, 365, seed))
        stages = fit_bgnbd_stages(summarise(*simulated(SLOWING, 4000, 400, seed)))
        m3_z = (stages.params["m3"] - 0.5) / stages.std_errors["m3"]
        rows.append((seed, *engine, *model, stages.params["m3"], m3_z))
        print(
            f"seed {seed:2d}: omega simulator {engine[0]:.5f} (z {engine[1]:+.2f}), "
            f"model's process {model[0]:.5f} (z {model[1]:+.2f}); "
            f"m3 {stages.params['m3']:.4f} (z {m3_z:+.2f})  [{time.time() - started:.0f} s]",
            flush=True,
        )
    z = np.array([[r[2], r[4], r[6]] for r in rows])
    for j, name in enumerate(("omega, simulator", "omega, model's process", "m3, simulator")):
        inside = int(np.sum(np.abs(z[:, j]) < 1.96))
        print(
            f"{name:<24} within 95%: {inside}/{len(rows)}; z mean {z[:, j].mean():+.2f}, "
            f"sd {z[:, j].std(ddof=1):.2f}, max |z| {np.abs(z[:, j]).max():.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
