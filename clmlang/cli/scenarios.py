"""Scenario files on the command line: loading one with every problem it has reported in one
run, and what `clm simulate` takes from it (the policy, market, settings and spec)."""

from __future__ import annotations

from pathlib import Path

from ..api import analyse
from ..compile.policy import Policy
from ..core.files import beside
from ..market.model import Market, MarketError, read_toml
from ..market.scenario import Scenario, ScenarioSettings, load_scenario_file
from .common import PROBLEMS, _compile_or_exit, _input_file, _market_failure, _out, _usage_error
from .file_kinds import SCENARIO, SPEC


def load_checked(scenario: Path, spec: Path | None = None) -> Scenario:
    """The scenario file, loaded (with `spec` as its base spec when given); its problems exit 1
    as diagnostics. A file with other problems (an unknown key, a bad value) also has the
    market names its spec does not declare reported with them, when that spec (`spec`, else
    the file's `simulation.spec`) compiles: one run shows them all."""
    try:
        loaded = load_scenario_file(scenario)
    except MarketError as error:
        raise _market_failure(_with_names(error, scenario, spec), PROBLEMS) from None
    return loaded.with_spec(spec) if spec is not None else loaded


def _with_names(error: MarketError, scenario: Path, spec: Path | None) -> MarketError:
    """`error` with the file's undeclared market names added, when its spec compiles."""
    if error.source != str(scenario):  # an included market file's own problems
        return error
    path = spec if spec is not None else _written_spec(scenario)
    if path is None:
        return error
    policy = analyse(path).policy  # never raises; None when the spec has errors of its own
    if policy is None:
        return error
    try:
        load_scenario_file(scenario, policy)
    except MarketError as again:
        return again
    return error


def _written_spec(scenario: Path) -> Path | None:
    """The spec a scenario file names in `simulation.spec`, when that is a file."""
    try:
        raw = read_toml(scenario).get("simulation", {}).get("spec")
    except (MarketError, AttributeError):  # unreadable, or `simulation` not a table
        return None
    if not isinstance(raw, str):
        return None
    path = Path(raw)
    if not path.is_absolute():
        path = beside(scenario, path)
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):  # a name the file system refuses
        return None


def simulation_input(
    spec: Path | None, scenario: Path | None, variant: str | None
) -> tuple[Policy, Market, ScenarioSettings, Path]:
    """What `clm simulate` runs: the policy, the market, the settings and the spec's path,
    from the arguments and any scenario file (whose spec an explicit SPEC replaces)."""
    if scenario is None:
        if variant is not None:
            raise _usage_error("--variant: variants belong to a scenario: add --scenario FILE")
        if spec is None:
            raise _usage_error(
                "give a spec (clm simulate SPEC), or a scenario file that names one "
                "(clm simulate --scenario FILE)"
            )
        policy, _ = _compile_or_exit(spec)
        return policy, Market(), ScenarioSettings(), spec
    _input_file(scenario, "--scenario", kind=SCENARIO)
    if spec is not None:  # a spec on the command line is the command line's problem, not the file's
        _input_file(spec, kind=SPEC)
    loaded = load_checked(scenario, spec)
    if spec is None and loaded.settings.spec is None:
        raise _usage_error(
            f"{scenario} names no spec: give one (clm simulate SPEC --scenario {scenario})"
        )
    try:
        chosen = loaded.variant(variant or "base")
    except KeyError as error:
        raise _usage_error(f"--variant: {error.args[0]}") from None
    note_ignored(loaded, scenario, chosen.name)
    try:
        if chosen.name != "base":
            from ..whatif.experiment import variant_policy  # scipy and pandas: only for a variant

            policy, market = variant_policy(loaded, chosen)
            return policy, market, loaded.settings, loaded.spec_path(chosen)
        path = spec if spec is not None else loaded.spec_path(chosen)  # checked: it exists
        policy, _ = _compile_or_exit(path)
        loaded.check_names(loaded.market, policy)
    except MarketError as error:
        raise _market_failure(error, PROBLEMS) from None
    return policy, loaded.market, loaded.settings, path


def note_ignored(scenario: Scenario, path: Path, chosen: str) -> None:
    """One line on what a single simulation leaves out of a what-if file."""
    settings = scenario.settings
    left = []
    if settings.replications > 1:
        left.append(f"{settings.replications} replications")
    if settings.shards > 1:
        left.append(f"{settings.shards} shards")
    variants = sum(v.name != chosen for v in scenario.variants)
    if variants:
        left.append(f"{variants} variant(s)")
    values = sum(len(s.values) for s in scenario.sweeps)
    if chosen != "base" and chosen not in {v.name for v in scenario.variants}:
        values -= 1  # the chosen one is a sweep value
    if values:
        left.append(f"{values} sweep value(s)")
    if left:
        what = "the base" if chosen == "base" else f"variant `{chosen}`"
        _out(
            f"note: simulating {what} once; the file's {', '.join(left)} are for "
            f"`clm run {path}` (--variant NAME simulates one variant)",
            err=True,
        )
