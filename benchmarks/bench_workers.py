"""Benchmark: `clm simulate --workers N`, the whole command, one worker against two.

Run with `make bench` (or `python benchmarks/bench_workers.py [--customers N] [--days D]`).
In one run it measures:
- the wall and CPU time (user + sys of the command and its workers) of the whole command
  (`clm simulate specs/clinic.clm`, default market) at 1,000,000 customers x 365 days with
  `--workers 1` and `--workers 2` (the same two blocks, `--blocks 2`), alternated `--rounds`
  times, their ratio (target: at least 1.7x) and that the two output folders have the same
  bytes; and the command without --workers (one block) for reference;
- the memory one worker needs per million customers (docs/engine.md, "Blocks"): the peak
  resident set of a process simulating one block of N customers, measuring it
  (simulation/partials.py) and pickling what it sends back, against one of 10,000.
The machine is shared: the ratios are measured within one run, the commands alternated.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLINIC = ROOT / "specs" / "clinic.clm"
CLM = Path(sys.executable).with_name("clm")


def command(customers: int, days: int, out: Path, workers: int | None) -> tuple[float, float]:
    """The wall time and the CPU time (user + sys, the workers included) of one command."""
    args = [str(CLM), "simulate", str(CLINIC), "--customers", str(customers)]
    args += ["--days", str(days), "--seed", "1", "--out", str(out)]
    if workers is not None:
        args += ["--workers", str(workers), "--blocks", "2"]
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(args)}: exit {os.waitstatus_to_exitcode(status)}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def block_peak_kib(customers: int, days: int) -> float:
    """The peak resident set of a process that runs one block, measures it and pickles the
    part (what a worker holds while it sends its block's metrics back)."""
    code = (
        "import pickle, numpy as np, clmlang\n"
        "from clmlang.market.model import Market\n"
        "from clmlang.simulation.engine.blocks import plan_blocks, run_block\n"
        "from clmlang.simulation.partials import measure_block\n"
        f"p = clmlang.load({str(CLINIC)!r})\n"
        f"[b] = plan_blocks({customers}, np.random.default_rng(1), blocks=1)\n"
        f"part = measure_block(run_block(p, Market(), {days}, b), b, {customers})\n"
        "data = pickle.dumps(part, protocol=5)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(hwm.split()[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--block", type=int, default=500_000, help="customers of one block")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of 1 and 2 workers")
    args = parser.parse_args()
    cd = args.customers * args.days
    with tempfile.TemporaryDirectory() as tmp:
        folders = {w: Path(tmp) / f"workers{w}" for w in (1, 2)}
        runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for w in (1, 2):
                runs[w].append(command(args.customers, args.days, folders[w], w))
        plain, plain_cpu = command(args.customers, args.days, Path(tmp) / "plain", None)
        same = not filecmp.dircmp(folders[1], folders[2]).diff_files
    times = {w: min(t for t, _ in v) for w, v in runs.items()}
    for w in (1, 2):
        cpu = min(c for _, c in runs[w])
        print(
            f"clm simulate --workers {w}, clinic, {args.customers:,} customers x {args.days} days:"
            f" {times[w]:.1f} s wall (best of {args.rounds}), {cpu:.1f} s CPU,"
            f" {cd / times[w] / 1e6:.1f} M customer-days/s"
        )
    print(
        f"without --workers (one block): {plain:.1f} s wall, {plain_cpu:.1f} s CPU,"
        f" {cd / plain / 1e6:.1f} M customer-days/s"
    )
    print(
        f"TARGET speed-up from two workers: {times[1] / times[2]:.2f}x (target >= 1.7x);"
        f" same output bytes: {'yes' if same else 'NO'}"
    )
    big = block_peak_kib(args.block, args.days)
    small = block_peak_kib(10_000, args.days)
    per_million = (big - small) * 1024 / (args.block - 10_000) * 1e6
    print(
        f"a worker's memory: {big / 1024:.0f} MiB peak for a block of {args.block:,} over"
        f" {args.days} days ({small / 1024:.0f} MiB for 10,000): {per_million / 2**20:.0f} MiB"
        " per million customers"
    )


if __name__ == "__main__":
    main()
