"""A throw-away PostgreSQL server for the tests: initdb in a temporary folder, listening on a
Unix socket only, stopped at the end. Skips when PostgreSQL is not installed (.ci/run
installs it). As root, the server runs as the `postgres` user, as PostgreSQL requires."""

from __future__ import annotations

import getpass
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    return found[-1] if found and found[-1] else None


def available() -> bool:
    return _bin("initdb") is not None and _bin("pg_ctl") is not None


@contextmanager
def server(port: int = 54329) -> Iterator[str]:
    """Start a server; yield its SQLAlchemy URL (database `postgres`)."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    folder = Path(tempfile.mkdtemp(prefix="clm-pg-"))
    data, sockets = folder / "data", folder / "run"
    sockets.mkdir()
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else getpass.getuser()
    if as_root:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")

    def run(*args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if as_root else list(args)
        subprocess.run(command, check=True, capture_output=True, text=True)

    run(initdb, "-D", str(data), "-U", user, "--auth=trust", "--no-sync")
    options = f"-p {port} -k {sockets} -c listen_addresses=''"
    run(pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(folder / "log"), "start")
    try:
        yield f"postgresql+psycopg://{user}@/postgres?host={sockets}&port={port}"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
