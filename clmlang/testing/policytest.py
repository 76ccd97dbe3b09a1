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

This module runs the files and reports; the checks are in `example_checks.py` (and
`example_variants.py`, the variants examples name),
`state_invariants.py`, `trace_invariants.py` and `forecast_expectations.py`, what they
exercised in `coverage.py`.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..compile.analysis import Analysis, analyse
from ..compile.explanation import CustomerError
from ..compile.policy import Policy
from ..language.symbols import Symbols
from ..market.model import MarketError
from .coverage import Coverage, cover_policy, node_paths
from .example_checks import check_example
from .example_variants import variant_problems
from .forecast_expectations import check_forecast, kpi_problems
from .state_invariants import STATE_KINDS, check_state_invariant
from .testfile import Invariant, TestFile, TestFileError, load_test_file
from .trace_invariants import TRACE_KINDS, check_replay, check_trace_invariant

__all__ = ["Outcome", "TestFile", "load_test_file", "run_tests"]


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
    tried: str = ""  # what an invariant's search tried: "200 histories, 37 in stage loyal"


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
    files = []
    for path in paths:  # every file's problems before any test runs
        test_file = load_test_file(path)
        analysis = analyse(test_file.spec_path())
        if analysis.policy is not None:
            problems, places = variant_problems(test_file, analysis.policy)
            problems += kpi_problems(test_file, analysis.policy)
            if problems:
                raise TestFileError(str(path), problems, places)
        files.append((path, test_file, analysis))
    for path, test_file, analysis in files:
        spec = test_file.spec_path()
        if analysis.policy is None:
            problem = "the spec has errors: run `clm check` on it"
            if not spec.is_file():
                problem = (
                    f"no spec {spec}: a test file tests NAME.clm beside it (for NAME.test.toml),"
                    ' or the spec its `spec = "..."` names'
                )
                if not test_file.spec and not str(path).endswith(".test.toml"):
                    problem = (
                        "names no spec: a test file not called NAME.test.toml says which spec"
                        ' it tests (`spec = "NAME.clm"`)'
                    )
            report.outcomes.append(Outcome(str(path), "spec", str(spec), False, problem))
            continue
        cover_policy(report.coverage, analysis.policy)
        runner = _FileRunner(test_file, analysis, seed, examples, report.coverage)
        report.outcomes.extend(runner.run())
    return report


class _FileRunner:
    """The tests of one file: its examples, then invariants, replays and forecasts."""

    def __init__(
        self, tf: TestFile, analysis: Analysis, seed: int, examples: int, coverage: Coverage
    ):
        self.tf, self.analysis, self.seed, self.examples = tf, analysis, seed, examples
        self.policy: Policy = analysis.policy  # type: ignore[assignment]
        self.coverage = coverage
        self.symbols = Symbols.from_spec(analysis.spec)
        self.node_paths = node_paths(self.policy)

    def run(self) -> list[Outcome]:
        policy, symbols, sources = self.policy, self.symbols, self.analysis.sources
        out = []
        for ex in self.tf.example:
            out.append(
                self._timed(
                    "example",
                    ex.name,
                    lambda ex=ex: check_example(ex, policy, symbols, sources, self.coverage),
                )
            )
        for inv in self.tf.invariant:
            out.append(self._timed("invariant", inv.label, lambda inv=inv: self._invariant(inv)))
        for rp in self.tf.replay:
            out.append(
                self._timed(
                    "replay",
                    rp.name,
                    lambda rp=rp: check_replay(rp, policy, self.coverage, self.node_paths),
                )
            )
        for fc in self.tf.forecast:
            out.append(
                self._timed(
                    "forecast",
                    fc.label,
                    lambda fc=fc: check_forecast(fc, policy, self.tf, self.seed),
                )
            )
        return out

    def _invariant(self, inv: Invariant) -> tuple[str, str, str]:
        """A state invariant is searched over histories first; one that is also about what
        customers receive (`max_discount`) is then checked over simulated traces. The third
        item says how many histories and populations were tried."""
        tried = ""
        if inv.kind in STATE_KINDS:
            found = check_state_invariant(
                inv,
                self.policy,
                self.symbols,
                self.analysis.sources,
                self.tf,
                seed=self.seed,
                examples=self.examples,
            )
            if found[0]:
                return found
            tried = found[2]
        if inv.kind in TRACE_KINDS:
            message, rule, more = check_trace_invariant(
                inv,
                self.policy,
                self.tf,
                self.coverage,
                self.node_paths,
                seed=self.seed,
                examples=self.examples,
            )
            return message, rule, f"{tried}; {more}" if tried else more
        return "", "", tried

    def _timed(self, kind: str, name: str, check: Callable[[], tuple[str, ...]]) -> Outcome:
        """Run one check, which returns what went wrong ("" if nothing) and the rule to point
        at; a test that cannot run fails with the reason."""
        start = time.perf_counter()
        tried = ""
        try:
            message, rule, *more = check()
            where = self._where(rule)
            tried = more[0] if more else ""
        except (CustomerError, MarketError, ValueError) as error:
            message, where = f"cannot run: {error}", ""
        seconds = time.perf_counter() - start
        return Outcome(self.tf.path, kind, name, not message, message, seconds, where, tried)

    def _where(self, rule_name: str) -> str:
        """The rule's source place and line, or "" (no such rule, or none named); a variant's
        (`refill/B`) when a check names one."""
        name, _, variant = rule_name.partition("/")
        rule = next((r for r in self.policy.rules if r.name == name), None)
        if rule is None:
            return ""
        span = next((v.span for v in rule.variants if variant and v.name == variant), rule.span)
        source = self.analysis.sources.get(span.file)
        line = source.line_text(span.line) if source else ""
        return f"{span}: {line.strip()}"
