"""Benchmark: `clm test` invariants on the clinic spec with 1,000 generated histories each.

Run with `make bench` (or `python benchmarks/bench_policytest.py [--examples N]`). Target:
under 10 seconds per invariant for 1,000 histories. Trace invariants check a twentieth as
many simulated populations (20 to 400 customers, 120 days); their time is printed too.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from clmlang.testing.policytest import run_tests

ROOT = Path(__file__).resolve().parents[1]
TESTS = f"""spec = "{ROOT / "specs" / "clinic.clm"}"

[[invariant]]
kind = "one_stage"

[[invariant]]
kind = "fires_only_when"
rule = "keep_rhythm"
when = "days_since_purchase >= 60 days"

[[invariant]]
kind = "max_discount"
stage = "devoted"
share = "10%"

[[invariant]]
kind = "max_messages"
limit = 3
days = 7
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clinic.test.toml"
        path.write_text(TESTS)
        start = time.perf_counter()
        report = run_tests([path], examples=args.examples)
        total = time.perf_counter() - start
    for o in report.outcomes:
        status = "pass" if o.passed else "FAIL"
        print(f"{o.name:<18} {status}  {o.seconds:6.2f} s", flush=True)
    print(f"{args.examples} histories per invariant: {total:.1f} s in all (target < 10 s each)")


if __name__ == "__main__":
    main()
