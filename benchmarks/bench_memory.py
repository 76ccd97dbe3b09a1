"""Benchmark: peak memory per customer of the whole `clm simulate` command, for every example spec.

Run with `make bench` (or `python benchmarks/bench_memory.py [--customers N] [--days D]
[--spec NAME ...]`). For each spec in specs/ it runs `clm simulate SPEC --customers N --days D
--out TMP` in a child process and reads the child's peak resident set (its max RSS, as
`/usr/bin/time -v` reports it), then the same with 1,000 customers, in the same run; the
memory per customer is (peak_N - peak_1000) / (N - 1000) (target: at most 1 KiB). The clinic's
promotions (`on schedule daily`: a firing per eligible customer per day) also runs at 1,000,000
customers. Days: 365 by default. Both runs take the same path (`CLM_NUMBA=1`, the compiled
kernels, unless CLM_NUMBA is set): numba and LLVM add about 125 MiB to a process whatever its
size, which the small run would otherwise not have and the difference would count per customer.
The small run's own peak still varies by tens of MiB from one run to the next (317-375 MiB for
car_dealer on 2026-12-02), which moves the figure at 200,000 customers by up to 0.3 KiB:
compare the peaks at N, or measure at 500,000 or more.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
TARGET_KIB = 1.0
DAILY_SPEC = "clinic_promotions"


def peak_kib(spec: Path, customers: int, days: int) -> tuple[float, float]:
    """The child's peak resident set (KiB) and wall time of one `clm simulate`."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "clmlang", "simulate", str(spec)]
        command += ["--customers", str(customers), "--days", str(days), "--out", out]
        start = time.perf_counter()
        env = {**os.environ, "CLM_NUMBA": os.environ.get("CLM_NUMBA", "1")}
        child = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            err = child.stderr.read().decode() if child.stderr else ""
            raise SystemExit(f"{spec.name} at {customers:,}: exit {child.returncode}\n{err}")
        if child.stderr:
            child.stderr.close()
    return float(usage.ru_maxrss), elapsed  # KiB on Linux


def measure(spec: Path, customers: int, days: int, small: float) -> None:
    big, seconds = peak_kib(spec, customers, days)
    per = (big - small) / (customers - 1000)
    verdict = "met" if per <= TARGET_KIB else "NOT met"
    print(
        f"TARGET {spec.stem:<20} {customers:>10,} {big / 1024:>9.0f} {small / 1024:>9.0f} "
        f"{per:>8.2f} {seconds:>8.1f}  (target <= {TARGET_KIB:.0f} KiB/customer: {verdict})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--daily-customers", type=int, default=1_000_000)
    parser.add_argument("--spec", action="append", help="only these specs (names, no .clm)")
    args = parser.parse_args()
    specs = sorted(SPECS.glob("*.clm"))
    if args.spec:
        specs = [s for s in specs if s.stem in args.spec]
    print(
        f"peak memory of `clm simulate`, {args.days} days, a child process per run "
        "(KiB per customer = (peak N - peak 1,000) / (N - 1,000))"
    )
    print(
        f"{'':7}{'spec':<20} {'customers':>10} {'peak MiB':>9} {'at 1,000':>9} {'KiB/cust':>8} "
        f"{'seconds':>8}"
    )
    for spec in specs:
        small, _ = peak_kib(spec, 1000, args.days)
        measure(spec, args.customers, args.days, small)
        if spec.stem == DAILY_SPEC and args.daily_customers != args.customers:
            measure(spec, args.daily_customers, args.days, small)


if __name__ == "__main__":
    main()
