"""Shared test helpers: the repository root and `clm` run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clm(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m clmlang ARGS` as a user would, in the caller's environment (so
    PYTHONDONTWRITEBYTECODE and the like are kept) with colour off and wide, fixed columns;
    `env` adds to or overrides that environment."""
    return subprocess.run(
        [sys.executable, "-m", "clmlang", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        input=input,
        timeout=timeout,
    )


def clm_here(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`clm ARGS` run in this process (typer's runner: the same commands, no new interpreter
    to start), for tests that run a command many times over; `clm` is how a user runs it."""
    from typer.testing import CliRunner

    from clmlang.cli import app

    result = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(
        app, list(args), prog_name="clm", input=input
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["clm", *args], result.exit_code, result.stdout, result.stderr
    )
