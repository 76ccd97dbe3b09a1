"""Benchmark: a what-if scenario of 4 variants x 20 replications x 100,000 customers x 365 days.

Run with `make bench` (or `python benchmarks/bench_whatif.py [--replications R]
[--customers N]`). Measures, in one run, the wall time serially (in this process), with one
local worker, with two, and on a Dask LocalCluster of two worker processes (each variant's
compiled policy and market scattered to the workers once), and the speed-ups against serial
(target: at least 1.7x with two workers, local or Dask, on this 2-core machine). The
scenario is the clinic's SMS cap sweep (simulations/clinic_sms_sweep.toml: a base and four
sweep values, of which the first four variants are kept), at the size the issue asks for.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from clmlang.market.scenario import load_scenario_file
from clmlang.whatif.experiment import run_scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    scenario = load_scenario_file(ROOT / "simulations" / "clinic_sms_sweep.toml")
    sweep = scenario.sweeps[0].model_copy(update={"values": scenario.sweeps[0].values[:3]})
    settings = scenario.settings.model_copy(update={"customers": args.customers, "days": args.days})
    scenario = scenario.model_copy(update={"settings": settings, "sweeps": (sweep,)})
    variants = len(scenario.all_variants())
    runs = variants * args.replications
    times = {}

    def timed(label: str, **how) -> object:
        start = time.perf_counter()
        result = run_scenario(scenario, replications=args.replications, **how)
        times[label] = time.perf_counter() - start
        print(
            f"{label}: {variants} variants x {args.replications} replications x "
            f"{args.customers:,} customers x {args.days} days = {runs} runs in "
            f"{times[label]:.1f} s ({times[label] / runs:.2f} s a run)",
            flush=True,
        )
        return result

    timed("serial", serial=True)
    timed("1 local worker", workers=1)
    result = timed("2 local workers", workers=2)
    try:
        import distributed
    except ImportError:
        distributed = None
    if distributed is not None:  # a real scheduler and two worker processes on the loopback
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            timed("Dask, 2 workers", scheduler=cluster.scheduler_address)
    for label in times:
        if label != "serial":
            print(f"{label} against serial: {times['serial'] / times[label]:.2f}x", end="")
            print(" (target >= 1.7x)" if label.startswith(("2", "Dask")) else "")
    revenue = result.comparison.query("kpi == 'revenue'")[["variant", "mean", "diff_pct"]]
    print(revenue.to_string(index=False))


if __name__ == "__main__":
    main()
