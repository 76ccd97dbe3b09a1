"""The policy in force, read from its message log, taken out of a purchase history.

`clm calibrate --messages` and `clm forecast --messages`: the log (messages.py) says whom
each rule reached and whom it held back. From it: each rule's first contacts and how many
of them bought (response.py), which purchases the messages brought and the weights that make the untouched customers stand for the base (exposure.py). The buying
and spend models are then fitted on that (calibration.py), and the responses measured with
the buying model fitted net of the policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..market.model import ChannelResponse, Market, RuleResponse
from ..simulation.engine.offers import rule_offer_lifts
from ..simulation.engine.program import Program
from .exposure import Exposure, exposure_weights, mark_induced
from .response import MIN_ARM, Response, channel_responses, first_contacts, measure

__all__ = ["LoggedPolicy", "net_of_policy", "with_responses"]


@dataclass(frozen=True)
class LoggedPolicy:
    """What the log separates: the history net of the policy and what to measure with."""

    history: pd.DataFrame  # the purchases, merged by day
    induced: np.ndarray  # per row of `history`: brought by a message (exposure.mark_induced)
    log: pd.DataFrame  # the log up to the calibration end, effective rules only
    fired_log: pd.DataFrame  # the log up to the calibration end, every rule
    contacts: pd.DataFrame  # each rule's first contacts (response.first_contacts)
    delivered: pd.DataFrame  # every delivered message: customer_id, date
    effective: frozenset[str]  # the rules whose messages can change buying
    induced_count: int  # purchases marked as brought by a message
    lifts: dict[str, float]  # each rule's offer lift (1 without the policy)
    policy_known: bool

    def fired(self, customers: np.ndarray, end: pd.Timestamp) -> dict[str, np.ndarray]:
        """Per rule of the log: the day each of `customers` last fired it (a row of any
        status), counted from the day after `end`; NaN for never."""
        index = pd.Index(customers)
        out = {}
        for rule, rows in self.fired_log.groupby("rule", observed=True):
            last = rows.groupby("customer_id")["date"].max()
            days = np.full(index.size, np.nan)
            at = index.get_indexer(last.index)
            ok = at >= 0
            offset = last.to_numpy() - (end + pd.Timedelta(days=1)).to_datetime64()
            days[at[ok]] = (offset / np.timedelta64(1, "D"))[ok]
            out[str(rule)] = days
        return out

    def induced_counts(self, customers: np.ndarray, end: pd.Timestamp) -> np.ndarray:
        """Per customer of `customers`: their purchases up to `end` a message brought."""
        rows = self.history[self.induced & (self.history["date"] <= end).to_numpy()]
        counts = rows.groupby("customer_id").size()
        out = np.zeros(len(customers), dtype=np.int64)
        at = pd.Index(customers).get_indexer(counts.index)
        out[at[at >= 0]] = counts.to_numpy()[at >= 0]
        return out

    def exposure(self, customers: np.ndarray) -> Exposure:
        """The weights of `customers` (a summary's ids) for fits net of the policy."""
        return exposure_weights(customers, self.log, set(self.effective))


def net_of_policy(
    history: pd.DataFrame,
    messages: pd.DataFrame,
    end: pd.Timestamp,
    policy: Policy | None,
    rng: np.random.Generator,
) -> LoggedPolicy:
    """`history` (merged by day) net of the messages logged up to `end`. `policy`: the one
    that sent them, for which rules are transactional (no response) and each rule's offer;
    without it every rule counts and offers are taken as none."""
    log = messages[messages["date"] <= end]
    transactional = set()
    lifts: dict[str, float] = {}
    if policy is not None:
        transactional = {r.name for r in policy.rules} - _responsive(policy)
        lifts = rule_offer_lifts(policy, Market())
    effective = frozenset(set(log["rule"].unique()) - transactional)
    log = log[log["rule"].isin(effective)]
    windows = {c: Market().channel(c).window_days for c in log["channel"].unique()}
    contacts = first_contacts(log, history, windows)
    induced = {}
    for rule, group in contacts.groupby("rule"):
        sent, held = group[group["arm"] == "sent"], group[group["arm"] == "held"]
        if len(sent) >= MIN_ARM and len(held) >= MIN_ARM and sent["converted"].any():
            p1, p0 = sent["converted"].mean(), held["converted"].mean()
            induced[str(rule)] = float(np.clip((p1 - p0) / p1, 0.0, 1.0))
    sends = log[log["status"] == "delivered"][["customer_id", "date", "rule", "channel"]]
    sends = sends.assign(window=np.ceil(sends["channel"].map(windows)).astype(np.int64))
    marked = mark_induced(history, sends, induced, rng)
    every = messages[(messages["date"] <= end) & (messages["status"] == "delivered")]
    return LoggedPolicy(
        history,
        marked,
        log,
        messages[messages["date"] <= end],
        contacts,
        every[["customer_id", "date"]],
        effective,
        int(marked.sum()),
        lifts,
        policy is not None,
    )


def with_responses(
    market: Market, logged: LoggedPolicy, buying: dict[str, float]
) -> tuple[Market, tuple[Response, ...]]:
    """`market` with each measured rule's response and each channel's, from the first
    contacts, given BG/NBD's parameters (weeks) fitted net of the policy."""
    responses = measure(
        logged.contacts, logged.history, logged.delivered, buying, market, logged.lifts
    )
    channels = dict(market.channels)
    for name, (value, _) in channel_responses(responses).items():
        old = market.channel(name)
        channels[name] = ChannelResponse(**{**old.model_dump(), "response": value})
    rules = dict(market.rules)
    for r in responses:
        if r.measured:
            rules[r.rule] = RuleResponse(response=r.response)
    return market.model_copy(update={"channels": channels, "rules": rules}), tuple(responses)


def _responsive(policy: Policy) -> set[str]:
    """The rules with a send step that is not transactional: the ones a response can follow."""
    return {
        policy.rules[s.rule].name
        for s in Program.of(policy).sites.values()
        if not s.send.transactional
    }
