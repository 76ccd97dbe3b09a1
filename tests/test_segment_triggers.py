"""Segments as triggers (`on enter SEGMENT`, `on leave SEGMENT`, `on exit SEGMENT`) and the
members of each segment per day (segments.csv).

The expected moves and counts are recomputed here from the purchase log alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.api import analyse_text
from clmlang.language.formatter import format_text
from clmlang.market.model import Market

THRESHOLD = 250
RECENT = 10  # days
SPEC = f"""program "Shop" currency USD
channel email cost 1
product tee role profit price 60 cost 20 every 30 days
stage all when purchases >= 0
segment high_value when total_spent >= {THRESHOLD}
segment recent when days_since_purchase <= {RECENT} days
rule welcome_high_value {{
  on enter high_value
  send email "Welcome to the club"
}}
rule gone_quiet {{
  on exit recent
  send email "Anything missing?"
}}
"""
DAYS = 120


@pytest.fixture(scope="module")
def run():
    policy = clmlang.loads(SPEC, "shop.clm")
    market = Market.model_validate({"channels": {"email": {"reach": 1.0}}})
    return clmlang.simulate(policy, market, customers=1500, days=DAYS, rng=3, logs=True)


def _days(frame: pd.DataFrame) -> np.ndarray:
    start = pd.Timestamp(Market().start_date)
    return (pd.to_datetime(frame["date"]) - start).dt.days.to_numpy()


def _purchases(run) -> pd.DataFrame:
    log = run.logs()["purchases"].copy()
    log["day"] = _days(log)
    return log


def _fired(run, rule: str) -> set[tuple[int, int]]:
    messages = run.logs()["messages"]
    mine = messages[messages["rule"] == rule]
    return set(zip(mine["customer_id"].astype(int), _days(mine).astype(int), strict=True))


def test_enter_fires_when_membership_turns_true(run):
    """`on enter high_value`: on the day the customer's spend first reaches the threshold."""
    log = _purchases(run)
    spent = log.groupby("customer_id")["amount"].cumsum()
    crossed = log[spent >= THRESHOLD].groupby("customer_id")["day"].min()
    expected = {(int(c), int(d)) for c, d in crossed.items()}
    assert len(expected) > 50
    assert _fired(run, "welcome_high_value") == expected


def test_exit_fires_when_membership_turns_false(run):
    """`on exit recent`: RECENT + 1 days after a purchase with none in between."""
    log = _purchases(run)
    expected = set()
    for customer, days in log.groupby("customer_id")["day"]:
        bought = np.unique(days.to_numpy())
        for i, day in enumerate(bought):
            leave = day + RECENT + 1
            later = bought[i + 1] if i + 1 < bought.size else DAYS
            if leave < DAYS and later > leave:
                expected.add((int(customer), int(leave)))
    assert len(expected) > 100
    assert _fired(run, "gone_quiet") == expected


def test_segments_csv_counts_the_members(run):
    """segments.csv: day, segment, customers, as the purchase log says for a few days."""
    table = run.segments
    assert list(table.columns) == ["day", "segment", "customers"]
    assert len(table) == 2 * DAYS
    log = _purchases(run)
    for day in (0, 7, 45, DAYS - 1):
        upto = log[log["day"] <= day]
        high = int((upto.groupby("customer_id")["amount"].sum() >= THRESHOLD).sum())
        recent = upto[upto["day"] >= day - RECENT]["customer_id"].nunique()
        row = table[table["day"] == day].set_index("segment")["customers"]
        assert (row["high_value"], row["recent"]) == (high, recent), day
    assert "segments.csv" in run.files()
    assert run.files()["segments.csv"].startswith("day,segment,customers\n0,high_value,")


def test_exit_is_leave_and_formats_as_leave():
    """`exit` is another spelling of `leave`; the formatter writes `leave`."""
    formatted = format_text(SPEC, "shop.clm")
    assert "on leave recent" in formatted and "on exit" not in formatted
    before, after = clmlang.loads(SPEC, "shop.clm"), clmlang.loads(formatted, "shop.clm")
    assert before.rules[1].trigger == after.rules[1].trigger
    assert after.rules[1].trigger.event.model_dump(exclude_none=True) == {
        "kind": "leave",
        "segment": "recent",
    }


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        ('rule r { on enter hgih_value send email "x" }', "CLM100", "did you mean `high_value`"),
        (
            'stage recent when purchases < 0\nrule r { on leave recent send email "x" }',
            "CLM102",
            "both a stage and a segment",
        ),
    ],
)
def test_event_names_are_checked(extra: str, code: str, words: str):
    """An unknown name, or one that is both a stage and a segment, is a diagnostic."""
    diagnostics = analyse_text(SPEC + extra, "shop.clm").diagnostics
    found = [d for d in diagnostics if d.code == code]
    assert found and any(words in f"{d.message} {d.hint}" for d in found), diagnostics


def test_success_on_entering_a_segment():
    """`success enter high_value within D`: met by the customers who enter it in time."""
    spec = SPEC.replace(
        'send email "Anything missing?"',
        'send email "Anything missing?"\n  success enter high_value within 30 days',
    )
    policy = clmlang.loads(spec, "shop.clm")
    market = Market.model_validate({"channels": {"email": {"reach": 1.0}}})
    run = clmlang.simulate(policy, market, customers=600, days=DAYS, rng=3, logs=True)
    rules = run.rules.set_index("rule")
    assert rules.loc["gone_quiet", "converted"] > 0


def test_seventy_segments_counted_from_the_purchase_log():
    """Membership is kept as bits, 64 segments a word: with 70 segments (spend thresholds,
    and recency windows re-evaluated on their crossing days), each one's members on a few
    days are those the purchase log says, the last ones (a second word) included."""
    spend = [10 * (k + 1) for k in range(40)]
    recent = list(range(1, 31))
    lines = [f"segment spent{k} when total_spent >= {t}" for k, t in enumerate(spend)]
    lines += [
        f"segment recent{k} when days_since_purchase <= {w} days" for k, w in enumerate(recent)
    ]
    spec = SPEC.split("segment high_value")[0] + "\n".join(lines) + "\n"
    policy = clmlang.loads(spec, "shop.clm")
    days = 60
    run = clmlang.simulate(policy, Market(), customers=400, days=days, rng=5, logs=True)
    log = _purchases(run)
    table = run.segments
    for day in (0, 20, days - 1):
        upto = log[log["day"] <= day]
        total = upto.groupby("customer_id")["amount"].sum()
        row = table[table["day"] == day].set_index("segment")["customers"]
        for k, t in enumerate(spend):
            assert row[f"spent{k}"] == int((total >= t).sum()), (day, k)
        for k, w in enumerate(recent):
            assert row[f"recent{k}"] == upto[upto["day"] >= day - w]["customer_id"].nunique()
    assert row["spent0"] > row["spent39"] > 0 and row["recent29"] > row["recent0"] > 0
