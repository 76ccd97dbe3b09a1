"""Coverage of a spec by its policy tests: which rules, variants and follow-up branches
(`success` / `on failure`) the examples and the simulated traces exercised (docs/testing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..compile.policy import Policy
from ..simulation.engine import Run
from ..simulation.engine.program import Program

__all__ = ["Coverage", "cover_policy", "cover_run", "node_paths"]


@dataclass
class Coverage:
    """What was exercised, out of all there is; branches are `rule:path` strings such as
    `winback:failure/success`."""

    rules: set[str] = field(default_factory=set)
    variants: set[str] = field(default_factory=set)
    branches: set[str] = field(default_factory=set)
    all_rules: set[str] = field(default_factory=set)
    all_variants: set[str] = field(default_factory=set)
    all_branches: set[str] = field(default_factory=set)
    specs: int = 0  # the specs whose tests ran (none: each test file's spec missing or with errors)

    @property
    def share(self) -> float:
        total = len(self.all_rules) + len(self.all_variants) + len(self.all_branches)
        hit = (
            len(self.rules & self.all_rules)
            + len(self.variants & self.all_variants)
            + len(self.branches & self.all_branches)  # an outcome with no branch is no branch
        )
        return hit / total if total else 1.0

    def missing(self) -> list[str]:
        return (
            sorted(self.all_rules - self.rules)
            + sorted(self.all_variants - self.variants)
            + sorted(self.all_branches - self.branches)
        )


def cover_policy(coverage: Coverage, policy: Policy) -> None:
    """Add the policy's rules, variants and follow-up branches to what there is to cover."""
    coverage.specs += 1
    for rule in policy.rules:
        coverage.all_rules.add(rule.name)
        for variant in rule.variants:
            coverage.all_variants.add(f"{rule.name}/{variant.name}")

    def walk(name: str, flow, path: str) -> None:
        """Only the branches the spec writes (`on success`, `on failure`): a success test
        without them has outcomes, but no branch to exercise."""
        if flow is None or flow.success is None:
            return
        for outcome, branch in (("success", flow.on_success), ("failure", flow.on_failure)):
            if branch is not None:
                coverage.all_branches.add(f"{name}:{path}{outcome}")
                walk(name, branch, f"{path}{outcome}/")

    for rule in policy.rules:
        walk(rule.name, rule.flow, "")


def cover_run(
    coverage: Coverage, run: Run, policy: Policy, paths: dict[int, tuple[str, str]]
) -> None:
    """Mark what a simulated run exercised: rules and variants that fired outside their
    holdout, and the branches its flow nodes took (`paths` from `node_paths`)."""
    fired = run.recorder.arm_counters["fired"]
    # each rule's holdout is its last arm (engine/components.py), whatever its variants are
    # called: a variant may be named `holdout` too
    last = {r: i for i, (r, _) in enumerate(run.arms)}
    for i, (r, label) in enumerate(run.arms):
        if fired[i] > 0 and i != last[r]:
            name = policy.rules[r].name
            coverage.rules.add(name)
            if label:
                coverage.variants.add(f"{name}/{label}")
    for node_id, (won, lost) in run.recorder.node_outcomes.items():
        name, prefix = paths[node_id]
        if won:
            coverage.branches.add(f"{name}:{prefix}success")
        if lost:
            coverage.branches.add(f"{name}:{prefix}failure")


def node_paths(policy: Policy) -> dict[int, tuple[str, str]]:
    """Each flow node's rule and branch path ("", "failure/", "failure/success/", ...),
    numbered as the engine numbers them (engine/program.py)."""
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
