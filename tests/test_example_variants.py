"""`clm test` examples on a rule with A/B variants: `variant = "B"` in a `sends` entry checks
that variant's first message; without it any variant's may match, and a failure lists what
each sends; an unknown name is a test-file problem placed on the name; named variants count
toward coverage."""

from __future__ import annotations

from pathlib import Path

from clmlang.testing.policytest import run_tests

from .conftest import clm

# `refill`: variant A emails the food line at list price, variant B texts 10% off it;
# `welcome` has no variants. A customer who bought once, 10 days ago, is eligible for both,
# and both triggers can come (the timer is 20 days away, a purchase may come).
SPEC = """program "Pets" currency USD
channel sms cost 0.05
channel email cost 0.01
product kibble line food role profit price 30 cost 10
stage new when purchases <= 1
stage regular when purchases >= 2
rule refill {
  on 30 days after purchase
  variant A 50% { send email "Time to refill" offer line food }
  variant B 50% { send sms "Refill now, 10% off" offer line food discount 10% }
}
rule welcome { on purchase send email "Thanks" }
"""
CUSTOMER = 'customer = "purchases=1, days_since_purchase=10"\n'


def write(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "pets.clm").write_text(SPEC)
    path = tmp_path / "pets.test.toml"
    path.write_text(tests)
    return path


def example(name: str, sends: str) -> str:
    return f'[[example]]\nname = "{name}"\n{CUSTOMER}sends = [{sends}]\n\n'


def test_the_second_variants_message_is_found(tmp_path: Path):
    """The new user's example: only variant B sends the discount. Checked against the first
    variant alone, it failed with "got `line food`"."""
    sms = '{ rule = "refill", channel = "sms", offer = "line food discount 10%" }'
    named = '{ rule = "refill", variant = "B", channel = "sms", offer = "line food discount 10%" }'
    first = '{ rule = "refill", variant = "A", channel = "email", offer = "line food" }'
    path = write(
        tmp_path,
        example("any variant", sms) + example("B", named) + example("A", first),
    )
    report = run_tests([path])
    assert [o.name for o in report.outcomes] == ["any variant", "B", "A"]
    assert not report.failed, report.failed[0].message


def test_a_send_no_variant_makes_lists_each_variants_message(tmp_path: Path):
    """Email with the discount: A emails without it, B gives it by SMS."""
    path = write(
        tmp_path,
        example(
            "email discount",
            '{ rule = "refill", channel = "email", offer = "line food discount 10%" }',
        ),
    )
    (failure,) = run_tests([path]).failed
    assert failure.message.splitlines() == [
        "expected `refill` to send on email with offer `line food discount 10%`; no variant does:",
        "  variant `A` sends on email, offer `line food`",
        "  variant `B` sends on sms, offer `line food discount 10%`",
        '  (name the one to check: `variant = "..."` in the `sends` entry)',
    ]
    assert failure.where.startswith(f"{tmp_path / 'pets.clm'}:7:1: rule refill")


def test_a_named_variant_is_checked_alone_and_its_line_shown(tmp_path: Path):
    """B's offer is right for B; named A, the same expectation fails on A's offer and points at
    A's line (9) rather than the rule's."""
    on_a = '{ rule = "refill", variant = "A", offer = "line food discount 10%" }'
    sms_a = '{ rule = "refill", variant = "A", channel = "sms" }'
    path = write(tmp_path, example("offer of A", on_a) + example("channel of A", sms_a))
    offer, channel = run_tests([path]).failed
    assert offer.message == (
        "expected offer `line food discount 10%` from `refill` variant `A`, got `line food`"
    )
    assert channel.message == "expected `refill` variant `A` to send on sms, it sends on email"
    assert offer.where == (
        f"{tmp_path / 'pets.clm'}:9:3: "
        'variant A 50% { send email "Time to refill" offer line food }'
    )


def test_a_rule_without_variants_is_checked_as_before(tmp_path: Path):
    path = write(
        tmp_path,
        example("welcome", '{ rule = "welcome", channel = "email" }')
        + example("welcome by sms", '{ rule = "welcome", channel = "sms" }'),
    )
    (failure,) = run_tests([path]).failed
    assert failure.name == "welcome by sms"
    assert failure.message == "expected `welcome` to send on sms, it sends on email"


def test_an_unknown_variant_is_a_test_file_problem_on_its_name(tmp_path: Path):
    """`b` for `B` (case), `C` (nothing close), a variant of a rule that has none, and
    `variant` at the example's level: four problems placed where written, exit 2, no test run."""
    path = write(
        tmp_path,
        example("lower case", '{ rule = "refill", channel = "sms", variant = "b" }')
        + example(
            "none close", '{ rule = "refill", variant = "A" }, { rule = "refill", variant = "C" }'
        )
        + example("no variants", '{ rule = "welcome", variant = "A" }')
        + '[[example]]\nname = "at the top"\nvariant = "B"\n'
        + CUSTOMER,
    )
    result = clm("test", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "PASS" not in result.stdout and "FAIL" not in result.stdout
    err = result.stderr
    # line 4: sends = [{ rule = "refill", channel = "sms", variant = "b" }]; `b` at column 57
    line4 = 'sends = [{ rule = "refill", channel = "sms", variant = "b" }]'
    assert line4.index('"b"') + 2 == 57
    assert (
        f"{path}:4:57: error[CLM200]: example.0.sends.0.variant: `refill` has no variant `b`"
        " (did you mean `B`?); its variants: `A`, `B`" in err
    )
    assert f"   4 | {line4}\n" + " " * 63 + "^\n" in err
    # the second entry of line 9 names `C`: placed on it, not on the first entry's `A`
    line9 = 'sends = [{ rule = "refill", variant = "A" }, { rule = "refill", variant = "C" }]'
    column = line9.index('"C"') + 2
    assert (
        f"{path}:9:{column}: error[CLM200]: example.1.sends.1.variant: `refill` has no variant"
        " `C`; its variants: `A`, `B`\n" in err
    )
    assert (
        f"{path}:14:" in err
        and "example.2.sends.0.variant: `welcome` has no A/B variants: leave `variant` out" in err
    )
    assert f"{path}:18:1: error[CLM200]: example.3.variant: a variant is named in the" in err
    assert err.count("error[CLM200]") == 4
    assert err.count("hint: see docs/testing.md for test files") == 4


def test_named_variants_count_toward_coverage(tmp_path: Path):
    """Examples cover the rules their customer is eligible for (refill, welcome: 2 of 2) and
    the variants their `sends` name (B: 1 of 2); a send matched by any variant names none."""
    any_variant = '{ rule = "refill", channel = "sms" }'
    named = '{ rule = "refill", variant = "B", channel = "sms" }'
    path = write(tmp_path, example("any", any_variant))
    report = run_tests([path])
    assert report.coverage.missing() == ["refill/A", "refill/B"]
    path = write(tmp_path, example("any", any_variant) + example("B", named))
    report = run_tests([path])
    assert not report.failed
    assert report.coverage.missing() == ["refill/A"]
    assert report.coverage.share == 3 / 4
    done = clm("test", str(path), "--coverage")
    assert done.returncode == 0
    assert "2 passed, 0 failed; coverage 75% of rules, variants and follow-up branches" in (
        done.stdout
    )
    assert "never exercised: refill/A" in done.stdout


def test_an_unknown_variant_in_a_sends_table_is_placed_on_its_name(tmp_path: Path):
    """`sends` written as `[[example.sends]]` tables (a key a line): the second table's `C`
    is placed on its line, the example after them keeps its own place."""
    path = write(
        tmp_path,
        '[[example]]\nname = "tables"\n'
        + CUSTOMER
        + '\n[[example.sends]]\nrule = "refill"\nvariant = "A"\n'
        + '\n[[example.sends]]\nrule = "refill"\nvariant = "C"\n\n'
        + example("inline after", '{ rule = "refill", variant = "D" }'),
    )
    result = clm("test", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr
    # lines: 1 [[example]], 2 name, 3 customer, 4 blank, 5 [[example.sends]], 6 rule,
    # 7 variant = "A", 8 blank, 9 [[example.sends]], 10 rule, 11 variant = "C"; `C` at 12
    assert (
        f"{path}:11:12: error[CLM200]: example.0.sends.1.variant: `refill` has no variant `C`"
        in err
    )
    assert '  11 | variant = "C"\n' + " " * 18 + "^\n" in err
    # 12 blank, 13 [[example]], 14 name, 15 customer, 16 sends = [{ ..., variant = "D" }]
    line16 = 'sends = [{ rule = "refill", variant = "D" }]'
    column = line16.index('"D"') + 2
    assert f"{path}:16:{column}: error[CLM200]: example.1.sends.0.variant" in err
    assert err.count("error[CLM200]") == 2
