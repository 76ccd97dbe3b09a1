"""Open a report in headless Chromium, as a manager would get it: the DOM after its scripts
ran, and a screenshot.

Debian's chromium is installed by .ci/run when missing; tests that need it are skipped with a
reason where it is not there (`needs_chromium`). The flags are the ones this machine's closed
network needs (no background networking, no component updates) and a fresh profile per call.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",  # let the load handlers and Plotly finish
]


@dataclass(frozen=True)
class Rendered:
    dom: str  # the document after its scripts ran
    stderr: str  # Chromium's console, with --enable-logging

    def attribute(self, name: str) -> int | None:
        """An integer attribute the page's script set on <html> (data-charts, ...)."""
        found = re.search(rf'{name}="(\d+)"', self.dom)
        return int(found.group(1)) if found else None

    def text(self) -> str:
        """The visible text: the DOM without scripts, styles and tags."""
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", self.dom, flags=re.S | re.I)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _run(extra: list[str], page: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="clm-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
        )


def render(page: Path) -> Rendered:
    """The page's DOM once loaded, and the console (uncaught errors show there)."""
    done = _run(["--enable-logging=stderr", "--v=0", "--dump-dom"], page)
    return Rendered(dom=done.stdout, stderr=done.stderr)


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 6000) -> Path:
    """A PNG of the page, `width` x `height` pixels (tall enough for the whole report)."""
    _run([f"--screenshot={png.resolve()}", f"--window-size={width},{height}"], page)
    assert png.exists() and png.stat().st_size > 0, f"no screenshot of {page}"
    return png
