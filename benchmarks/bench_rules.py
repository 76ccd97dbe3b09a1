"""Benchmark: does a rule's cost grow with the customers it touches, not with the population?

Run with `python benchmarks/bench_rules.py [--customers N] [--days D] [--rules R]`. It runs
the engine alone (CPU seconds, this process) on the clinic and on the clinic with R more
time-driven rules (`rules_spec`) for three populations: N customers, 2N customers, and N
customers of a market where most drop out (BG/NBD dropout after each repeat purchase with
mean probability 0.8 instead of 0.2: about three in four have churned by the end of the
year). For each it prints the rules' extra CPU seconds over the clinic
alone, per million firings and per million customer-days: if a rule's cost followed the
population, the cost per customer-day would stay put when the firings drop (churned
customers); if it follows the customers touched, the cost per firing does.

`make bench` prints `rules_benchmark` from bench_simulate.py: the clinic with 10, 100 and
500 more rules at 100,000 customers, each against daily re-evaluation in the same run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy

CLINIC = Path(__file__).resolve().parents[1] / "specs" / "clinic.clm"
STAGES = ("newcomer", "forming", "loyal", "devoted")
CLOCKS = ("days_since_purchase", "days_since_first_purchase", "days_in_stage")


def rules_spec(n: int) -> str:
    """The clinic spec with `n` more distinct time-driven condition rules over its four
    stages: thresholds from 20 to 319 days on three clocks, a third of them edges and the
    rest with `reentry once per P days`."""
    parts = [CLINIC.read_text()]
    for i in range(n):
        reentry = f"reentry once per {30 + (i * 11) % 200} days" if i % 3 else ""
        parts.append(
            f"rule idle_{i} {{\n  in stage {STAGES[i % 4]}\n"
            f"  when {CLOCKS[(i // 4) % 3]} >= {20 + (i * 7) % 300} days\n"
            f'  {reentry}\n  send email "Idle {i}" tag promo\n}}\n'
        )
    return "\n".join(parts)


def rules_rate(n: int, customers: int, days: int, wakeups: bool = True) -> tuple[float, float]:
    """Customer-days per CPU second of `rules_spec(n)` (engine alone), and the CPU seconds;
    without `wakeups`, every condition rule is re-evaluated for everyone every day."""
    from clmlang.simulation.engine import simulation as engine
    from clmlang.simulation.engine.wakeups import Wakeups

    policy = clmlang.loads(rules_spec(n))
    saved = engine.Wakeups
    if not wakeups:
        engine.Wakeups = lambda p, g, driven: Wakeups(p, g, [False] * len(driven))
    try:
        start = time.process_time()  # CPU seconds: the machine may be shared
        simulate_policy(
            policy, Market(), customers=customers, days=days, rng=np.random.default_rng(1)
        )
        elapsed = time.process_time() - start
    finally:
        engine.Wakeups = saved
    return customers * days / elapsed, elapsed


def rules_benchmark(counts: list[int], customers: int, days: int) -> None:
    """The clinic with more time-driven rules, with wake-ups and, in the same run, with every
    condition rule re-evaluated for everyone every day."""
    for n in counts:
        fast, fast_s = rules_rate(n, customers, days)
        slow, slow_s = rules_rate(n, customers, days, wakeups=False)
        target = ""
        if n == 500:
            target = f" (target >= 20: {'met' if fast >= 20e6 else 'NOT met'})"
        print(
            f"{'TARGET ' if n == 500 else ''}clinic + {n} time-driven rules, "
            f"{customers:,} customers x {days} days: "
            f"{fast_s:.2f} CPU s, {fast / 1e6:.1f} M customer-days/s{target}; "
            f"re-evaluated daily: {slow_s:.2f} CPU s, {slow / 1e6:.1f} M; x{fast / slow:.1f}"
        )


def churning() -> Market:
    """The default market with most customers dropping out after a repeat purchase."""
    market = Market()
    buying = market.buying.model_copy(update={"a": 8.0, "b": 2.0})
    return market.model_copy(update={"buying": buying})


def engine_run(n: int, customers: int, days: int, market: Market) -> tuple[float, int, float]:
    """CPU seconds of the engine on `rules_spec(n)`, its firings, and the share of the
    customers still alive at the end."""
    policy = clmlang.loads(rules_spec(n))
    start = time.process_time()
    run = simulate_policy(
        policy, market, customers=customers, days=days, rng=np.random.default_rng(1)
    )
    cpu = time.process_time() - start
    fired = int(run.recorder.arm_counters["fired"].sum())
    return cpu, fired, float(run.state.alive[:customers].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rules", type=int, default=500)
    args = parser.parse_args()
    n, days = args.customers, args.days
    cases = [(f"{n:,} customers", n, Market()), (f"{2 * n:,} customers", 2 * n, Market())]
    cases.append((f"{n:,} customers, most churned", n, churning()))
    for label, customers, market in cases:
        base, base_fired, _ = engine_run(0, customers, days, market)
        cpu, fired, alive = engine_run(args.rules, customers, days, market)
        extra, more = cpu - base, fired - base_fired
        print(
            f"{label} ({alive:.0%} alive at the end), {days} days: clinic {base:.2f} s, "
            f"+ {args.rules} rules {cpu:.2f} s ({customers * days / cpu / 1e6:.1f}M "
            f"customer-days/s); the rules: {extra:.2f} s for {more / 1e6:.1f}M firings, "
            f"{extra / max(more, 1) * 1e6:.2f} s per million firings, "
            f"{extra / (customers * days) * 1e6:.3f} s per million customer-days"
        )


if __name__ == "__main__":
    main()
