"""Benchmark: does a rule's cost grow with the customers it touches, not with the population?

Run with `python benchmarks/bench_rules.py [--customers N] [--days D] [--rules R]`. It runs
the engine alone (CPU seconds, this process) on the clinic and on the clinic with R more
time-driven rules (`rules_spec` of bench_simulate.py) for three populations: N customers,
2N customers, and N customers of a market where most drop out (BG/NBD dropout after each
repeat purchase with mean probability 0.8 instead of 0.2: about three in four have churned
by the end of the year). For each it prints the rules' extra CPU seconds over the clinic
alone, per million firings and per million customer-days: if a rule's cost followed the
population, the cost per customer-day would stay put when the firings drop (churned
customers); if it follows the customers touched, the cost per firing does.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_simulate import rules_spec

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy


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
