"""Benchmark: forecasting the real CDNOW base (2,357 customers, 39 weeks, 20 replications).

Run with `make bench` (or `python benchmarks/bench_forecast.py`). Times the forecast with no
policy and with the clinic spec (a call centre of 200 calls a day), each with the
replications side by side as blocks of one population (what `clm forecast` does) and one
at a time, alternating in one run so the ratio is measured on the same machine state.
Target: seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import clmlang
import clmlang.forecasting.holdout as forecasting

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "tests" / "data" / "cdnow_sample.csv"
END, UNTIL = "1997-09-30", "1998-06-30"


def timed(history, calibration, spec, stacked: int) -> tuple[float, float]:
    forecasting.STACKED_CUSTOMERS = stacked
    start = time.perf_counter()
    out = clmlang.forecast_history(
        history, END, UNTIL, spec, market=calibration, replications=20, seed=0
    )
    return time.perf_counter() - start, out.summary["holdout_repeat_transactions"]


def main() -> None:
    history = clmlang.load_history(HISTORY)
    start = time.perf_counter()
    calibration = clmlang.fit_history(history, END)
    print(f"calibration: {time.perf_counter() - start:.2f} s ({calibration.chosen.model})")
    default = forecasting.STACKED_CUSTOMERS
    for spec in (None, ROOT / "specs" / "clinic.clm"):
        name = spec.name if spec else "no policy"
        together, alone = [], []
        for _ in range(2):  # alternate, so both see the same machine
            seconds, total = timed(history, calibration, spec, default)
            together.append(seconds)
            alone.append(timed(history, calibration, spec, 1)[0])
        print(
            f"{name}: side by side {min(together):.1f} s, one at a time {min(alone):.1f} s "
            f"({min(alone) / min(together):.1f}x); forecast {total:,.1f} repeat transactions"
        )
    forecasting.STACKED_CUSTOMERS = default


if __name__ == "__main__":
    main()
