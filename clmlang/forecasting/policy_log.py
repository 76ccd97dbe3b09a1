"""The policy in force, read from its message log, taken out of a purchase history.

`clm calibrate --messages` and `clm forecast --messages`: the log (messages.py) says whom
each rule reached and whom it held back. In two steps:

1. Before the fits (`read_log`): each rule's first contacts and whether they bought
   (response.py), the weights that make the customers no message reached stand for the base
   (exposure.py), and each customer's last firing of each rule (so that re-entry carries on).
2. After BG/NBD is fitted on those customers (`measured`): each rule's and channel's
   response, which purchases the messages brought (each converted send's purchase marked
   with the model's chance that the message caused it), and the evidence of lapsing in the
   messages left unanswered since the last purchase. The forecast's posteriors read both
   (posterior.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..compile.policy import Policy
from ..market.model import ChannelResponse, Market, RuleResponse
from ..simulation.engine.offers import rule_offer_lifts
from ..simulation.engine.program import Program
from .exposure import Exposure, exposure_weights, mark_induced
from .history import Summary
from .response import Response, channel_responses, first_contacts, induced_chance, measure
from .response import silence as silence_evidence

__all__ = ["MIN_SENDS", "LoggedPolicy", "Measured", "measured", "read_log"]

MIN_SENDS = 100  # delivered messages on a channel, at the least, to measure its unsubscribes


@dataclass(frozen=True)
class LoggedPolicy:
    """What the log says before anything is fitted."""

    history: pd.DataFrame  # the purchases, merged by day
    log: pd.DataFrame  # the log up to the calibration end, effective rules only
    fired_log: pd.DataFrame  # the log up to the calibration end, every rule
    contacts: pd.DataFrame  # each rule's first contacts (response.first_contacts)
    delivered: pd.DataFrame  # every delivered message: customer_id, date
    sends: pd.DataFrame  # delivered messages of the effective rules, with their window
    effective: frozenset[str]  # the rules whose messages can change buying
    lifts: dict[str, float]  # each rule's offer lift
    end: pd.Timestamp

    def fired(self, customers: np.ndarray) -> dict[str, np.ndarray]:
        """Per rule of the log: the day each of `customers` last fired it (a row of any
        status), counted from the day after the calibration end; NaN for never."""
        index = pd.Index(customers)
        day_zero = (self.end + pd.Timedelta(days=1)).to_datetime64()
        out = {}
        for rule, rows in self.fired_log.groupby("rule", observed=True):
            last = rows.groupby("customer_id")["date"].max()
            days = np.full(index.size, np.nan)
            at = index.get_indexer(last.index)
            ok = at >= 0
            days[at[ok]] = ((last.to_numpy() - day_zero) / np.timedelta64(1, "D"))[ok]
            out[str(rule)] = days
        return out

    def unsubscribe_rates(self) -> dict[str, float]:
        """Per channel: the share of delivered messages (every rule's) after which the
        customer unsubscribed, when the log says so."""
        sent = self.fired_log[self.fired_log["status"] == "delivered"]
        known = sent[sent["unsubscribed"].notna()]
        return {
            str(channel): float(rows["unsubscribed"].mean())
            for channel, rows in known.groupby("channel")
            if len(rows) >= MIN_SENDS
        }

    def exposure(self, customers: np.ndarray) -> Exposure:
        """The weights of `customers` (a summary's ids) for fits net of the policy."""
        return exposure_weights(customers, self.log, set(self.effective))


@dataclass(frozen=True)
class Measured:
    """What the log says once the buying model net of the policy is known."""

    market: Market  # with each measured rule's and channel's response
    summary: Summary  # with the induced purchases, the silence evidence, the rules fired
    responses: tuple[Response, ...]
    induced: int  # purchases up to the calibration end marked as brought by a message
    unsubscribes: dict[str, float]  # per channel: measured unsubscribes per delivered message


def read_log(
    history: pd.DataFrame, messages: pd.DataFrame, end: pd.Timestamp, policy: Policy
) -> LoggedPolicy:
    """Step 1: the log up to `end` against `history` (merged by day). `policy` sent the
    messages: which rules are transactional (no response) and each rule's offer."""
    log = messages[messages["date"] <= end]
    history = history[history["date"] <= end].reset_index(drop=True)  # nothing later is read
    transactional = {r.name for r in policy.rules} - _responsive(policy)
    effective = frozenset(set(log["rule"].unique()) - transactional)
    mine = log[log["rule"].isin(effective)]
    windows = {c: Market().channel(c).window_days for c in mine["channel"].unique()}
    sends = mine[mine["status"] == "delivered"][["customer_id", "date", "rule", "channel"]]
    sends = sends.assign(window=np.ceil(sends["channel"].map(windows)).astype(np.int64))
    delivered = log[log["status"] == "delivered"][["customer_id", "date"]]
    return LoggedPolicy(
        history=history,
        log=mine,
        fired_log=log,
        contacts=first_contacts(mine, history, windows, end),
        delivered=delivered,
        sends=sends,
        effective=effective,
        lifts=rule_offer_lifts(policy, Market()),
        end=end,
    )


def measured(
    logged: LoggedPolicy,
    market: Market,
    summary: Summary,
    buying: dict[str, float],
    rng: np.random.Generator,
) -> Measured:
    """Step 2, given BG/NBD's parameters (weeks) fitted net of the policy: the responses
    into `market`, and into `summary` the purchases the messages brought (marked with the
    random numbers of `rng`), the evidence of lapsing in unanswered messages, and each
    customer's last firing of each rule."""
    responses = measure(
        logged.contacts, logged.history, logged.delivered, buying, market, logged.lifts
    )
    channels = dict(market.channels)
    for name, (value, _) in channel_responses(responses).items():
        old = market.channel(name)
        channels[name] = ChannelResponse(**{**old.model_dump(), "response": value})
    unsubscribes = logged.unsubscribe_rates()
    for name, rate in unsubscribes.items():
        old = channels.get(name, market.channel(name))
        channels[name] = ChannelResponse(**{**old.model_dump(), "unsubscribe": rate})
    rules = dict(market.rules)
    for r in responses:
        if r.measured:
            rules[r.rule] = RuleResponse(response=r.response)
    market = market.model_copy(update={"channels": channels, "rules": rules})
    chance = {
        rule: market.response(rule, channel) * logged.lifts.get(rule, 1.0)
        for rule, channel in logged.sends[["rule", "channel"]]
        .drop_duplicates()
        .itertuples(index=False)
    }
    sends = logged.sends
    caused, woke = induced_chance(sends, logged.history, logged.delivered, buying, market, chance)
    marked, revived = mark_induced(logged.history, sends, caused, woke, rng)
    upto = (logged.history["date"] <= logged.end).to_numpy()
    counts = _per_customer(logged.history[marked & upto], summary.customers)
    wakes = _per_customer(logged.history[revived & upto], summary.customers)
    last = summary.first + np.rint(summary.t_x * 7.0).astype("timedelta64[D]")
    silence = silence_evidence(
        summary.customers, last, sends, logged.delivered, chance, market, logged.end
    )
    summary = replace(
        summary,
        fired=logged.fired(summary.customers),
        induced=counts,
        revived=wakes,
        silence=silence,
    )
    return Measured(market, summary, tuple(responses), int(counts.sum()), unsubscribes)


def _per_customer(rows: pd.DataFrame, customers: np.ndarray) -> np.ndarray:
    counts = rows.groupby("customer_id").size()
    out = np.zeros(len(customers), dtype=np.int64)
    at = pd.Index(customers).get_indexer(counts.index)
    out[at[at >= 0]] = counts.to_numpy()[at >= 0]
    return out


def _responsive(policy: Policy) -> set[str]:
    """The rules with a send step that is not transactional: the ones a response can follow."""
    return {
        policy.rules[s.rule].name
        for s in Program.of(policy).sites.values()
        if not s.send.transactional
    }
