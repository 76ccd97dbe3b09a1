"""A rule's header clause written after its steps (`reentry` after `send`) is accepted as
docs/language.md says: the same rule as with it in the header, no warning even under
`--strict`, moved into the header by `clm fmt`."""

from __future__ import annotations

from pathlib import Path

import clmlang
from clmlang.language.formatter import format_text

from .conftest import clm

HEAD = 'program "x" currency USD\nchannel email cost 0.1\nstage all when purchases >= 0\n\n'
LATE = 'rule r {\n  on purchase\n  send email "a"\n  reentry once per 30 days\n  priority 3\n}\n'
EARLY = 'rule r {\n  on purchase\n  priority 3\n  reentry once per 30 days\n  send email "a"\n}\n'


def test_a_header_clause_after_the_steps_is_the_same_rule(tmp_path: Path):
    late, early = clmlang.loads(HEAD + LATE), clmlang.loads(HEAD + EARLY)
    assert late.rules[0].reentry.kind == "once" and late.rules[0].reentry.period_days == 30
    assert late.rules[0].priority == 3
    assert late.semantics() == early.semantics()  # layout aside
    path = tmp_path / "late.clm"
    path.write_text(HEAD + LATE)
    done = clm("check", "--strict", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no problems" in done.stdout


def test_fmt_moves_it_into_the_header():
    assert format_text(HEAD + LATE) == HEAD + EARLY
