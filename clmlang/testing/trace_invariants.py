"""Invariants on what customers receive (`max_messages`, `holdout_gets_nothing`,
`no_message_when_unsubscribed`, `max_discount`), checked over the message logs of simulated
populations that hypothesis chooses and shrinks. A failure names the customer, prints a
ready-to-paste `[[replay]]` and the command that replays their journey; a replay runs one
such population again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from ..compile.policy import Policy
from ..core.names import did_you_mean
from ..market.model import Market
from ..market.overrides import parse_share
from ..simulation.engine import simulate_policy
from .counterexamples import Tally, minimal_counterexample
from .coverage import Coverage, cover_run
from .testfile import Invariant, Replay, TestFile

__all__ = ["TRACE_KINDS", "check_replay", "check_trace_invariant"]

TRACE_KINDS = (
    "max_messages",
    "holdout_gets_nothing",
    "no_message_when_unsubscribed",
    "max_discount",
)

Paths = dict[int, tuple[str, str]]  # coverage.node_paths


def check_trace_invariant(
    inv: Invariant,
    policy: Policy,
    test_file: TestFile,
    coverage: Coverage,
    paths: Paths,
    *,
    seed: int,
    examples: int,
) -> tuple[str, str, str]:
    """The minimal population (customers, seed) among `examples // 20` (at least 3) whose
    trace breaks the invariant, as a message ("" when none does), the rule to point at
    ("" for none), and how many populations were simulated. Every simulated run counts
    towards coverage."""
    if inv.rule and inv.rule not in [r.name for r in policy.rules]:
        raise ValueError(
            f"the spec has no rule `{inv.rule}`"
            + did_you_mean(inv.rule, [r.name for r in policy.rules])
        )

    def violation(population: tuple[int, int]) -> str | None:
        found = _violation(inv, policy, coverage, paths, *population)
        return None if found is None else found[0]

    populations = st.tuples(st.integers(20, 400), st.integers(0, 2**16))
    tally = Tally()
    found = minimal_counterexample(populations, violation, max(3, examples // 20), seed, tally)
    tried = tally.words("simulated populations")
    if found is None:
        return "", "", tried
    customers, population_seed = found
    again = _violation(inv, policy, coverage, paths, customers, population_seed)
    problem, rule = again if again is not None else ("", inv.rule or "")
    spec = test_file.spec_path()
    fields = inv.model_dump(exclude_defaults=True)
    inline = ", ".join(f"{k} = {_toml_value(v)}" for k, v in fields.items())
    paste = (
        f'[[replay]]\nname = "{inv.label}: counterexample"\ncustomers = {customers}\n'
        f"days = 120\nseed = {population_seed}\ninvariant = {{ {inline} }}\n"
    )
    return (
        (
            f"{problem}\nMinimal population, ready to paste into {Path(test_file.path).name}:\n"
            f"{paste}Watch the customer: clm simulate {spec} --customers {customers} "
            f"--days 120 --seed {population_seed} --trace {problem.split()[1]}"
        ),
        rule,
        tried,
    )


def check_replay(rp: Replay, policy: Policy, coverage: Coverage, paths: Paths) -> tuple[str, str]:
    """The replayed population's violation of its invariant ("" when it holds now) and the
    rule to point at."""
    found = _violation(rp.invariant, policy, coverage, paths, rp.customers, rp.seed, rp.days)
    return found or ("", "")


def _violation(
    inv: Invariant,
    policy: Policy,
    coverage: Coverage,
    paths: Paths,
    customers: int,
    seed: int,
    days: int = 120,
) -> tuple[str, str] | None:
    """How the simulated population breaks the invariant ("customer 7 got ...") and the rule
    to blame (for `max_messages`, the one whose message went over), or None."""
    run = simulate_policy(  # logs: the invariants read one row per message
        policy,
        Market(),
        customers=customers,
        days=days,
        rng=np.random.default_rng(seed),
        logs=True,
    )
    cover_run(coverage, run, policy, paths)
    log = run.recorder.messages.arrays()
    sites = run.sites
    transactional = np.array([x.send.transactional for x in sites] or [False])[log["site"]]
    channels = [c.name for c in policy.channels]
    blamed = inv.rule or ""
    if inv.kind == "max_messages":
        keep = ~transactional if inv.marketing_only else np.ones(log["site"].size, bool)
        if inv.channel:
            keep &= log["channel"] == channels.index(inv.channel)
        found = _window_violation(
            log["customer"][keep],
            log["day"][keep],
            log["arm"][keep],
            inv.limit or 1,
            inv.days or 7,
        )
        if found is None:
            return None
        text, arm = found
        return text, policy.rules[run.arms[arm][0]].name
    if inv.kind == "holdout_gets_nothing":
        events = run.recorder.rule_events.arrays()
        arms = [i for i, (r, label) in enumerate(run.arms) if policy.rules[r].name == inv.rule]
        hold = [i for i in arms if run.arms[i][1] == "holdout"]
        held = np.unique(events["customer"][np.isin(events["arm"], hold)])
        got = log["customer"][np.isin(log["arm"], [a for a in arms if a not in hold])]
        both = np.intersect1d(held, got)
        return (
            (f"customer {both[0]} is in the holdout of {inv.rule} and got its message", blamed)
            if both.size
            else None
        )
    if inv.kind == "no_message_when_unsubscribed":
        unsub = run.recorder.unsubscribes.arrays()
        for c, d, ch in zip(unsub["customer"], unsub["day"], unsub["channel"], strict=True):
            later = (log["customer"] == c) & (log["channel"] == ch) & (log["day"] > d)
            if later.any():
                return (
                    f"customer {c} unsubscribed from {channels[ch]} on day {d} and got a "
                    f"message there on day {log['day'][later][0]}"
                ), blamed
        return None
    if inv.kind == "max_discount":
        limit = parse_share("share", inv.share)
        code = [x.name for x in policy.stages].index(inv.stage)
        discount = np.array([x.discount_share for x in sites] or [0.0])[log["site"]]
        bad = (log["stage"] == code) & (discount > limit + 1e-12)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            return (
                f"customer {log['customer'][i]} in stage {inv.stage} was offered "
                f"{discount[i]:.0%} off on day {log['day'][i]}"
            ), blamed
    return None


def _window_violation(
    cust: np.ndarray, day: np.ndarray, arm: np.ndarray, limit: int, window: float
) -> tuple[str, int] | None:
    """The first customer with more than `limit` messages within `window` days, and the arm
    of the message that went over."""
    order = np.lexsort((day, cust))
    cust, day, arm = cust[order], day[order], arm[order]
    if cust.size <= limit:
        return None
    bad = (cust[limit:] == cust[:-limit]) & (day[limit:] - day[:-limit] < window)
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    days = day[i : i + limit + 1].tolist()
    text = (
        f"customer {cust[i]} got {limit + 1} messages within {window:g} days "
        f"(days {', '.join(map(str, days))})"
    )
    return text, int(arm[i + limit])


def _toml_value(value: object) -> str:
    """A value as TOML writes it, for the pasted `[[replay]]`'s inline invariant table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return f"{value:g}" if isinstance(value, float) else str(value)
