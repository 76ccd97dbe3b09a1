"""Long history commands show progress: `clm calibrate` and `clm forecast` report their steps
and simulated days, on a terminal only."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import clmlang

from .conftest import ROOT

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.csv"
SPEC = """program "P" currency USD
channel email cost 0.1
stage s when purchases >= 0
rule w {
  when days_since_purchase >= 30 days
  send email "Hi"
}
"""


def test_forecast_reports_steps_and_every_simulated_day():
    """The calibration's first step, then the simulated days counted up to their total:
    2 replications side by side, the policy and the no-marketing control, 30 days each."""
    seen: list[tuple[str, int, int]] = []
    spec = clmlang.loads(SPEC)
    clmlang.forecast_history(
        CDNOW, "1997-09-30", "1997-10-30", spec, model="bgnbd", replications=2,
        progress=lambda what, done, total: seen.append((what, done, total)),
    )  # fmt: skip
    assert seen[0] == ("fitting the buying models", 0, 2)
    days = [(done, total) for what, done, total in seen if what == "simulating"]
    assert [d for d, _ in days] == list(range(1, 2 * 30 + 1))  # one block, two runs
    assert {t for _, t in days} == {60}


def _run_on_a_terminal(args: list[str]) -> str:
    """Run the CLI with stderr on a pseudo-terminal; what the terminal received."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    done = subprocess.run(
        [sys.executable, "-m", "clmlang", *args],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=env,
        timeout=300,
        check=False,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.returncode == 0
    return b"".join(chunks).decode(errors="replace")


def test_calibrate_shows_its_steps_on_a_terminal_and_nothing_in_a_pipe(tmp_path):
    args = ["calibrate", str(CDNOW), "--calibration-end", "1997-09-30", "--model", "bgnbd"]
    assert "fitting the buying models" in _run_on_a_terminal(args)
    piped = subprocess.run(
        [sys.executable, "-m", "clmlang", *args], capture_output=True, text=True, check=False
    )
    assert piped.returncode == 0 and piped.stderr == ""
