"""Benchmark: forecasting the real CDNOW base (2,357 customers, 39 weeks, 20 replications).

Run with `make bench` (or `python benchmarks/bench_forecast.py`). First the whole
`clm forecast` command with no spec (start-up, calibration with its backtest, simulation,
report), in a child process, its CPU seconds (user + sys) against the target of 5 s (issue
19); then the forecast with no policy and with the clinic spec (a call centre of 200 calls a
day), each with the replications side by side as blocks of one population (what
`clm forecast` does) and one at a time, alternating in one run so the ratio is measured on
the same machine state. Target: seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import clmlang
import clmlang.forecasting.holdout as forecasting

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "tests" / "data" / "cdnow_sample.csv"
END, UNTIL = "1997-09-30", "1998-06-30"
CPU_TARGET = 5.0  # seconds of CPU for the whole `clm forecast` (issue 19)


def command_cpu() -> float:
    """CPU seconds (user + sys) of one whole `clm forecast` of CDNOW with no spec."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "clmlang", "forecast", "--history", str(HISTORY)]
        command += ["--calibration-end", END, "--until", UNTIL, "--out", out]
        before = os.times()
        subprocess.run(command, env=env, check=True, capture_output=True)
        after = os.times()
    return (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def timed(history, calibration, spec, stacked: int) -> tuple[float, float]:
    forecasting.STACKED_CUSTOMERS = stacked
    start = time.perf_counter()
    out = clmlang.forecast_history(
        history, END, UNTIL, spec, market=calibration, replications=20, seed=0
    )
    return time.perf_counter() - start, out.summary["holdout_repeat_transactions"]


def main() -> None:
    command_cpu()  # once first: Python's bytecode caches written, as any later run has them
    cpu = min(command_cpu() for _ in range(2))
    verdict = "met" if cpu < CPU_TARGET else "NOT met"
    print(
        f"clm forecast, CDNOW, no spec, whole command: {cpu:.2f} s of CPU (user + sys);"
        f" target under {CPU_TARGET:.0f} s: {verdict}"
    )
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
