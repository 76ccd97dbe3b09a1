"""Paths a file names relative to itself (a scenario's spec, a market include, a test file's
spec) are shown without `..` detours: `specs/x.clm`, not `simulations/../specs/x.clm`."""

from __future__ import annotations

from pathlib import Path

from clmlang.core.files import beside

from .conftest import clm

BROKEN = 'program "p"\nchannel sms cost 1\nstage all when purchases >= 0\nrule r { send email "hi" }\n'  # line 4: email is undefined


def test_beside_folds_dot_dot_into_the_path():
    assert beside(Path("simulations/s.toml"), Path("../specs/x.clm")) == Path("specs/x.clm")
    assert beside(Path("a/b/s.toml"), Path("./c/../x.clm")) == Path("a/b/x.clm")
    assert beside(Path("s.toml"), Path("../x.clm")) == Path("../x.clm")  # nothing to fold
    assert beside(Path("/r/sim/s.toml"), Path("../x.clm")) == Path("/r/x.clm")


def test_beside_keeps_dot_dot_after_a_symbolic_link(tmp_path: Path):
    """`link/..` is the parent of the link's target, not the folder holding the link."""
    (tmp_path / "deep" / "real").mkdir(parents=True)
    (tmp_path / "deep" / "x.clm").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "deep" / "real")
    found = beside(tmp_path / "link" / "s.toml", Path("../x.clm"))
    assert found == tmp_path / "link" / ".." / "x.clm"
    assert found.resolve() == (tmp_path / "deep" / "x.clm").resolve()


def test_a_scenarios_spec_is_shown_from_the_current_folder(tmp_path: Path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "simulations").mkdir()
    (tmp_path / "specs" / "x.clm").write_text(BROKEN)
    (tmp_path / "simulations" / "s.toml").write_text('[simulation]\nspec = "../specs/x.clm"\n')
    run = clm("simulate", "--scenario", "simulations/s.toml", "--days", "5", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "\nspecs/x.clm:4:15: error[CLM100]" in run.stderr, run.stderr
    assert "simulations/../" not in run.stderr


def test_a_test_files_spec_is_shown_from_the_current_folder(tmp_path: Path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "specs" / "x.clm").write_text(BROKEN)
    (tmp_path / "tests" / "x.test.toml").write_text('spec = "../specs/x.clm"\n')
    run = clm("test", "tests/x.test.toml", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL tests/x.test.toml spec: specs/x.clm " in run.stdout, run.stdout
    assert "tests/../" not in run.stdout + run.stderr
