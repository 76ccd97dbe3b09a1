"""Benchmark: a what-if scenario of 4 variants x 20 replications x 100,000 customers x 365 days.

Run with `make bench` (or `python benchmarks/bench_whatif.py [--replications R]
[--customers N]`). Measures, in one run, the wall time with one local worker and with two,
and the speed-up (target: at least 1.7x on this 2-core machine). The scenario is the clinic's
SMS cap sweep (simulations/clinic_sms_sweep.toml: a base and four sweep values, of which the
first four variants are kept), at the size the issue asks for.
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
    for workers in (1, 2):
        start = time.perf_counter()
        result = run_scenario(scenario, replications=args.replications, workers=workers)
        times[workers] = time.perf_counter() - start
        print(
            f"{workers} worker(s): {variants} variants x {args.replications} replications x "
            f"{args.customers:,} customers x {args.days} days = {runs} runs in "
            f"{times[workers]:.1f} s ({times[workers] / runs:.2f} s a run)",
            flush=True,
        )
    print(f"speed-up from two workers: {times[1] / times[2]:.2f}x (target >= 1.7x)")
    revenue = result.comparison.query("kpi == 'revenue'")[["variant", "mean", "diff_pct"]]
    print(revenue.to_string(index=False))


if __name__ == "__main__":
    main()
