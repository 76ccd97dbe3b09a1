"""`clm fmt`: canonical layout, comments kept, idempotent and sound on every example."""

from __future__ import annotations

from pathlib import Path

import pytest

from clmlang.core.diagnostics import ClmError
from clmlang.core.source import Source
from clmlang.language.formatter import format_source, format_text
from clmlang.language.parser import parse_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs").rglob("*.clm")) + sorted((ROOT / "docs").rglob("*.clm"))

MESSY = """# top
program   "x"   # trailing program
channel sms cost 3 # sms
# before rule
rule r { holdout 10%   # hold
  # before send
  send sms "a" # a
  on failure { # open
     wait 2 days # w
     # inner
     send sms "b"
     # before close
  } # close
  in stage s  # stage
  when (purchases > 1 or purchases < 0) and not (a or b) and -(-x) - (y - z) > 1 * (2 + 3)
  success purchase within 3 days
  # end of rule
}
stage s when purchases in 90..179 days or purchases in 1 days..3
product p
  role profit  # role comment
  price 3
# end of file
"""

CANONICAL = """# top
program "x"  # trailing program
channel sms cost 3  # sms

# before rule
rule r {
  in stage s  # stage
  when (purchases > 1 or purchases < 0) and not (a or b) and --x - (y - z) > 1 * (2 + 3)
  holdout 10%  # hold
  # before send
  send sms "a"  # a
  success purchase within 3 days
  on failure {  # open
    wait 2 days  # w
    # inner
    send sms "b"
    # before close
  }  # close
  # end of rule
}

stage s when purchases in 90..179 days or purchases in 1 days..3
product p role profit price 3  # role comment
# end of file
"""


def _sound(before: str, after: str) -> None:
    a, b = parse_text(before).file, parse_text(after).file
    assert a.items == b.items
    assert sorted(c.text for c in a.comments) == sorted(c.text for c in b.comments)


def test_messy_input_gets_the_canonical_layout():
    """Clauses reordered, spacing and indentation fixed, every comment kept in its place."""
    assert format_text(MESSY) == CANONICAL


def test_canonical_text_is_left_alone():
    """Formatting the canonical text changes nothing."""
    assert format_text(CANONICAL) == CANONICAL


def test_messy_input_is_sound():
    """The formatted text parses to the same tree with the same comments."""
    _sound(MESSY, format_text(MESSY))


def test_one_line_rule_is_expanded():
    """A rule written on one line gets one clause per line; a one-step branch stays inline."""
    text = 'rule r { on purchase send sms "hi" success purchase within 7 days on failure stop }'
    assert format_text(text) == (
        "rule r {\n"
        "  on purchase\n"
        '  send sms "hi"\n'
        "  success purchase within 7 days\n"
        "  on failure stop\n"
        "}\n"
    )


def test_blank_lines_are_kept_once():
    """Several blank lines become one; none are invented between simple declarations."""
    text = "channel a cost 1\n\n\n\nchannel b cost 2\nchannel c cost 3\n"
    assert format_text(text) == "channel a cost 1\n\nchannel b cost 2\nchannel c cost 3\n"


def test_strings_are_re_escaped():
    """Quotes and backslashes inside texts survive formatting."""
    text = r'rule r { send sms "say \"hi\" \\ now" }'
    out = format_text(text)
    assert r'send sms "say \"hi\" \\ now"' in out
    _sound(text, out)


def test_needed_parentheses_stay_and_others_go():
    """Parentheses that change meaning stay; redundant ones go."""
    out = format_text("segment s when ((a > 1)) and (b or c) and (x - (y - z)) > ((1))")
    assert out == "segment s when a > 1 and (b or c) and x - (y - z) > 1\n"


def test_broken_file_is_refused():
    """A file that does not parse is not formatted; the diagnostics say why."""
    result = format_source(Source("bad.clm", "stage s when\n"))
    assert result.text is None and result.diagnostics[0].code == "CLM001"
    with pytest.raises(ClmError):
        format_text("stage s when\n")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_are_formatted_and_sound(path: Path):
    """Every example spec is already in canonical layout, and formatting it is sound."""
    text = path.read_text()
    out = format_text(text, str(path))
    _sound(text, out)
    assert format_text(out) == out
    assert out == text, f"{path} is not in canonical layout: run `clm fmt {path}`"


def test_activity_window_is_printed_after_when():
    """`active` goes after `when` and before `priority`, bounds in the order from, until."""
    text = (
        "rule r { priority 2 active  from 2026-01-01   until 2026-03-31 when purchases > 1 "
        'send sms "hi" }\nrule s { active until 1997-09-30 send sms "a" }\n'
        'rule t { active from 1997-10-01 send sms "b" }\n'
    )
    formatted = format_text(text)
    assert formatted == (
        "rule r {\n"
        "  when purchases > 1\n"
        "  active from 2026-01-01 until 2026-03-31\n"
        "  priority 2\n"
        '  send sms "hi"\n'
        "}\n\n"
        "rule s {\n"
        "  active until 1997-09-30\n"
        '  send sms "a"\n'
        "}\n\n"
        "rule t {\n"
        "  active from 1997-10-01\n"
        '  send sms "b"\n'
        "}\n"
    )
    _sound(text, formatted)
    assert format_text(formatted) == formatted
