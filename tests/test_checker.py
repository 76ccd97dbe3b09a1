"""Checker behaviour beyond the snapshots: semantics of the analyses and their limits."""

from __future__ import annotations

from pathlib import Path

import clmlang

HEAD = 'program "Shop" currency USD\nchannel email cost 0.1\n'


def codes(text: str) -> list[str]:
    return [d.code for d in clmlang.analyse_text(HEAD + text).diagnostics]


def test_whole_days_leave_no_gap():
    """`90..179 days` and `>= 180 days` meet: days since a purchase are whole days."""
    text = (
        "stage none when purchases == 0\n"
        "stage lapsing when purchases >= 1 and days_since_purchase in 0..179 days\n"
        "stage lost when purchases >= 1 and days_since_purchase >= 180 days\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == []


def test_money_is_continuous():
    """Between `< 100` and `> 100` there is a gap: spending exactly 100 is a real state."""
    text = (
        "stage small when total_spent < 100\n"
        "stage big when total_spent > 100\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == ["CLM121"]


def test_impossible_states_are_not_gaps():
    """A customer with purchases but no purchase date does not exist, so it is no gap."""
    text = (
        "stage prospect when purchases == 0\n"
        "stage buyer when days_since_purchase >= 0\n"
        'rule r { send email "x" }\n'
    )
    assert codes(text) == []


def test_arithmetic_is_never_called_impossible():
    """A condition with arithmetic is not proven impossible, even when it is."""
    text = (
        "stage all when purchases >= 0\n"
        'rule r { when total_spent - total_spent > 1 send email "x" }\n'
    )
    assert "CLM130" not in codes(text)


def test_sampled_grid_makes_no_absence_claim():
    """With more columns than the exact grid holds, an impossible rule is not reported."""
    fields = " and ".join(f"messages(email, {d} days) >= {d}" for d in range(1, 12))
    text = (
        "stage all when purchases >= 0\n"
        f'rule r {{ when {fields} and purchases > 5 and purchases < 3 send email "x" }}\n'
    )
    assert "CLM130" not in codes(text)


def test_unsatisfiable_rule_with_exact_grid_is_reported():
    """The same contradiction with few columns is proven and reported."""
    text = 'stage all when purchases >= 0\nrule r { when purchases > 5 and purchases < 3 send email "x" }\n'
    assert codes(text) == ["CLM130"]


def test_every_error_of_a_file_is_reported():
    """Independent mistakes are all reported in one run."""
    text = (
        "stage all when purchases >= 0\n"
        "product tee role profitt price 20\n"
        'rule a { send emial "x" }\n'
        'rule b { holdout 120% send email "y" offer tea }\n'
    )
    assert sorted(codes(text)) == ["CLM100", "CLM100", "CLM100", "CLM111"]


def test_unused_only_in_own_file(tmp_path: Path):
    """Channels defined in a used file and not used here are not warned about."""
    (tmp_path / "common.clm").write_text("channel sms cost 3\nchannel push cost 0.1\n")
    spec = tmp_path / "shop.clm"
    spec.write_text(
        'use "common.clm"\nprogram "x"\nstage all when purchases >= 0\nrule r { send sms "x" }\n'
    )
    assert clmlang.analyse(spec).diagnostics == ()


def test_transactional_messages_are_not_capped():
    """Two sends a day apart break a cap of one per week, unless the second is transactional."""
    base = 'stage all when purchases >= 0\ncap 1 per 7 days\nrule r { send email "a" wait 1 day send email "b"'
    assert codes(base + " }\n") == ["CLM132"]
    assert codes(base + " transactional }\n") == []


def test_caps_follow_branches():
    """A send on the failure branch is counted after the success window has passed."""
    text = (
        "stage all when purchases >= 0\ncap 1 per 7 days\n"
        'rule r { send email "a" success purchase within 10 days on failure send email "b" }\n'
    )
    assert codes(text) == []
