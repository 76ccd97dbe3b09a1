"""Benchmark: calibrating on a 23,000-customer, 70,000-row purchase history.

Run with `make bench` (or `python benchmarks/bench_calibrate.py`). The history is generated
from a BG/NBD world with CDNOW-like parameters (in weeks) and Gamma-Gamma spend; the
benchmark times reading it from CSV and fitting every model (BG/NBD, Pareto/NBD, stage
multipliers, reactivation, Gamma-Gamma), and the reactivation fit alone. Target: under 5 seconds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from clmlang.forecasting.calibration import fit_history
from clmlang.forecasting.fitting import fit_bgnbd, fit_gamma_gamma, fit_pareto_nbd
from clmlang.forecasting.history import load_history
from clmlang.forecasting.reactivation import fit_bgnbd_reactivation
from clmlang.forecasting.stage_multipliers import fit_bgnbd_stages


def generate(customers: int = 23_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.243, 1 / 4.414, customers)  # per week
    p = rng.beta(0.793, 2.426, customers)
    nu = rng.gamma(3.74, 1 / 15.44, customers)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for i in range(customers):
        t = rng.uniform(0, 24)
        rows.append((i, t))
        while True:
            t += rng.exponential(1 / max(lam[i], 1e-9))
            if t > 100:
                break
            rows.append((i, t))
            if rng.random() < p[i]:
                break
    ids = np.array([r[0] for r in rows])
    weeks = np.array([r[1] for r in rows])
    amount = rng.gamma(6.25, 1 / nu[ids])
    return pd.DataFrame(
        {
            "customer_id": ids,
            "date": start + pd.to_timedelta(np.floor(weeks * 7), unit="D"),
            "amount": amount.round(2),
        }
    )


def main() -> None:
    frame = generate()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        frame.to_csv(path, index=False)
        start = time.perf_counter()
        history = load_history(path)
        read = time.perf_counter() - start
        result = fit_history(history, "2024-09-30")
        total = time.perf_counter() - start
    print(
        f"{frame['customer_id'].nunique():,} customers, {len(frame):,} rows: read {read:.2f} s, "
        f"read and fit {total:.2f} s (target < 5 s)"
    )
    print(result.report())
    fits = {
        "bgnbd": fit_bgnbd,
        "pareto_nbd": fit_pareto_nbd,
        "bgnbd_stages": fit_bgnbd_stages,
        "bgnbd_reactivation": fit_bgnbd_reactivation,
        "gamma_gamma": fit_gamma_gamma,
    }
    for name, fit in fits.items():  # each fit on its own, standard errors included
        begin = time.perf_counter()
        if name in ("bgnbd_stages", "bgnbd_reactivation"):  # as fit_history: from BG/NBD's
            fit(result.summary, result.bgnbd)
        else:
            fit(result.summary)
        print(f"  {name:<20} {time.perf_counter() - begin:.2f} s")


if __name__ == "__main__":
    main()
