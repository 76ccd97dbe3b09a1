"""Benchmark: the simulator against a per-customer SimPy model written by hand.

Run with `make bench` (or `python benchmarks/bench_simulate.py [--customers N] [--days D]`).
In one run it measures:
- the clinic's market and policy written the way a careful user would by hand: one SimPy
  process per customer for their purchases and one per timer (follow-ups after a purchase,
  the silence that triggers the rhythm rules, birthdays, failure calls), with the caps, the
  call centre's capacity, holdouts, fatigue and responses, at 10,000 customers;
- customer-days per second of the engine on the clinic spec (specs/clinic.clm, default
  market) at 1,000,000 customers x 365 days, and its ratio to the per-customer model;
- the whole `clm simulate` command on the clinic (start-up, engine, metrics, output files)
  in a child process, per CPU second (target: at least 100 million customer-days/s);
- every example spec (specs/*.clm) at the same size, engine and whole command (target: at
  least 50 million each);
- peak memory per customer, from the resident set of a child process simulating N customers
  against one simulating 1,000 (target: under 1 KiB);
- the clinic with 10, 100 and 500 more time-driven rules at 100,000 customers x 365 days
  (target for 500 rules: at least 20 million customer-days per second), each against daily
  re-evaluation in the same run (`rules_benchmark` of bench_rules.py).
The whole command and the specs' engine runs are timed in CPU seconds (user + system), so a
machine shared with other work slows the figures less than wall time would; the wall time
is shown beside them. Each line marked TARGET says whether its target is met.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy
from bench_rules import rules_benchmark

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
CLINIC = SPECS / "clinic.clm"


def per_customer_rate(customers: int, days: int) -> tuple[float, float]:
    """The hand-written baseline: the clinic's market and policy, one SimPy process per
    customer (plus one per timer), the way a user writes it without a batch engine."""
    market = Market()
    policy = clmlang.load(CLINIC)
    b, sp, fat, roles, offers = (
        market.buying,
        market.spend,
        market.fatigue,
        market.roles,
        market.offers,
    )
    ch = market.default_channel
    products = {p.name: p for p in policy.products}
    profit = [p for p in policy.products if p.role in ("profit", "value")]
    weights = np.array([1.0 if p.role == "profit" else 0.15 for p in profit])
    weights /= weights.sum()
    mean_order = sp.p * sp.gamma / (sp.q - 1)
    rng = np.random.default_rng(1)
    env = simpy.Environment()
    calls_today = {}

    class Customer:
        def __init__(self) -> None:
            self.rate = rng.gamma(b.r, 1 / b.alpha)
            self.p = rng.beta(b.a, b.b)
            self.nu = rng.gamma(sp.q, 1 / sp.gamma)
            self.premium = rng.random() < 0.5
            self.birthday = rng.random() * 365
            self.alive = True
            self.purchases = 0
            self.last = 0.0
            self.lines: set[str] = set()
            self.member = False
            self.subscribed = False
            self.sent: list[tuple[float, str, bool]] = []
            self.fatigue, self.fatigue_t = 0.0, 0.0
            self.revenue = 0.0
            self.fired: dict[str, float] = {}
            self.waiting: dict[str, float] = {}
            self.holdout = {r: rng.random() < 0.1 for r in ("keep_rhythm", "loyal_rhythm")}
            self.wake = env.event()
            self.offer = None

        def stage(self) -> str:
            n = self.purchases
            return (
                "potential"
                if n == 0
                else "newcomer"
                if n <= 2
                else "forming"
                if n <= 7
                else "loyal"
                if n <= 21
                else "devoted"
            )

        def send(self, channel: str, promo: bool, offer=None, transactional=False) -> bool:
            now = env.now
            if not transactional:
                if sum(1 for s, _, _ in self.sent if now - s < 7) >= 3:
                    return False
                if channel == "sms" and any(c == "sms" and now - s < 7 for s, c, _ in self.sent):
                    env.process(self.delayed(channel, promo, offer))
                    return False
                if promo and sum(1 for s, _, pr in self.sent if pr and now - s < 30) >= 2:
                    return False
                if channel == "call":
                    day = int(now)
                    if calls_today.get(day, 0) >= 200:
                        return False
                    calls_today[day] = calls_today.get(day, 0) + 1
            self.sent.append((now, channel, promo))
            self.fatigue = self.fatigue * 0.5 ** ((now - self.fatigue_t) / fat.half_life_days)
            self.fatigue_t = now
            response = ch.response * math.exp(-fat.sensitivity * self.fatigue)
            self.fatigue += fat.per_message
            if not transactional and rng.random() < response * (
                1 + offers.discount_elasticity * 0.1
            ):
                self.offer = offer
                if not self.wake.triggered:
                    self.wake.succeed()
            return True

        def delayed(self, channel, promo, offer):
            yield env.timeout(7)
            self.send(channel, promo, offer)

        def buy(self) -> None:
            self.purchases += 1
            self.last = env.now
            if self.purchases == 1:
                product = products["consultation"]
            elif self.offer in products:
                product = products[self.offer]
            else:
                product = profit[rng.choice(len(profit), p=weights)]
            self.offer = None
            value = product.price * rng.gamma(sp.p, 1 / self.nu) / mean_order
            if product.name in ("facial", "injections") and rng.random() < roles.upsell_attach:
                value += products["home_care"].price
            self.revenue += value
            self.lines.add(product.line or "")
            if not self.member and rng.random() < roles.repeat_join:
                self.member = True
            if not self.subscribed and rng.random() < roles.lifetime_take_up:
                self.subscribed = True
                env.process(self.billing())
            for rule, until in list(self.waiting.items()):
                if env.now <= until:
                    del self.waiting[rule]
            if self.purchases == 1:
                self.send("email", False, transactional=True)
            if self.stage() == "devoted" and self.purchases == 22:
                self.send("email", False, "bonus")
            env.process(self.after_purchase(self.purchases, product.name))
            env.process(self.silence(self.purchases))

        def billing(self):
            while self.subscribed:
                yield env.timeout(30.4375)
                if not self.alive or rng.random() < roles.lifetime_cancel:
                    self.subscribed = False
                else:
                    self.revenue += products["care_plan"].price

        def buying(self):
            while True:
                if self.alive:
                    rate = self.rate * (roles.repeat_rate if self.member else 1.0)
                    timeout = env.timeout(rng.exponential(1 / rate))
                else:
                    timeout = env.timeout(days)
                result = yield timeout | self.wake
                if self.wake in result:
                    self.wake = env.event()
                    self.alive = True
                elif not self.alive:
                    continue
                self.buy()
                prob = self.p * (roles.lifetime_dropout if self.subscribed else 1.0)
                if self.purchases > 1 and rng.random() < prob:
                    self.alive = False

        def after_purchase(self, number: int, product: str):
            yield env.timeout(14)
            if (
                self.purchases == number
                and self.stage() in ("loyal", "devoted")
                and self.premium
                and self.lines == {"cosmetology"}
                and env.now - self.fired.get("into_dentistry", -1e9) >= 180
            ):
                self.fired["into_dentistry"] = env.now
                self.send("email", True, "hygiene")
            yield env.timeout(7)
            if (
                self.purchases == number
                and self.stage() == "newcomer"
                and "second_visit" not in self.fired
            ):
                self.fired["second_visit"] = env.now
                self.send("sms", True, "facial")
                self.waiting["second_visit"] = env.now + 14

        def silence(self, number: int):
            """The condition rules (silent for 45 or 60 days), as timers armed at each purchase
            rather than a daily check: the careful way to write them per customer."""
            yield env.timeout(45)
            while self.purchases == number:
                now, stage = env.now, self.stage()
                waits = []
                if stage in ("loyal", "devoted"):
                    ready = self.fired.get("loyal_rhythm", -1e9) + 60
                    if now >= ready:
                        self.fired["loyal_rhythm"] = now
                        if not self.holdout["loyal_rhythm"]:
                            self.send("email", True)
                            env.process(self.failure("loyal_rhythm", 10, 2))
                        ready = now + 60
                    waits.append(ready - now)
                if stage == "forming":
                    ready = max(self.last + 60, self.fired.get("keep_rhythm", -1e9) + 74)
                    if now >= ready:
                        self.fired["keep_rhythm"] = now
                        if not self.holdout["keep_rhythm"]:
                            self.send("sms", True, "facial")
                            env.process(self.failure("keep_rhythm", 14, 0))
                        ready = now + 74
                    waits.append(ready - now)
                if not waits:
                    return
                yield env.timeout(max(1.0, min(waits)))

        def birthdays(self):
            yield env.timeout(self.birthday)
            while True:
                if self.stage() in ("forming", "loyal", "devoted"):
                    self.send("sms", False, "bonus")
                yield env.timeout(365.25)

        def failure(self, rule: str, within: float, wait: float):
            self.waiting[rule] = env.now + within
            yield env.timeout(within + wait)
            if rule in self.waiting:
                del self.waiting[rule]
                self.send("call", False)

    for _ in range(customers):
        c = Customer()
        env.process(c.buying())
        env.process(c.birthdays())
    start = time.process_time()
    env.run(until=days)
    elapsed = time.process_time() - start
    return customers * days / elapsed, elapsed


def peak_rss_kib(customers: int, days: int) -> float:
    code = (
        "import numpy as np, clmlang\n"
        "from clmlang.simulation.engine import simulate_policy\n"
        "from clmlang.market.model import Market\n"
        f"p = clmlang.load({str(CLINIC)!r})\n"
        f"simulate_policy(p, Market(), customers={customers}, days={days}, "
        "rng=np.random.default_rng(1))\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(hwm.split()[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def spec_engine_rate(spec: Path, customers: int, days: int) -> tuple[float, float]:
    """The engine alone on `spec` (default market): customer-days per CPU second, and the
    CPU seconds (CPU time, not wall time: the machine may be shared)."""
    policy = clmlang.load(spec)
    start = time.process_time()
    simulate_policy(policy, Market(), customers=customers, days=days, rng=np.random.default_rng(1))
    elapsed = time.process_time() - start
    return customers * days / elapsed, elapsed


def command_rate(spec: Path, customers: int, days: int) -> tuple[float, float, float]:
    """The whole `clm simulate` command (start-up, engine, metrics, outputs) in a child
    process: customer-days per CPU second, its CPU seconds and its wall seconds."""
    clm = Path(sys.executable).with_name("clm")
    # as installed: with bytecode caches (an environment that forbids writing them would
    # time Python compiling numpy, pandas and scipy from source on every start)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    args = [str(clm), "simulate", str(spec), "--customers", str(customers), "--days", str(days)]
    args += ["--seed", "1"]
    # warm: the same command once first, so that the caches are written and the files read,
    # and numba has compiled every kernel this size reaches (the measure's counted-firings
    # kernels, for one, are reached only past `rule_effects.EXACT_AT_LEAST` firings: a small
    # warm-up run would leave their compilation, seconds, inside the timed run)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([*args, "--out", out], check=True, capture_output=True, env=env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([*args, "--out", out], check=True, capture_output=True, env=env)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return customers * days / cpu, cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline-customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rules-customers", type=int, default=100_000)
    parser.add_argument(
        "--rules", type=int, nargs="*", default=[10, 100, 500], help="rule counts to measure"
    )
    parser.add_argument("--only-rules", action="store_true", help="only the rules benchmark")
    parser.add_argument(
        "--specs", nargs="*", default=None, help="example specs to measure (default: all)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measure")
    args = parser.parse_args()
    rules_benchmark(args.rules, args.rules_customers, args.days)
    if args.only_rules:
        return
    n, days = args.customers, args.days
    specs = [Path(s) for s in args.specs] if args.specs is not None else sorted(SPECS.glob("*.clm"))

    # one run, every figure: the ratios are of figures measured minutes apart, not days
    slow, slow_s = per_customer_rate(args.baseline_customers, days)
    print(
        f"per-customer SimPy by hand, {args.baseline_customers:,} customers x {days} days: "
        f"{slow_s:.2f} s CPU, {slow / 1e6:.2f} M customer-days/s"
    )
    fast, fast_s = spec_engine_rate(CLINIC, n, days)
    print(
        f"engine, clinic spec, {n:,} customers x {days} days: {fast_s:.2f} s CPU, "
        f"{fast / 1e6:.1f} M customer-days/s, {fast / slow:.0f}x the per-customer model"
    )
    whole, cpu, wall = command_rate(CLINIC, n, days)
    verdict = "met" if whole >= 100e6 else "NOT met"
    print(
        f"TARGET clinic whole `clm simulate`, {n:,} x {days}: {whole / 1e6:.1f} M "
        f"customer-days per CPU second ({cpu:.1f} s CPU, {wall:.1f} s wall), "
        f"{whole / slow:.0f}x the per-customer model; target >= 100 M: {verdict}"
    )
    for spec in specs:
        engine, engine_s = spec_engine_rate(spec, n, days)
        whole, cpu, wall = command_rate(spec, n, days)
        verdict = "met" if min(engine, whole) >= 50e6 else "NOT met"
        print(
            f"TARGET {spec.stem}, {n:,} x {days}: engine {engine / 1e6:.1f} M cd/s "
            f"({engine_s:.1f} s CPU), whole command {whole / 1e6:.1f} M cd/s ({cpu:.1f} s "
            f"CPU, {wall:.1f} s wall); {whole / slow:.0f}x the per-customer model; "
            f"target >= 50 M: {verdict}"
        )
    if args.no_memory:
        return
    big = peak_rss_kib(n, days)
    small = peak_rss_kib(1_000, days)
    per_customer = (big - small) * 1024 / n
    verdict = "met" if per_customer <= 1024 else "NOT met"
    print(
        f"TARGET peak memory: {big / 1024:.0f} MiB at {n:,} customers, "
        f"{small / 1024:.0f} MiB at 1,000: {per_customer:.0f} bytes per customer "
        f"(target <= 1024: {verdict})"
    )


if __name__ == "__main__":
    main()
