"""Condition-triggered rules: an edge by default, a cadence with `reentry once per N days`
(docs/language.md), and a trace without a re-entry line for every day the condition holds."""

from __future__ import annotations

import functools
import math

import clmlang

SPEC = """program "Shop" currency USD
channel email cost 0.1
product tee role profit price 20 cost 8
stage all when purchases >= 0
rule nudge {
  when days_since_purchase >= 20 days
  send email "We miss you"
}
rule cadence {
  when days_since_purchase >= 20 days
  reentry once per 30 days
  send email "Still here"
}
"""


@functools.cache
def _journeys() -> tuple:
    """(purchase days, firing days per rule, re-entry refusal days) of 30 traced customers."""
    return tuple(_trace_journeys())


def _trace_journeys():
    policy = clmlang.loads(SPEC)
    for customer in range(30):
        trace = clmlang.simulate(policy, customers=150, days=200, rng=7, trace=customer).trace
        purchases = [day for day, kind, _ in trace if kind == "purchase"]
        fired = {
            name: [
                day
                for day, kind, d in trace
                if kind == "rule" and d.startswith(f"{name} (") and d.endswith("fired")
            ]
            for name in ("nudge", "cadence")
        }
        blocked = [day for day, kind, d in trace if "re-entry does not allow" in d]
        yield purchases, fired, blocked


def _bought_between(purchases, a, b):
    return any(a < p <= b + 1 for p in purchases)


def test_default_is_an_edge_and_reentry_a_cadence():
    """Without `reentry`, a purchase comes between two nudges; with `once per 30 days`, two
    firings with no purchase between are exactly 30 days apart, and long silences repeat."""
    repeats = 0
    for purchases, fired, _ in _journeys():
        for a, b in zip(fired["nudge"], fired["nudge"][1:], strict=False):
            assert _bought_between(purchases, a, b)
        for a, b in zip(fired["cadence"], fired["cadence"][1:], strict=False):
            if not _bought_between(purchases, a, b):
                assert math.floor(b) - math.floor(a) == 30
                repeats += 1
    assert repeats > 0  # some customers stayed silent long enough to hear twice


def test_trace_has_no_daily_reentry_line():
    """A re-entry refusal is traced on the day the condition becomes true, not every day it
    stays true: at most one per silence (one per purchase, plus the start)."""
    for purchases, _, blocked in _journeys():
        assert len(blocked) <= len(purchases) + 1
        assert len(set(map(math.floor, blocked))) == len(blocked)
