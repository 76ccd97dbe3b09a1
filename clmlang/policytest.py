"""Policy tests: examples, invariants and forecast expectations, written next to a spec.

A test file is `NAME.test.toml` beside `NAME.clm` (docs/testing.md):

    [[example]]                  # one customer: a state (as in `clm explain`) or a history
    name = "forming, silent 60 days: the rhythm SMS"
    customer = "purchases=4, days_since_purchase=60"
    stage = "forming"
    fires = ["keep_rhythm"]
    not_fires = ["loyal_rhythm"]
    sends = [{ rule = "keep_rhythm", channel = "sms" }]

    [[invariant]]                # over generated histories and simulated traces
    kind = "max_messages"
    limit = 3
    days = 7

    [[forecast]]                 # on a scenario's forecast, judged with its interval
    scenario = "../simulations/clinic.toml"
    kpi = "retention_90d"
    at_least = 0.3

Invariants on one customer's state (`one_stage`, `max_discount`, `fires_only_when`) are
searched with hypothesis over histories built from the spec's vocabulary; a failure is shrunk
to a minimal history and printed as a ready-to-paste example. Invariants on what customers
receive (`max_messages`, `holdout_gets_nothing`, `no_message_when_unsubscribed`,
`max_discount`) are checked over simulated traces of populations hypothesis chooses and
shrinks; a failure names the customer and the command that replays their journey.
"""

from __future__ import annotations

import json
import random
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from . import syntax as s
from .api import Analysis, analyse, simulate
from .engine import simulate_policy
from .experiment import interval
from .explain import CustomerError, explain, parse_customer
from .expression import evaluate, lower
from .histories import History, Purchase, histories
from .market import Market, MarketError, did_you_mean, load_scenario
from .overrides import parse_share
from .parser import parse_text
from .policy import Policy

__all__ = ["Outcome", "TestFile", "load_test_file", "run_tests"]


from .testfile import (
    Example,
    ForecastExpectation,
    Invariant,
    Replay,
    TestFile,
    load_test_file,
)

# ---- outcomes -------------------------------------------------------------------------


@dataclass
class Outcome:
    file: str
    kind: str  # example, invariant, forecast
    name: str
    passed: bool
    message: str = ""
    seconds: float = 0.0
    where: str = ""  # the failing rule's source place and line


@dataclass
class Coverage:
    rules: set[str] = field(default_factory=set)
    variants: set[str] = field(default_factory=set)
    branches: set[str] = field(default_factory=set)
    all_rules: set[str] = field(default_factory=set)
    all_variants: set[str] = field(default_factory=set)
    all_branches: set[str] = field(default_factory=set)

    @property
    def share(self) -> float:
        total = len(self.all_rules) + len(self.all_variants) + len(self.all_branches)
        hit = len(self.rules) + len(self.variants) + len(self.branches)
        return hit / total if total else 1.0

    def missing(self) -> list[str]:
        return (
            sorted(self.all_rules - self.rules)
            + sorted(self.all_variants - self.variants)
            + sorted(self.all_branches - self.branches)
        )


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]

    def junit(self) -> str:
        suite = ET.Element(
            "testsuite",
            name="clm test",
            tests=str(len(self.outcomes)),
            failures=str(len(self.failed)),
        )
        for o in self.outcomes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{o.file}.{o.kind}",
                name=o.name,
                time=f"{o.seconds:.3f}",
            )
            if not o.passed:
                failure = ET.SubElement(case, "failure", message=o.message.splitlines()[0])
                failure.text = o.message + ("\n" + o.where if o.where else "")
        return ET.tostring(suite, encoding="unicode") + "\n"


# ---- running --------------------------------------------------------------------------


def run_tests(paths: list[Path], *, seed: int = 0, examples: int = 200) -> Report:
    """Run every test of every file; `examples` is the number of generated histories (and a
    tenth as many simulated populations) per invariant."""
    report = Report()
    for path in paths:
        test_file = load_test_file(path)
        analysis = analyse(test_file.spec_path())
        if analysis.policy is None:
            report.outcomes.append(
                Outcome(
                    str(path),
                    "spec",
                    str(test_file.spec_path()),
                    False,
                    "the spec has errors: run `clm check` on it",
                )
            )
            continue
        _cover_all(report.coverage, analysis.policy)
        runner = _FileRunner(test_file, analysis, seed, examples, report.coverage)
        report.outcomes.extend(runner.run())
    return report


def _cover_all(coverage: Coverage, policy: Policy) -> None:
    for rule in policy.rules:
        coverage.all_rules.add(rule.name)
        for variant in rule.variants:
            coverage.all_variants.add(f"{rule.name}/{variant.name}")

    def walk(name: str, flow, path: str) -> None:
        if flow is None or flow.success is None:
            return
        coverage.all_branches.add(f"{name}:{path}success")
        coverage.all_branches.add(f"{name}:{path}failure")
        walk(name, flow.on_success, path + "success/")
        walk(name, flow.on_failure, path + "failure/")

    for rule in policy.rules:
        walk(rule.name, rule.flow, "")


class _FileRunner:
    def __init__(
        self, tf: TestFile, analysis: Analysis, seed: int, examples: int, coverage: Coverage
    ):
        self.tf, self.analysis, self.seed, self.examples = tf, analysis, seed, examples
        self.policy: Policy = analysis.policy  # type: ignore[assignment]
        self.coverage = coverage
        from .symbols import Symbols

        self.symbols = Symbols.from_spec(analysis.spec)
        self.node_paths = _node_paths(self.policy)

    def run(self) -> list[Outcome]:
        out = []
        for ex in self.tf.example:
            out.append(self._timed("example", ex.name, lambda ex=ex: self._example(ex)))
        for inv in self.tf.invariant:
            out.append(self._timed("invariant", inv.label, lambda inv=inv: self._invariant(inv)))
        for rp in self.tf.replay:
            out.append(self._timed("replay", rp.name, lambda rp=rp: self._replay(rp)))
        for fc in self.tf.forecast:
            label = (
                fc.name
                or f"{fc.kpi} {'>=' if fc.at_least is not None else '<='} "
                f"{fc.at_least if fc.at_least is not None else fc.at_most}"
            )
            out.append(self._timed("forecast", label, lambda fc=fc: self._forecast(fc)))
        return out

    def _timed(self, kind: str, name: str, body) -> Outcome:
        start = time.perf_counter()
        try:
            message, where = body()
        except (CustomerError, MarketError, ValueError) as error:
            message, where = f"cannot run: {error}", ""
        return Outcome(
            self.tf.path, kind, name, not message, message, time.perf_counter() - start, where
        )

    def _where(self, rule_name: str) -> str:
        rule = next((r for r in self.policy.rules if r.name == rule_name), None)
        if rule is None:
            return ""
        source = self.analysis.sources.get(rule.span.file)
        line = source.line_text(rule.span.line) if source else ""
        return f"{rule.span}: {line.strip()}"

    # ---- examples ---------------------------------------------------------------------
    def _customer(self, ex: Example) -> dict[str, object]:
        if ex.history is not None:
            purchases = tuple(Purchase(int(p["day"]), p.get("product")) for p in ex.history)
            day = ex.day if ex.day is not None else max((p.day for p in purchases), default=0)
            extra = {k: v for k, v in (ex.model_extra or {}).items()}
            history = History(purchases, day, ex.audience, tuple(extra.items()))
            return history.customer(self.policy)
        customer = parse_customer(ex.customer or "")
        if ex.audience:
            customer["audience"] = ex.audience
        return customer

    def _example(self, ex: Example) -> tuple[str, str]:
        result = explain(self.policy, self.symbols, self.analysis.sources, self._customer(ex))
        fires = {v.rule: v for v in result.rules}
        for name in [*ex.fires, *ex.not_fires, *(send.rule for send in ex.sends)]:
            if name not in fires:
                return f"the spec has no rule `{name}`" + did_you_mean(name, list(fires)), ""
        for v in result.rules:
            if v.fires:
                self.coverage.rules.add(v.rule)
        if ex.stage is not None and result.stage != ex.stage:
            return f"expected stage `{ex.stage}`, got `{result.stage}`", ""
        for name in ex.fires:
            if not fires[name].fires:
                why = "; ".join(fires[name].reasons)
                return f"expected `{name}` to fire; it does not: {why}", self._where(name)
        for name in ex.not_fires:
            if fires[name].fires:
                return f"expected `{name}` not to fire; it does", self._where(name)
        for send in ex.sends:
            if not fires[send.rule].fires:
                return f"expected `{send.rule}` to send; it does not fire", self._where(send.rule)
            step = _first_send(self.policy.rule(send.rule))
            if step is None:
                return f"`{send.rule}` sends nothing", self._where(send.rule)
            if send.channel and step.channel != send.channel:
                return (
                    f"expected `{send.rule}` to send on {send.channel}, it sends on {step.channel}"
                ), self._where(send.rule)
            offered = _offer_text(step)
            if send.offer and send.offer != offered:
                return f"expected offer `{send.offer}`, got `{offered}`", self._where(send.rule)
        return "", ""

    # ---- invariants -------------------------------------------------------------------
    def _invariant(self, inv: Invariant) -> tuple[str, str]:
        state_failure = (
            self._state_search(inv)
            if inv.kind in ("one_stage", "max_discount", "fires_only_when")
            else ("", "")
        )
        if state_failure[0]:
            return state_failure
        if inv.kind in (
            "max_messages",
            "holdout_gets_nothing",
            "no_message_when_unsubscribed",
            "max_discount",
        ):
            return self._trace_search(inv)
        return "", ""

    def _state_violation(self, inv: Invariant, history: History) -> str | None:
        customer = history.customer(self.policy)
        result = explain(self.policy, self.symbols, self.analysis.sources, customer)
        if inv.kind == "one_stage":
            return None if result.stage else "is in no stage"
        if inv.kind == "max_discount":
            if result.stage != inv.stage:
                return None
            limit = parse_share("share", inv.share)
            for v in result.rules:
                rule = self.policy.rule(v.rule)
                worst = max(
                    (
                        st_.offer.discount_share or 0.0
                        for st_ in _sends(rule)
                        if st_.offer is not None
                    ),
                    default=0.0,
                )
                if v.fires and worst > limit + 1e-12:
                    return f"is offered {worst:.0%} off by `{v.rule}` in stage {inv.stage}"
            return None
        if inv.kind == "fires_only_when":
            verdict = next(v for v in result.rules if v.rule == inv.rule)
            if not verdict.fires or not _trigger_possible(
                self.policy.rule(inv.rule), customer, result.stage
            ):
                return None
            from .explain import customer_columns

            holds = evaluate(
                self._condition(inv.when or ""),
                customer_columns(customer, self.policy, self.symbols),
                1,
            )[0]
            return None if holds else f"gets `{inv.rule}` though `{inv.when}` is false"
        return None

    def _condition(self, text: str):
        parsed = parse_text(f"segment invariant_condition when {text}\n", "<invariant>")
        if parsed.diagnostics or parsed.file is None:
            raise ValueError(f"`{text}` is not a condition")
        item = parsed.file.items[0]
        assert isinstance(item, s.Segment)
        return lower(item.condition, self.symbols)

    def _search(self, strategy, violation, examples: int):
        """The minimal example for which `violation` says something (hypothesis generates
        `examples` of them, then shrinks a failing one), or None; seeded, so reproducible."""
        cfg = settings(
            max_examples=examples,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
        )
        try:
            return find(
                strategy,
                lambda e: violation(e) is not None,
                settings=cfg,
                random=random.Random(self.seed),
            )
        except NoSuchExample:
            return None

    def _state_search(self, inv: Invariant) -> tuple[str, str]:
        if inv.kind == "fires_only_when" and inv.rule not in [r.name for r in self.policy.rules]:
            raise ValueError(f"the spec has no rule `{inv.rule}`")
        found = self._search(
            histories(self.policy), lambda h: self._state_violation(inv, h), self.examples
        )
        if found is None:
            return "", ""
        problem = self._state_violation(inv, found)
        paste = f'[[example]]\nname = "{inv.label}: counterexample"\n{found.to_toml()}\n' + (
            f'not_fires = ["{inv.rule}"]\n' if inv.rule else ""
        )
        return (
            f"a customer {problem}.\nMinimal counterexample, ready to paste into "
            f"{Path(self.tf.path).name}:\n{paste}"
        ), self._where(inv.rule or "")

    def _trace_search(self, inv: Invariant) -> tuple[str, str]:
        if inv.rule and inv.rule not in [r.name for r in self.policy.rules]:
            raise ValueError(
                f"the spec has no rule `{inv.rule}`"
                + did_you_mean(inv.rule, [r.name for r in self.policy.rules])
            )
        populations = st.tuples(st.integers(20, 400), st.integers(0, 2**16))
        found = self._search(
            populations, lambda p: self._trace_violation(inv, *p), max(3, self.examples // 20)
        )
        if found is None:
            return "", ""
        customers, seed = found
        self._last_rule = inv.rule or ""
        problem = self._trace_violation(inv, customers, seed) or ""
        spec = self.tf.spec_path()
        fields = inv.model_dump(exclude_defaults=True)
        inline = ", ".join(f"{k} = {_toml_value(v)}" for k, v in fields.items())
        paste = (
            f'[[replay]]\nname = "{inv.label}: counterexample"\ncustomers = {customers}\n'
            f"days = 120\nseed = {seed}\ninvariant = {{ {inline} }}\n"
        )
        return (
            f"{problem}\nMinimal population, ready to paste into {Path(self.tf.path).name}:\n"
            f"{paste}Watch the customer: clm simulate {spec} --customers {customers} "
            f"--days 120 --seed {seed} --trace {problem.split()[1]}"
        ), self._where(self._last_rule)

    def _replay(self, rp: Replay) -> tuple[str, str]:
        self._last_rule = rp.invariant.rule or ""
        problem = self._trace_violation(rp.invariant, rp.customers, rp.seed, rp.days)
        return (problem or ""), self._where(self._last_rule) if problem else ""

    def _trace_violation(
        self, inv: Invariant, customers: int, seed: int, days: int = 120
    ) -> str | None:
        run = simulate_policy(
            self.policy, Market(), customers=customers, days=days, rng=np.random.default_rng(seed)
        )
        self._cover_run(run)
        log = run.recorder.messages.arrays()
        sites = run.sites
        transactional = np.array([x.send.transactional for x in sites] or [False])[log["site"]]
        channels = [c.name for c in self.policy.channels]
        if inv.kind == "max_messages":
            keep = ~transactional if inv.marketing_only else np.ones(log["site"].size, bool)
            if inv.channel:
                keep &= log["channel"] == channels.index(inv.channel)
            found = _window_violation(
                log["customer"][keep],
                log["day"][keep],
                log["arm"][keep],
                inv.limit or 1,
                inv.days or 7,
            )
            if found is None:
                return None
            text, arm = found
            self._last_rule = self.policy.rules[run.arms[arm][0]].name
            return text
        if inv.kind == "holdout_gets_nothing":
            events = run.recorder.rule_events.arrays()
            arms = [
                i for i, (r, label) in enumerate(run.arms) if self.policy.rules[r].name == inv.rule
            ]
            hold = [i for i in arms if run.arms[i][1] == "holdout"]
            held = np.unique(events["customer"][np.isin(events["arm"], hold)])
            got = log["customer"][np.isin(log["arm"], [a for a in arms if a not in hold])]
            both = np.intersect1d(held, got)
            return (
                f"customer {both[0]} is in the holdout of {inv.rule} and got its message"
                if both.size
                else None
            )
        if inv.kind == "no_message_when_unsubscribed":
            unsub = run.recorder.unsubscribes.arrays()
            for c, d, ch in zip(unsub["customer"], unsub["day"], unsub["channel"], strict=True):
                later = (log["customer"] == c) & (log["channel"] == ch) & (log["day"] > d)
                if later.any():
                    return (
                        f"customer {c} unsubscribed from {channels[ch]} on day {d} and got a "
                        f"message there on day {log['day'][later][0]}"
                    )
            return None
        if inv.kind == "max_discount":
            limit = parse_share("share", inv.share)
            code = [x.name for x in self.policy.stages].index(inv.stage)
            discount = np.array([x.discount_share for x in sites] or [0.0])[log["site"]]
            bad = (log["stage"] == code) & (discount > limit + 1e-12)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                return (
                    f"customer {log['customer'][i]} in stage {inv.stage} was offered "
                    f"{discount[i]:.0%} off on day {log['day'][i]}"
                )
        return None

    def _cover_run(self, run) -> None:
        fired = run.recorder.arm_counters["fired"]
        for i, (r, label) in enumerate(run.arms):
            if fired[i] > 0 and label != "holdout":
                name = self.policy.rules[r].name
                self.coverage.rules.add(name)
                if label:
                    self.coverage.variants.add(f"{name}/{label}")
        for node_id, (won, lost) in run.recorder.node_outcomes.items():
            name, prefix = self.node_paths[node_id]
            if won:
                self.coverage.branches.add(f"{name}:{prefix}success")
            if lost:
                self.coverage.branches.add(f"{name}:{prefix}failure")

    # ---- forecasts ----------------------------------------------------------------------
    def _forecast(self, fc: ForecastExpectation) -> tuple[str, str]:
        market, customers, days, seed = Market(), 5000, 365, self.seed
        if fc.scenario:
            cfg, market = load_scenario(Path(self.tf.path).parent / fc.scenario)
            customers, days, seed = cfg.customers, cfg.days, cfg.seed
        customers = fc.customers or customers
        days = fc.days or days
        values = []
        for r in range(fc.replications):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
            result = simulate(self.policy, market, customers=customers, days=days, rng=rng)
            value = result.summary.get(fc.kpi)
            if value is None and fc.kpi not in result.summary:
                raise ValueError(f"no KPI `{fc.kpi}`" + did_you_mean(fc.kpi, list(result.summary)))
            values.append(np.nan if value is None else float(value))
        mean, low, high = interval(np.array(values))
        shown = f"{fc.kpi} = {mean:.4g} [{low:.4g}, {high:.4g}]"
        if fc.at_least is not None and not (high >= fc.at_least):
            return f"expected {fc.kpi} >= {fc.at_least}; forecast {shown}", ""
        if fc.at_most is not None and not (low <= fc.at_most):
            return f"expected {fc.kpi} <= {fc.at_most}; forecast {shown}", ""
        return "", ""


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _trigger_possible(rule, customer: dict, stage: str | None) -> bool:
    """Whether the rule's trigger can come for a customer in this state (`clm explain` says
    whether the filters hold; the trigger says when they are looked at)."""
    trig = rule.trigger
    since = customer.get("days_since_purchase")
    if trig.kind == "event" and trig.event is not None:
        ev = trig.event
        if ev.kind == "enter":
            return stage == ev.stage
        if ev.kind == "leave":
            return stage != ev.stage
        if ev.kind == "first_purchase":
            return customer.get("purchases") == 1 and since == 0
        return since == 0
    if (
        trig.kind == "after"
        and trig.event is not None
        and trig.event.kind in ("purchase", "first_purchase")
    ):
        return since == round(trig.days or 0)
    if trig.kind == "inactivity":
        return since == round(trig.days or 0)
    return True


def _window_violation(
    cust: np.ndarray, day: np.ndarray, arm: np.ndarray, limit: int, window: float
) -> tuple[str, int] | None:
    """The first customer with more than `limit` messages within `window` days, and the arm
    of the message that went over."""
    order = np.lexsort((day, cust))
    cust, day, arm = cust[order], day[order], arm[order]
    if cust.size <= limit:
        return None
    bad = (cust[limit:] == cust[:-limit]) & (day[limit:] - day[:-limit] < window)
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    days = day[i : i + limit + 1].tolist()
    text = (
        f"customer {cust[i]} got {limit + 1} messages within {window:g} days "
        f"(days {', '.join(map(str, days))})"
    )
    return text, int(arm[i + limit])


def _sends(rule) -> list:
    found = []

    def walk(flow) -> None:
        if flow is None:
            return
        found.extend(st_ for st_ in flow.steps if st_.kind == "send")
        walk(flow.on_success)
        walk(flow.on_failure)

    walk(rule.flow)
    for variant in rule.variants:
        found.extend(st_ for st_ in variant.steps if st_.kind == "send")
    return found


def _first_send(rule):
    steps = rule.variants[0].steps if rule.variants else rule.flow.steps
    return next((st_ for st_ in steps if st_.kind == "send"), None)


def _offer_text(step) -> str | None:
    offer = step.offer
    if offer is None:
        return None
    what = offer.product or (f"line {offer.line}" if offer.line else "")
    if offer.discount_share:
        what += f" discount {offer.discount_share * 100:g}%"
    if offer.discount_amount:
        what += f" discount {offer.discount_amount:g}"
    if offer.bonus:
        what += f" bonus {offer.bonus:g}"
    return what.strip()


def _node_paths(policy: Policy) -> dict[int, tuple[str, str]]:
    """Each flow node's rule and branch path ("", "failure/", "failure/success/", ...),
    numbered as the engine numbers them (engine/program.py)."""
    from .engine.program import Program

    program = Program.of(policy)
    parents: dict[int, tuple[int, str]] = {}
    for n in program.nodes:
        if n.on_success is not None:
            parents[n.on_success] = (n.id, "success/")
        if n.on_failure is not None:
            parents[n.on_failure] = (n.id, "failure/")
    paths = {}
    for node in program.nodes:
        path, current = "", node.id
        while current in parents:
            current, step = parents[current]
            path = step + path
        paths[node.id] = (policy.rules[node.rule].name, path)
    return paths
