"""Commands for CI: diff (what changed and its KPI impact) and test (policy tests)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer._click.exceptions import UsageError  # Typer vendors click; uv.lock pins it
from typer.core import TyperCommand

from ..api import analyse, analyse_text
from ..compile.policy import Policy
from ..core.diagnostics import render_text
from ..core.source import decode
from ..market.model import MAX_CUSTOMERS, MAX_DAYS, MAX_REPLICATIONS, MarketError
from ..market.scenario import Settings
from ..testing.changes import diff_policies
from ..testing.diffview import render_changes
from .common import (
    OK,
    PROBLEMS,
    USAGE,
    _color,
    _input_file,
    _market_failure,
    _out,
    _output_file,
    _scenario_for,
    _usage_error,
    _write,
    app,
    input_path,
    output_path,
)
from .file_kinds import SCENARIO, SPEC, TEST


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


DIFF_SAME, DIFF_ERROR, DIFF_CHANGED = 0, 1, 2


class _DiffCommand(TyperCommand):
    """`clm diff`'s exit 2 means "the spec changed", so its usage errors (a mistyped option,
    a missing argument) exit 1, the error code, lest CI read a typo as a change."""

    def make_context(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as error:
            error.exit_code = DIFF_ERROR
            raise


def _diff_fail(message: str, hint: str | None = None) -> typer.Exit:
    return _usage_error(message, hint, DIFF_ERROR)


def _policy_from(path: Path, text: str | None, label: str) -> Policy:
    """Compile a spec file, or its text at a git revision (its `use` files come from the
    working tree)."""
    if text is None:
        _input_file(path, code=DIFF_ERROR, kind=SPEC)
        analysis = analyse(path)
    else:
        with contextlib.chdir(path.parent if str(path.parent) else Path(".")):
            analysis = analyse_text(text, label)
    if analysis.policy is None:
        _out(
            render_text(analysis.diagnostics, analysis.sources, color=_color(sys.stderr)), err=True
        )
        raise typer.Exit(DIFF_ERROR)
    return analysis.policy


def _git_text(path: Path, rev: str) -> str:
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path.parent or ".",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        relative = path.resolve().relative_to(Path(top).resolve())
        # bytes, read as a spec file is (core.source.decode: a byte order mark dropped)
        shown = subprocess.run(
            ["git", "show", f"{rev}:{relative.as_posix()}"], cwd=top, capture_output=True
        )
    except OSError as error:  # no git installed, or the spec's folder is gone
        raise _diff_fail(f"--git: cannot run git: {error.strerror or error}") from None
    except (subprocess.CalledProcessError, ValueError):
        raise _diff_fail(
            f"--git: {path} is not in a git repository",
            "compare two files instead: clm diff OLD.clm NEW.clm",
        ) from None
    if shown.returncode != 0:
        raise _diff_fail(f"--git {rev}: {shown.stderr.decode(errors='replace').strip()}")
    return decode(shown.stdout)


@app.command(name="diff", cls=_DiffCommand)
def diff_(
    old: Annotated[
        Path,
        typer.Argument(
            help="The old spec (or, with --git, the spec).", parser=input_path("OLD", 1)
        ),
    ],
    new: Annotated[
        Path | None, typer.Argument(help="The new spec.", parser=input_path("NEW", 1))
    ] = None,
    git: Annotated[
        str | None, typer.Option("--git", help="Diff the spec against its version at REV.")
    ] = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Forecast the KPI impact of the change.")
    ] = False,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="Market and settings for --simulate.",
            parser=input_path("--scenario", 1),
            metavar="<path>",
        ),
    ] = None,
    customers: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_CUSTOMERS, help="Customers per run (default: the scenario's)."),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_DAYS, help="Days per run (default: the scenario's)."),
    ] = None,
    replications: Annotated[
        int,
        typer.Option(min=1, max=MAX_REPLICATIONS, help="Paired runs of the old and the new spec."),
    ] = 5,
    output_format: Annotated[
        DiffFormat, typer.Option("--format", help="text, json or markdown (for a PR comment).")
    ] = DiffFormat.text,
) -> None:
    """What changed between two specs: exit 0 no change, 1 error, 2 changes."""
    if git is not None:
        if not git.strip():
            raise _diff_fail("--git: give a revision, e.g. HEAD~1 or origin/main")
        if new is not None:
            raise _diff_fail("give one spec with --git, or two without it")
        old_policy = _policy_from(old, _git_text(old, git), f"{git}:{old}")
        new_policy = _policy_from(old, None, str(old))
        labels = (f"{old} at {git}", str(old))
    else:
        if new is None:
            raise _diff_fail("give two specs, or one with --git REV")
        old_policy, new_policy = _policy_from(old, None, ""), _policy_from(new, None, "")
        labels = (str(old), str(new))
    changes = diff_policies(old_policy, new_policy)
    impact = None
    if simulate and changes:
        if scenario is not None:
            _input_file(scenario, "--scenario", DIFF_ERROR, SCENARIO)
        try:
            settings, market = _scenario_for(new_policy, scenario, Settings(customers=5000))
        except MarketError as error:
            raise _market_failure(error, DIFF_ERROR) from None
        # the simulator: only with --simulate
        from ..testing.impact import impact_size_problem, simulate_impact

        customers = settings.customers if customers is None else customers
        days = settings.days if days is None else days
        names = {"customers": "--customers", "days": "--days", "copies": "--replications"}
        problem = impact_size_problem(
            old_policy, new_policy, market, customers, days, replications, names
        )
        if problem:
            raise _diff_fail(problem)
        impact = simulate_impact(
            old_policy,
            new_policy,
            market,
            customers=customers,
            days=days,
            replications=replications,
            seed=settings.seed,
        )
    _out(render_changes(changes, impact, labels, output_format.value))
    raise typer.Exit(DIFF_CHANGED if changes else DIFF_SAME)


def _test_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.test.toml")))
        else:
            found.append(_input_file(path, kind=TEST))
    return found


@app.command(name="test")
def test_(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Test files (*.test.toml) or folders.", parser=input_path("PATHS")),
    ],
    junit: Annotated[
        Path | None,
        typer.Option(
            help="Write a JUnit XML report here.", parser=output_path("--junit"), metavar="<path>"
        ),
    ] = None,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="List rules, variants, branches never exercised.")
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Fail when coverage is below this percent."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the search: same seed, same run.")] = 0,
    examples: Annotated[int, typer.Option(min=1, help="Generated histories per invariant.")] = 200,
) -> None:
    """Run policy tests: examples, invariants and forecast expectations."""
    _output_file(junit, "--junit")
    files = _test_files(paths)
    if not files:
        raise _usage_error("no *.test.toml files found")
    from ..testing.policytest import run_tests  # hypothesis and the simulator: only for clm test

    try:
        report = run_tests(files, seed=seed, examples=examples)
    except MarketError as error:
        raise _market_failure(error, USAGE) from None
    for o in report.outcomes:
        mark = "PASS" if o.passed else "FAIL"
        tried = f"{o.tried}; " if o.tried else ""
        _out(f"{mark} {o.file} {o.kind}: {o.name} ({tried}{o.seconds:.2f}s)")
        if not o.passed:
            for line in o.message.splitlines():
                _out(f"    {line}")
            if o.where:
                _out(f"    rule: {o.where}")
    share = report.coverage.share
    counts = f"{len(report.outcomes) - len(report.failed)} passed, {len(report.failed)} failed"
    ran = report.coverage.specs > 0  # none: each spec missing or with errors, nothing covered
    _out(
        f"{counts}; coverage {share:.0%} of rules, variants and follow-up branches"
        if ran
        else counts
    )
    if coverage and ran:
        for item in report.coverage.missing():
            _out(f"  never exercised: {item}")
    if junit is not None:
        _write(junit, report.junit())
    below = ran and threshold is not None and share * 100 < threshold
    if below:
        _out(f"coverage {share:.0%} is below the threshold of {threshold:g}%", err=True)
    raise typer.Exit(PROBLEMS if report.failed or below else OK)
