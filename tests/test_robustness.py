"""Bad input of any kind gives diagnostics, never a traceback or a hang."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clmlang.language.loader import load_path
from clmlang.language.parser import MAX_NESTING, parse_text

VALID = """program "Shop" currency USD
channel email cost 0.1
cap 3 per 7 days
product tee role profit price 20 cost 8 line apparel every 90 days
stage new when purchases <= 1
stage repeat when purchases >= 2 goal return within 60 days
rule thanks {
  on purchase of tee
  when (purchases >= 1 and not owns(line apparel)) or total_spent > 100
  send email "Thanks" offer tee discount 10%
  success purchase within 14 days
  on failure { wait 3 days send email "Still thinking?" }
}
"""

settings.register_profile("ci", derandomize=True, max_examples=300, deadline=None)
settings.load_profile("ci")


def _assert_only_diagnostics(text: str) -> None:
    result = parse_text(text, "fuzz.clm")
    for d in result.diagnostics:
        assert d.code.startswith("CLM")
        assert d.span is None or 0 <= d.span.start <= len(text)


def test_valid_base_parses():
    """The spec the mutations start from is itself valid."""
    assert parse_text(VALID).diagnostics == ()


@given(st.text(max_size=400))
def test_arbitrary_text(text):
    """Any text at all parses to diagnostics, never an exception."""
    _assert_only_diagnostics(text)


@given(st.text(alphabet=list('{}()"#.,=<>!+-*/%\n 0123456789abcdeinoprstuwy_'), max_size=300))
def test_arbitrary_punctuation_and_keywords(text):
    """Text dense in the grammar's own punctuation and letters never breaks the parser."""
    _assert_only_diagnostics(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_of_valid_spec(data):
    """Deleting, duplicating or swapping pieces of a valid spec gives only diagnostics."""
    tokens = VALID.replace("\n", " \n ").split(" ")
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(tokens) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "swap", "junk"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = data.draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens.insert(i, data.draw(st.sampled_from(["{", "}", '"', "..", "%", "of", "rule"])))
        if not tokens:
            break
    _assert_only_diagnostics(" ".join(tokens))


def test_deep_parentheses_are_refused():
    """10,000 nested parentheses give one CLM004, not a RecursionError."""
    text = 'program "x"\nstage s when ' + "(" * 10_000 + "purchases > 1" + ")" * 10_000
    result = parse_text(text)
    assert [d.code for d in result.diagnostics] == ["CLM004"]
    assert result.diagnostics[0].span.column > MAX_NESTING


def test_deep_unary_minus_is_refused():
    """A long chain of unary minus gives CLM004 rather than a crash."""
    text = "stage s when purchases > " + "-" * 20_000 + "1"
    codes = [d.code for d in parse_text(text).diagnostics]
    assert codes == ["CLM004"]


def test_nesting_at_the_limit_parses():
    """Nesting up to the limit is fine: the guard does not refuse reasonable specs."""
    depth = MAX_NESTING - 1
    text = "stage s when " + "(" * depth + "purchases > 1" + ")" * depth
    assert parse_text(text).diagnostics == ()


def test_one_megabyte_line():
    """A 1 MB line of conditions parses; a 1 MB garbage line gives a short diagnostic."""
    long_condition = "stage s when " + " or ".join(["purchases > 1"] * 70_000)
    assert len(long_condition) > 1_000_000
    assert parse_text(long_condition).diagnostics == ()
    garbage = "stage s when purchases > 1 " + "@" * 1_000_000
    result = parse_text(garbage)
    assert [d.code for d in result.diagnostics] == ["CLM001"]
    assert "@@@@@@@@@@" not in result.diagnostics[0].message


def test_long_unterminated_string():
    """A 1 MB string with no closing quote is one CLM002."""
    text = 'rule r { send sms "' + "x" * 1_000_000 + " }"
    assert [d.code for d in parse_text(text).diagnostics] == ["CLM002"]


def test_huge_number():
    """A number with a thousand digits is CLM006, not an OverflowError."""
    text = "cap " + "9" * 1000 + " per 7 days"
    assert "CLM006" in [d.code for d in parse_text(text).diagnostics]


def test_invalid_utf8_file(tmp_path: Path):
    """Invalid UTF-8 bytes are reported with CLM003 and their offset."""
    path = tmp_path / "bad.clm"
    path.write_bytes(b'program "caf\xe9"\nstage s when purchases > 1\n')
    spec = load_path(path)
    assert [d.code for d in spec.diagnostics] == ["CLM003"]
    assert spec.diagnostics[0].span.line == 1


def test_random_bytes_files(tmp_path: Path):
    """Random binary files load to diagnostics only."""
    rng = random.Random(7)
    for i in range(50):
        path = tmp_path / f"r{i}.clm"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
        spec = load_path(path)
        assert all(d.code.startswith("CLM") for d in spec.diagnostics)
