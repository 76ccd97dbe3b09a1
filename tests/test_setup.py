"""The set-up a user gets: the lock agrees with pyproject.toml and is what is installed, the
pytest plugin costs nothing where it is not used, and a missing extra is named."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

LOCK = ROOT / "uv.lock"


def _uv() -> str | None:
    pinned = ROOT / ".uv" / "bin" / "uv"  # the one `make` installs
    return str(pinned) if pinned.exists() else shutil.which("uv")


@pytest.mark.skipif(_uv() is None, reason="uv is not installed (make installs it into .uv/)")
def test_the_lock_agrees_with_pyproject():
    """`uv lock --check` fails when a dependency in pyproject.toml is not what uv.lock resolved."""
    done = subprocess.run(
        [_uv(), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_what_is_installed_is_what_the_lock_pins():
    """Every locked package that is installed has a locked version: the tests run on what a
    fresh clone gets."""
    locked: dict[str, set[str]] = {}
    for package in tomllib.loads(LOCK.read_text())["package"]:
        if "version" in package:
            locked.setdefault(package["name"], set()).add(package["version"])
    assert {"numpy", "pandas", "scipy", "hypothesis", "lark", "simpy"} <= set(locked)
    wrong = {}
    for name, versions in locked.items():
        if name == "clmlang":
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a package of another platform or Python
        if installed not in versions:
            wrong[name] = (installed, sorted(versions))
    assert not wrong, f"installed (version, locked versions): {wrong}; run `make` to sync"


def _run_blocked(blocked: list[str], code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter where importing any of `blocked` fails, as it does
    where that package is not installed."""
    script = tmp_path / "blocked.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys

            class Block:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in {blocked!r}:
                        raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

            sys.meta_path.insert(0, Block())
            """
        )
        + textwrap.dedent(code)
    )
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )


def test_the_pytest_plugin_loads_nothing_until_a_policy_test_is_collected(tmp_path: Path):
    """pytest loads clmlang's plugin in every run: it must work where clmlang's heavy
    dependencies cannot be imported, and a plain test suite must not pay for them."""
    (tmp_path / "test_plain.py").write_text("def test_ok():\n    assert True\n")
    done = _run_blocked(
        ["numpy", "pandas", "hypothesis", "lark", "pydantic"],
        """
        import pytest
        args = [".", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
        sys.exit(pytest.main(args))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


MISSING = [
    (["pygls"], ["lsp"], "lsp"),
    (["pyarrow"], ["calibrate", "history.parquet", "--calibration-end", "1997-09-30"], "parquet"),
    (
        ["sqlalchemy"],
        ["calibrate", "sqlite:///h.db", "--query", "select 1", "--calibration-end", "1997-09-30"],
        "sql",
    ),
    (
        ["distributed"],
        [
            "run",
            str(ROOT / "simulations" / "clinic_rhythm.toml"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
        "dask",
    ),
]


@pytest.mark.parametrize(("blocked", "args", "extra"), MISSING, ids=[m[2] for m in MISSING])
def test_a_missing_extra_is_named(blocked, args, extra, tmp_path: Path):
    """Without an optional package, the command says which extra installs it: no traceback."""
    (tmp_path / "history.parquet").write_bytes(b"PAR1")
    done = _run_blocked(
        blocked,
        f"""
        sys.argv = ["clm", *{args!r}]
        from clmlang.cli import main
        main()
        """,
        tmp_path,
    )
    assert f"pip install 'clmlang[{extra}]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert done.returncode == 2  # what is missing is the environment's, as a usage error
