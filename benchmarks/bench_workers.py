"""Benchmark: `clm simulate --workers N`, the whole command, one worker against two.

Run with `make bench` (or `python benchmarks/bench_workers.py [--customers N] [--days D]`).
In one run it measures:
- the wall and CPU time (user + sys of the command and its workers) of the whole command
  (`clm simulate specs/clinic.clm`, default market) at 1,000,000 customers x 365 days with
  `--workers 1` and `--workers 2` (the same two blocks, `--blocks 2`), alternated `--rounds`
  times, their ratio (target: at least 1.7x) and that the two output folders have the same
  bytes; and the command without --workers (one block) for reference;
- the memory one worker needs per million customers (docs/engine.md, "The memory each
  worker needs"): the peak resident set of a process simulating one block of N customers,
  measuring it (simulation/partials.py) and pickling what it sends back, against one of 10,000.
The machine is shared: the ratios are measured within one run, the commands alternated. The
commands run as installed: with bytecode caches (PYTHONDONTWRITEBYTECODE is dropped, and a
small warm-up command first writes clmlang's .pyc files and numba's kernels), else every start
would time Python compiling clmlang from source (about 0.4 s of the command's start-up, which
its workers would not repeat: they are forked).
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


# `clm ARGS` in a process that, on its way out, writes its own CPU seconds and its ended
# children's (the worker processes) to the file named by CLM_BENCH_CPU
WRAPPER = """
import atexit, os, resource, sys
def _cpu():
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    with open(os.environ["CLM_BENCH_CPU"], "w") as f:
        f.write(f"{me.ru_utime + me.ru_stime} {kids.ru_utime + kids.ru_stime}")
atexit.register(_cpu)
sys.argv[0] = "clm"
from clmlang.cli import main
main()
"""


# as installed: with bytecode caches (bench_simulate.py does the same)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def command(
    customers: int, days: int, out: Path, workers: int | None
) -> tuple[float, float, float]:
    """The wall time and the CPU time (user + sys) of one command: the workers included, and
    the command's own process alone (its start-up, its own block, the merge, the files)."""
    args = [sys.executable, "-c", WRAPPER, "simulate", str(CLINIC), "--customers", str(customers)]
    args += ["--days", str(days), "--seed", "1", "--out", str(out)]
    if workers is not None:
        args += ["--workers", str(workers), "--blocks", "2"]
    record = out.with_name(out.name + ".cpu")
    start = time.perf_counter()
    child = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**ENV, "CLM_BENCH_CPU": str(record)},
    )
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(args[3:])}: exit {os.waitstatus_to_exitcode(status)}")
    # the workers' CPU as the command saw it at exit (they are joined by then); the rest is
    # the command's own, its exit included (freeing its arrays: after the atexit record)
    workers = float(record.read_text().split()[1])
    total = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, total, total - workers


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
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV
    )
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
        # warm-up: the bytecode and the kernels written (numba from 36.5M customer-days)
        command(100_000, 365, Path(tmp) / "warm", None)
        folders = {w: Path(tmp) / f"workers{w}" for w in (1, 2)}
        runs: dict[int, list[tuple[float, float, float]]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for w in (1, 2):
                runs[w].append(command(args.customers, args.days, folders[w], w))
        plain, plain_cpu, _ = command(args.customers, args.days, Path(tmp) / "plain", None)
        same = not filecmp.dircmp(folders[1], folders[2]).diff_files
    times = {w: min(t for t, _, _ in v) for w, v in runs.items()}
    for w in (1, 2):
        cpu, own = min((c, o) for _, c, o in runs[w])
        print(
            f"clm simulate --workers {w}, clinic, {args.customers:,} customers x {args.days} days:"
            f" {times[w]:.1f} s wall (best of {args.rounds}), {cpu:.1f} s CPU"
            f" ({own:.1f} s in the command's process, {cpu - own:.1f} s in its workers),"
            f" {cd / times[w] / 1e6:.1f} M customer-days/s"
        )
    print(
        f"without --workers (one block): {plain:.1f} s wall, {plain_cpu:.1f} s CPU,"
        f" {cd / plain / 1e6:.1f} M customer-days/s"
    )
    # on a shared machine the wall-clock ratio says more about the neighbours: the CPU
    # seconds of the longest process of 2 workers (the command's: start-up, its block, the
    # merge) against all of 1 worker's are what two idle cores would give
    cpu1 = min(c for _, c, _ in runs[1])
    own2, cpu2 = min((o, c) for _, c, o in runs[2])
    longest = max(own2, cpu2 - own2)
    print(
        f"TARGET speed-up from two workers: {times[1] / times[2]:.2f}x wall (target >= 1.7x),"
        f" {cpu1 / longest:.2f}x by CPU (1 worker's {cpu1:.1f} s against 2 workers' longest"
        f" process, {longest:.1f} s); load average {os.getloadavg()[0]:.1f};"
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
