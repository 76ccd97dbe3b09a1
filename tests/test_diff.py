"""`clm diff`: a structural diff keyed by names, --git, formats, exit codes, KPI impact."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import clmlang
from clmlang.language.formatter import format_text
from clmlang.testing.changes import diff_policies

from .conftest import clm

BASE = """program "Shop" currency USD
channel email cost 0.1
channel sms cost 1
cap sms 1 per 7 days
product tee role profit price 20 cost 8 every 30 days
stage new when purchases <= 1
stage regular when purchases >= 2
rule thanks { on purchase send email "Thanks" }
rule nudge { in stage new when days_since_purchase >= 30 days send sms "Back?" offer tee discount 10% }
"""


def test_changes_keyed_by_name():
    old = clmlang.loads(BASE)
    new = clmlang.loads(
        BASE.replace("cap sms 1 per 7 days", "cap sms 2 per 7 days")
        .replace(">= 30 days", ">= 45 days")
        .replace('rule thanks { on purchase send email "Thanks" }\n', "")
        + 'rule welcome { on first purchase send email "Hi" }\n'
    )
    found = {(c.op, c.kind, c.name): c for c in diff_policies(old, new)}
    assert set(found) == {
        ("~", "cap", "sms"),
        ("~", "rule", "nudge"),
        ("+", "rule", "welcome"),
        ("-", "rule", "thanks"),
    }
    (limit,) = found[("~", "cap", "sms")].fields
    assert (limit.path, limit.old, limit.new) == ("limit", 1, 2)
    (condition,) = found[("~", "rule", "nudge")].fields
    assert (condition.old, condition.new) == (
        "days_since_purchase >= 30 days",
        "days_since_purchase >= 45 days",
    )


UNITS = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 line wear every 30 days
attribute wedding date
attribute budget money
stage new when purchases <= 1
stage regular when purchases >= 2
rule a { when days_since_purchase of line wear >= 6 months and p_alive < 20% send email "a" }
rule b { when days_since_first_purchase in 2..3 years and budget >= 500 send email "b" }
rule c { when stage is regular and not owns(tee) and days_since(wedding) > 1 day send email "c" }
rule d { when messages(email, 14 days) == 0 and days_since_purchase not in 7..10 days send email "d" }
"""


def test_conditions_are_shown_as_the_spec_writes_them():
    """Each changed condition in the words and units of the spec (a duration in the unit it
    was written in when that is not whole days), not as column keys and bare numbers."""
    old = clmlang.loads(UNITS)
    changed = (
        UNITS.replace("6 months", "9 months")
        .replace("2..3 years", "1..3 years")
        .replace("is regular", "is new")
        .replace("7..10 days", "7..12 days")
    )
    found = {c.name: c.fields for c in diff_policies(old, clmlang.loads(changed))}
    shown = {
        name: [(f.old, f.new) for f in fields if f.path == "condition"]
        for name, fields in found.items()
    }
    assert shown == {
        "a": [
            (
                "days_since_purchase of line wear >= 6 months and p_alive < 20%",
                "days_since_purchase of line wear >= 9 months and p_alive < 20%",
            )
        ],
        "b": [
            (
                "days_since_first_purchase in 2..3 years and budget >= 500",
                "days_since_first_purchase in 1..3 years and budget >= 500",
            )
        ],
        "c": [
            (
                "stage is regular and not owns(tee) and days_since(wedding) > 1 day",
                "stage is new and not owns(tee) and days_since(wedding) > 1 day",
            )
        ],
        "d": [
            (
                "messages(email, 14 days) == 0 and days_since_purchase not in 7..10 days",
                "messages(email, 14 days) == 0 and days_since_purchase not in 7..12 days",
            )
        ],
    }


def test_layout_and_order_are_not_changes():
    old = clmlang.loads(BASE)
    moved = (
        BASE.replace('rule thanks { on purchase send email "Thanks" }\n', "")
        + '# a comment\nrule thanks { on purchase send email "Thanks" }\n'
    )
    new = clmlang.loads(format_text(moved))
    assert diff_policies(old, new) == []


def test_cli_exit_codes_and_formats(tmp_path: Path):
    old, new = tmp_path / "old.clm", tmp_path / "new.clm"
    old.write_text(BASE)
    new.write_text(BASE.replace("cost 0.1", "cost 0.2"))
    same = clm("diff", str(old), str(old))
    assert same.returncode == 0 and "no changes" in same.stdout
    changed = clm("diff", str(old), str(new))
    assert changed.returncode == 2
    assert "~ channel email: cost: 0.1 → 0.2" in changed.stdout
    as_json = json.loads(clm("diff", str(old), str(new), "--format", "json").stdout)
    assert as_json["changes"][0]["change"] == "changed" and as_json["impact"] is None
    markdown = clm("diff", str(old), str(new), "--format", "markdown").stdout
    assert "| `~` | channel | `email` | cost: 0.1 → 0.2 |" in markdown
    broken = tmp_path / "broken.clm"
    broken.write_text(BASE.replace("stage regular", "stage regular x"))
    error = clm("diff", str(old), str(broken))
    assert error.returncode == 1 and "error[" in error.stderr
    assert clm("diff", str(old)).returncode == 1  # a usage error is an error, not a change


def test_git_revision(tmp_path: Path):
    spec = tmp_path / "shop.clm"
    spec.write_text(BASE)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    spec.write_text(
        BASE.replace("holdout", "").replace("cap sms 1 per 7 days", "cap sms 3 per 7 days")
    )
    done = clm("diff", str(spec), "--git", "HEAD")
    assert done.returncode == 2, done.stderr
    assert "~ cap sms: limit: 1 → 3" in done.stdout
    assert clm("diff", str(spec), "--git", "no-such-rev").returncode == 1


def test_git_revision_of_a_spec_saved_with_a_byte_order_mark(tmp_path: Path):
    """A spec saved with a UTF-8 byte order mark (Windows Notepad) reads as without it, at a
    git revision too: its old text was CLM001 'unexpected character \\ufeff' at 1:1."""
    spec = tmp_path / "shop.clm"
    spec.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    unchanged = clm("diff", str(spec), "--git", "HEAD")
    assert unchanged.returncode == 0, unchanged.stderr
    spec.write_bytes(b"\xef\xbb\xbf" + BASE.replace("cap sms 1 per 7", "cap sms 3 per 7").encode())
    changed = clm("diff", str(spec), "--git", "HEAD")
    assert changed.returncode == 2, changed.stderr
    assert "~ cap sms: limit: 1 → 3" in changed.stdout


def test_git_outside_a_repository_says_so_without_git_internals(tmp_path: Path):
    """The message quoted git's failed command (`Command '['git', 'rev-parse', ...]' returned
    non-zero exit status 128`); now what is wrong and the other way to diff, exit 1."""
    spec = tmp_path / "shop.clm"
    spec.write_text(BASE)
    result = clm("diff", str(spec), "--git", "HEAD", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr == (
        f"error: --git: {spec} is not in a git repository\n"
        "  hint: compare two files instead: clm diff OLD.clm NEW.clm\n"
    )


def test_kpi_impact_values_are_written_as_a_reader_writes_them():
    """Revenue of 178,972 was shown as `1.79e+05` in the text and Markdown tables."""
    import types

    import pandas as pd

    from clmlang.testing.diffview import render_changes

    row = {"significant": False, "pairs": 2, "diff_pct_low": float("nan")}
    kpis = pd.DataFrame(
        [
            {**row, "kpi": "revenue", "old": 178972.4, "new": 191000.0, "diff": 12027.6},
            {**row, "kpi": "survival_rate", "old": 0.61384, "new": 0.6141, "diff": 0.00026},
        ]
    )
    kpis["diff_pct"] = kpis["diff_pct_high"] = float("nan")
    impact = types.SimpleNamespace(
        replications=2, customers=3000, days=120, kpis=kpis, treatment=[]
    )
    change = diff_policies(clmlang.loads(BASE), clmlang.loads(BASE.replace("cost 0.1", "cost 0.2")))
    for form in ("text", "markdown"):
        shown = render_changes(change, impact, ("a", "b"), form)
        assert "178,972" in shown and "191,000" in shown and "+12,028" in shown, shown
        assert "0.6138" in shown and "+0.00026" in shown
        assert "e+0" not in shown


def test_kpi_values_just_below_ten_thousand_are_not_written_with_an_exponent():
    """9,999.5 up to 10,000 round to 10,000 at four significant digits, which `g` writes
    as `1e+04`: they are written whole, as 10,000 and up are."""
    from clmlang.testing.diffview import _number

    assert _number(9999.4) == "9,999"
    assert _number(9999.6) == "10,000" and _number(-9999.99) == "-10,000"
    assert _number(9999.7, "+") == "+10,000"
    assert _number(999.95) == "1,000"  # (four significant digits round up without one)


def test_simulated_impact_with_treatment_examples(tmp_path: Path):
    old, new = tmp_path / "old.clm", tmp_path / "new.clm"
    old.write_text(BASE)
    new.write_text(BASE.replace(">= 30 days", ">= 14 days"))
    done = clm(
        "diff",
        str(old),
        str(new),
        "--simulate",
        "--customers",
        "1500",
        "--days",
        "90",
        "--replications",
        "3",
        "--format",
        "json",
    )
    assert done.returncode == 2, done.stderr
    impact = json.loads(done.stdout)["impact"]
    kpis = {row["kpi"]: row for row in impact["kpis"]}
    assert kpis["messages"]["diff"] > 0 and kpis["messages"]["significant"]
    treatment = impact["treatment"]
    assert treatment and treatment[0]["description"] == "now get nudge (sms)"
    assert treatment[0]["example"] >= 0 and treatment[0]["first_day"] >= 14
