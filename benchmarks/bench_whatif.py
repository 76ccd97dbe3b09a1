"""Benchmark: a what-if scenario of 4 variants x 20 replications x 100,000 customers x 365 days.

Run with `make bench` (or `python benchmarks/bench_whatif.py [--replications R]
[--customers N] [--days D] [--skip serial,local]`). Measures, in one run, the wall time
serially (in this process), with one local worker, with two, and on a Dask LocalCluster of
one and of two worker processes (each variant's compiled policy and market scattered to the
workers once), with the CPU seconds the runs took (this process, the pool's processes or the
cluster's, counted once they have ended), and the speed-ups: two workers against one of the
same kind (target: at least 1.7x with two workers, local or Dask, on this 2-core machine)
and against serial. A cluster's start-up (its processes, the scheduler) is timed on its own
and left out of its runs' time, as for a user whose cluster is already running; the first
task of each worker still pays for loading numba's kernels. The cluster runs with
`whatif.cluster.QUIET_DASK` (the workers' profiler off, the processes' timers less often), and
its workers preload clmlang and numba as they start (`clmlang.whatif.preload`, as `dask worker
--preload` does; `--skip preload` without), as a running cluster's would have. For the cluster
it also prints the CPU of each process during the runs: this one (the scheduler and the
client) and each worker, and their critical path.
The scenario is the clinic's SMS cap sweep (simulations/clinic_sms_sweep.toml: a base and
four sweep values, of which the first four variants are kept), at the size the issue asks
for. Every mode must give the same runs (checked).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd

from clmlang.market.scenario import load_scenario_file
from clmlang.whatif.cluster import QUIET_DASK
from clmlang.whatif.experiment import run_scenario

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def own_cpu() -> float:
    """CPU seconds (user + system) of the process this runs in (a Dask worker's)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--skip",
        default="",
        help="modes to leave out: serial, local, dask; preload: the Dask workers without"
        " clmlang.whatif.preload",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    scenario = load_scenario_file(ROOT / "simulations" / "clinic_sms_sweep.toml")
    sweep = scenario.sweeps[0].model_copy(update={"values": scenario.sweeps[0].values[:3]})
    settings = scenario.settings.model_copy(update={"customers": args.customers, "days": args.days})
    scenario = scenario.model_copy(update={"settings": settings, "sweeps": (sweep,)})
    variants = len(scenario.all_variants())
    runs = variants * args.replications
    times: dict[str, float] = {}
    results = {}

    def timed(label: str, **how) -> None:
        before = cpu()
        start = time.perf_counter()
        results[label] = run_scenario(scenario, replications=args.replications, **how)
        times[label] = time.perf_counter() - start
        print(
            f"{label}: {variants} variants x {args.replications} replications x "
            f"{args.customers:,} customers x {args.days} days = {runs} runs in "
            f"{times[label]:.1f} s ({times[label] / runs:.2f} s a run)",
            flush=True,
        )
        return before

    def spent(label: str, before: tuple[float, float]) -> None:
        after = cpu()
        print(
            f"  {label}: CPU {after[0] - before[0]:.1f} s here + {after[1] - before[1]:.1f} s"
            " in the ended worker processes",
            flush=True,
        )

    if "serial" not in skip:
        spent("serial", timed("serial", serial=True))
    if "local" not in skip:
        for n in (1, 2):
            label = f"{n} local worker{'s' if n > 1 else ''}"
            spent(label, timed(label, workers=n))
    try:
        import dask
        import distributed
    except ImportError:
        distributed = None
    if distributed is not None and "dask" not in skip:
        for n in (1, 2):  # a real scheduler and worker processes on the loopback
            label = f"Dask, {n} worker{'s' if n > 1 else ''}"
            before = cpu()
            start = time.perf_counter()
            with (
                dask.config.set(QUIET_DASK),
                distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    preload=[] if "preload" in skip else ["clmlang.whatif.preload"],
                ) as cluster,
                distributed.Client(cluster, set_as_default=False) as client,
            ):
                print(f"{label}: the cluster started in {time.perf_counter() - start:.1f} s")
                started = client.run(own_cpu)
                here = cpu()[0]
                timed(label, scheduler=cluster.scheduler_address)
                here = cpu()[0] - here
                ended = client.run(own_cpu)
                workers = sorted(ended[w] - started[w] for w in ended)
                print(
                    f"  {label}: CPU during the runs: {here:.1f} s in this process (the"
                    f" scheduler, the client), {' + '.join(f'{w:.1f}' for w in workers)} s in"
                    f" the workers; critical path {here + workers[-1]:.1f} s (this process and"
                    " the busiest worker)",
                    flush=True,
                )
            spent(label, before)
    for one, two in (("1 local worker", "2 local workers"), ("Dask, 1 worker", "Dask, 2 workers")):
        if one in times and two in times:
            ratio = times[one] / times[two]
            verdict = "met" if ratio >= 1.7 else "NOT met"
            print(f"TARGET {two} against {one}: {ratio:.2f}x (target >= 1.7x: {verdict})")
    if "serial" in times:
        for label in times:
            if label != "serial":
                print(f"{label} against serial: {times['serial'] / times[label]:.2f}x")
    first, *others = results
    for label in others:
        pd.testing.assert_frame_equal(results[first].runs, results[label].runs)
    print(f"the same runs in every mode: yes ({', '.join(results)})")
    revenue = results[first].comparison.query("kpi == 'revenue'")
    print(revenue[["variant", "mean", "diff_pct"]].to_string(index=False))


if __name__ == "__main__":
    main()
