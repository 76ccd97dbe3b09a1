"""A pytest plugin: `pytest` collects `*.test.toml` policy tests like any other test.

Installed with clmlang (entry point `pytest11`). Each example, invariant and forecast of a
test file becomes one pytest item; `pytest specs/` runs them next to the code's own tests.

pytest loads this plugin in every environment where clmlang is installed, for every run, so it
imports nothing of clmlang's at load time: the policy-test runner (with numpy, pandas and
hypothesis behind it) is imported only when a `*.test.toml` file is collected.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collect_file(parent: pytest.Collector, file_path: Path):
    if file_path.name.endswith(".test.toml"):
        return PolicyTestFile.from_parent(parent, path=file_path)
    return None


class PolicyTestFile(pytest.File):
    def collect(self):
        from .policytest import run_tests

        report = run_tests([self.path])
        for outcome in report.outcomes:
            yield PolicyTestItem.from_parent(
                self, name=f"{outcome.kind}: {outcome.name}", outcome=outcome
            )


class PolicyTestItem(pytest.Item):
    def __init__(self, *, outcome, **kwargs):
        super().__init__(**kwargs)
        self.outcome = outcome

    def runtest(self) -> None:
        if not self.outcome.passed:
            raise PolicyTestFailure(self.outcome)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, PolicyTestFailure):
            o = excinfo.value.outcome
            return o.message + (f"\nrule: {o.where}" if o.where else "")
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, self.name


class PolicyTestFailure(Exception):
    def __init__(self, outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome
