"""Modules (files without `program`) checked alone: everything but the names their users
declare; and once more through a spec that uses them, reported once, at the module's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

import clmlang

from .conftest import ROOT, clm

SUMMARY = "module, names checked through the specs that use it"

CASES = [
    # (the module, the code, the message, line, column, what the caret is under)
    (
        'rule r {\n  on purchase\n  holdout 150%\n  send email "hi"\n}\n',
        "CLM111",
        "a holdout must be between 0% and 100%, not 150%",
        3, 11, "150%",
    ),
    (
        "stage new when purchases == 0\nstage new when purchases == 1\n",
        "CLM101",
        "stage `new` is declared twice",
        2, 7, "new",
    ),
    ("cap 3 per 0 days\n", "CLM111", "a cap's window must be longer than zero", 1, 11, "0 days"),
    (
        "segment middle when purchases in 7..3\n",
        "CLM111",
        "the range 7..3 is empty",
        1, 34, "7..3",
    ),
    (
        "product cream role lotion price 10\n",
        "CLM100",
        "unknown role `lotion`",
        1, 20, "lotion",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "code", "message", "line", "column", "under"), CASES)
def test_a_module_alone_is_checked(tmp_path: Path, text, code, message, line, column, under):
    """`clm check lib.clm` reports the problem at the module's file:line:col with a caret."""
    (tmp_path / "lib.clm").write_text(text)
    run = clm("check", "lib.clm", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"lib.clm:{line}:{column}: error[{code}]: {message}\n" in run.stdout
    source_line = text.splitlines()[line - 1]
    caret = " " * (column - 1) + "^" * len(under)
    assert f"{line} | {source_line}\n" in run.stdout
    assert run.stdout.split(f"{line} | {source_line}\n", 1)[1].splitlines()[0].endswith(caret)
    assert f"lib.clm: {SUMMARY}\n" in run.stdout


def test_names_left_to_the_users_are_not_reported(tmp_path: Path):
    """A module that names stages, channels, products, lines, attributes, segments, rules
    and RFM scores only its users declare has no problem alone; the summary says where they are
    checked."""
    module = tmp_path / "lib.clm"
    module.write_text(
        "cap tag promo 2 per 30 days\n"
        "cap sms 1 per 7 days\n"
        "product addon role upsell price 5 attach to tyre_change\n"
        "segment best when rfm.r >= 4\n"  # the users' `rfm` block
        "rule nudge {\n"
        "  in stage loyal\n"
        "  when vip and days_since(wedding) < 30 days and owns(facial)\n"
        '  send sms "hi" offer line cosmetology\n'
        "  continue with other_rule\n"
        "}\n"
    )
    analysis = clmlang.analyse(module, allow_module=True)
    assert analysis.module and analysis.diagnostics == ()
    run = clm("check", "--strict", "lib.clm", cwd=tmp_path)
    assert run.returncode == 0, run.stdout
    assert run.stdout == f"lib.clm: {SUMMARY}\n1 file checked: no problems.\n"


def test_alone_and_through_a_spec_a_problem_is_reported_once(tmp_path: Path):
    """The module's problem is found alone and again through the spec that uses it (which
    calls it `../common/lib.clm`): reported once, at the module's line; a name the spec
    lacks is reported through the spec, at the module's line too."""
    common = tmp_path / "common"
    common.mkdir()
    (common / "lib.clm").write_text("cap 3 per 0 days\nrule r {\n  in stage loyal\n}\n")
    (tmp_path / "spec.clm").write_text(
        'use "common/lib.clm"\nprogram "x"\nstage all when purchases >= 0\n'
    )
    alone = clm("check", "lib.clm", cwd=common)
    assert "lib.clm:1:11: error[CLM111]" in alone.stdout and "loyal" not in alone.stdout
    both = clm("check", "../spec.clm", "lib.clm", cwd=common)
    assert both.returncode == 1
    assert both.stdout.count("error[CLM111]: a cap's window must be longer than zero") == 1
    assert "../common/lib.clm:1:11: error[CLM111]" in both.stdout  # as the spec found it
    assert "../common/lib.clm:3:12: error[CLM100]: undefined stage `loyal`" in both.stdout
    assert both.stdout.endswith(f"lib.clm: {SUMMARY}\n2 files checked: 2 error(s), 0 warning(s).\n")


def test_the_shipped_specs_and_their_modules_check_clean():
    """specs/ with --strict: no problems; specs/common/channels.clm is named as a module."""
    run = clm("check", "--strict", "specs", cwd=ROOT)
    assert run.returncode == 0, run.stdout
    assert f"specs/common/channels.clm: {SUMMARY}\n" in run.stdout
    assert run.stdout.endswith("files checked: no problems.\n")
