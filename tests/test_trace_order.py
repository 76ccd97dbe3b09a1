"""A trace reads in time order, and within a day a cause comes before its effect."""

from __future__ import annotations

import clmlang
from clmlang.simulation.engine.recorder import Trace

SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8 every 30 days
stage new when purchases <= 1
stage repeat when purchases >= 2
rule thanks { on purchase send email "Thanks" }
"""


def test_stage_change_follows_the_purchase_that_caused_it():
    """The second purchase makes a customer `repeat`: that line comes right after it, at the
    purchase's time, never at an earlier time of the same day."""
    policy = clmlang.loads(SPEC)
    checked = 0
    for customer in range(12):
        trace = clmlang.simulate(policy, customers=120, days=90, rng=4, trace=customer).trace
        days = [day for day, _, _ in trace]
        assert days == sorted(days), trace
        purchases = [(day, i) for i, (day, kind, _) in enumerate(trace) if kind == "purchase"]
        for i, (day, kind, detail) in enumerate(trace):
            if kind == "stage" and detail == "new -> repeat":
                second_day, second_at = purchases[1]
                assert i == second_at + 1 and day == second_day
                checked += 1
    assert checked > 0  # some of the customers came back within the 90 days


def test_lines_of_one_day_keep_their_order_and_never_go_back_in_time():
    """Added in the engine's order: a purchase at 141.88, then the day's stage change and rule
    (recorded at 141) read as 141.88; a later day's line stays after."""
    trace = Trace(0)
    trace.add(141.88, "purchase", "bought tee")
    trace.add(141.0, "stage", "newcomer -> forming")
    trace.add(141.0, "rule", "thanks: fired")
    trace.add(142.0, "message", "thanks: sent")
    assert trace.lines == [
        (141.88, "purchase", "bought tee"),
        (141.88, "stage", "newcomer -> forming"),
        (141.88, "rule", "thanks: fired"),
        (142.0, "message", "thanks: sent"),
    ]
