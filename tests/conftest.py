"""Shared test helpers: the repository root and `clm` run as a user would (in this process, or
as a real subprocess)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clm(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `clm ARGS` as a user would, with colour off and wide, fixed columns, in `cwd` (the
    repository root by default); `env` adds to or overrides the environment.

    The command runs in this process (`clm_here`), under the same safety net as the `clm`
    entry point: a new interpreter per call would cost 1-2 s of CPU for imports, paid about
    150 times over by the suite. `clm_process` runs a real `python -m clmlang` process, for
    the tests of the entry point itself (tests/test_entry_point.py); `CLM_TEST_PROCESS=1`
    runs every call that way."""
    if os.environ.get("CLM_TEST_PROCESS") == "1":
        return clm_process(*args, cwd=cwd, env=env, input=input, timeout=timeout)
    with contextlib.chdir(cwd or ROOT):
        return clm_here(*map(str, args), input=input, env=env)


def clm_process(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m clmlang ARGS` as a real process, in the caller's environment (so
    PYTHONDONTWRITEBYTECODE and the like are kept) with colour off and wide, fixed columns."""
    return subprocess.run(
        [sys.executable, "-m", "clmlang", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        input=input,
        timeout=timeout,
    )


def clm_here(
    *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`clm ARGS` run in this process (typer's runner: the same commands, no new interpreter
    to start). As in `clmlang.cli.main`, a missing optional extra is a usage error; any other
    exception is raised, so a test shows the traceback a user would have been spared."""
    from typer.testing import CliRunner

    from clmlang.cli import app
    from clmlang.core.extras import MissingExtra

    result = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", **(env or {})}).invoke(
        app, list(args), prog_name="clm", input=input
    )
    if isinstance(result.exception, MissingExtra):
        return subprocess.CompletedProcess(
            ["clm", *args], 2, result.stdout, f"error: {result.exception}\n"
        )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["clm", *args], result.exit_code, result.stdout, result.stderr
    )


def cdnow_days():
    """The CDNOW sample (tests/data) as the forecasting reads it: one row per customer and day."""
    import pandas as pd

    from clmlang.forecasting.history import load_history, merge_days

    frame = load_history(ROOT / "tests" / "data" / "cdnow_sample.csv")
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame["customer_id"] = frame["customer_id"].astype(str)
    return merge_days(frame)


def log_uniform(low: float, high: float):
    """A hypothesis strategy: floats spread evenly in log between `low` and `high`."""
    import numpy as np
    from hypothesis import strategies as st

    return st.floats(np.log(low), np.log(high)).map(np.exp)


def check_firing_days(run, r: int, expected) -> int:
    """Assert that each customer's days rule `r` fired, from the run's logs, are
    `expected(purchase days)` (their purchase days: the floor of the times, sorted); the
    number of firings."""
    import numpy as np

    purchases = run.recorder.purchases.arrays()
    bought: dict[int, list[int]] = {}
    for c, t in zip(purchases["customer"].tolist(), purchases["time"].tolist(), strict=True):
        bought.setdefault(c, []).append(int(np.floor(t)))
    events = run.recorder.rule_events.arrays()
    arms = [run.arms[a][0] for a in events["arm"].tolist()]
    fired: dict[int, list[int]] = {}
    for a, c, d in zip(arms, events["customer"].tolist(), events["day"].tolist(), strict=True):
        if a == r:
            fired.setdefault(c, []).append(d)
    total = 0
    for c in range(run.state.n):
        days = expected(sorted(bought.get(c, [])))
        assert fired.get(c, []) == days, c
        total += len(days)
    return total
