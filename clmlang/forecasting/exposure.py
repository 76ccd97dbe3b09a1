"""Who the policy in force reached, and the history as it would have been without it.

A purchase history made under a marketing policy mixes buying with the policy's effect;
fitted as it is, the policy is mistaken for buying behaviour and then counted again when it
is simulated. The message log separates them, because holdouts and the global control
group are randomised:

- **Weights.** A customer whom no message of the policy reached has the history they would
  have had without it. Whether that happened was random for every customer a rule reached
  (held out, in the control group, or not reachable), with a probability read from the log:
  P(no message) = c + (1 - c) * prod over the rules that reached them of q_rule, where c is
  the control group's share and q_rule the share of the rule's other customers it never
  delivered to. Customers reached by no rule are certain to be untouched. Weighting each
  untouched customer by 1 / P(no message) and every other customer by 0 (inverse
  propensity weighting, Horvitz-Thompson) makes them stand for the whole base as it would
  have bought without marketing; the buying and spend models are fitted with these weights.
- **Induced purchases.** Each customer's own history still carries the purchases the
  messages brought, which would inflate their forecast. After a delivered message followed
  by a purchase within the response window, that purchase is marked as brought by the
  message with the chance, under the buying model and the measured response, that the
  message caused it (response.induced_chance), using the random numbers passed in. A marked
  purchase stays in the history: it was a chance to drop out, as every purchase is
  (removing it would make a customer who stopped after answering a win-back look as if they
  could not have stopped), but it is no evidence of the customer's buying rate; and when
  the message woke a lapsed customer, a dropout happened before it (posterior.py
  reads both). The messages a customer left unanswered since their last purchase are
  evidence of lapsing (response.silence).

A rule whose every reached customer got its message (no holdout, no control group) gives
no untouched customer to stand for the others: its effect cannot be separated, so it is
left in the history (and said so in the report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .timeline import purchase_after

__all__ = ["Exposure", "exposure_weights", "mark_induced"]


@dataclass(frozen=True)
class Exposure:
    """What the log says about the customers: per customer of the summary, their weight."""

    weights: np.ndarray  # per customer: 1 / P(untouched) when untouched, else 0
    untouched: int  # customers no message reached
    reached: int  # customers some separable rule reached
    control_share: float
    never_sent: dict[str, float]  # per separable rule: q, the share it never delivered to
    inseparable: tuple[str, ...]  # rules that delivered to every customer they reached

    def effective_customers(self) -> float:
        """Kish's effective sample size of the weighted fit: (sum w)^2 / sum w^2."""
        w = self.weights
        return float(w.sum() ** 2 / max((w**2).sum(), 1e-300))


def exposure_weights(
    customers: np.ndarray, messages: pd.DataFrame, effective: set[str]
) -> Exposure:
    """The weights of `customers` (the summary's ids, as text) given `messages` (the log, up
    to the calibration end) and the rules whose messages can change buying (`effective`:
    not transactional)."""
    log = messages[messages["rule"].isin(effective)]
    control = set(log.loc[log["status"] == "control", "customer_id"])
    outside = log[~log["customer_id"].isin(control)]
    sent = (outside["status"] == "delivered").rename("delivered")
    delivered = sent.groupby([outside["rule"], outside["customer_id"]]).max()
    per_rule = delivered.groupby(level="rule").agg(["size", "sum"])
    never = {
        str(rule): float(1.0 - row["sum"] / row["size"])
        for rule, row in per_rule.iterrows()
        if row["size"] > 0
    }
    for rule in set(log["rule"]) - set(never):  # reached only customers of the control group
        never[str(rule)] = 1.0
    everyone = log["customer_id"].unique()
    c = len(control & set(everyone)) / max(len(everyone), 1)
    # a rule that delivered to every customer outside the control group is separable only
    # through the control group
    inseparable = tuple(sorted(r for r, q in never.items() if q <= 0.0 and c <= 0.0))
    separable = {r: q for r, q in never.items() if r not in inseparable}
    log = log[log["rule"].isin(separable)]
    touched = set(log.loc[log["status"] == "delivered", "customer_id"])
    # per customer: the product of q over the rules that reached them
    rules_of = log.drop_duplicates(["customer_id", "rule"])
    q = rules_of["rule"].map(separable).astype(float)
    product = q.groupby(rules_of["customer_id"].to_numpy()).prod()
    p_untouched = c + (1.0 - c) * product
    index = pd.Index(customers)
    weights = np.ones(customers.size)
    where = index.get_indexer(p_untouched.index)
    known = where >= 0
    weights[where[known]] = 1.0 / p_untouched.to_numpy()[known]
    hit = index.get_indexer(list(touched))
    weights[hit[hit >= 0]] = 0.0
    return Exposure(
        weights=weights,
        untouched=int((weights > 0).sum()),
        reached=int(known.sum()),
        control_share=float(c),
        never_sent=separable,
        inseparable=inseparable,
    )


def mark_induced(
    history: pd.DataFrame,
    sends: pd.DataFrame,
    chance: np.ndarray,
    woke: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Which purchases of `history` (merged by day, sorted by customer and date) a message
    brought: after each delivered send (`sends`: customer_id, date, window in days) followed
    by a purchase within its window, that purchase, unless it is the customer's first, is
    marked with the send's `chance` (of a purchase in its window, the chance the message
    caused it); a marked purchase is also marked as having woken a lapsed customer with the
    send's chance `woke`. Two bools per row of `history`: induced, and woken."""
    marked = np.zeros(len(history), dtype=bool)
    revived = np.zeros(len(history), dtype=bool)
    if sends.empty:
        return marked, revived
    row = purchase_after(history, sends["customer_id"], sends["date"], sends["window"])
    hit = np.flatnonzero(row >= 0)
    u = rng.random((2, hit.size))
    took = hit[u[0] < np.asarray(chance)[hit]]
    ids = history["customer_id"].to_numpy()
    first = np.r_[True, ids[1:] != ids[:-1]]  # (sorted by customer and date)
    rows, at = np.unique(row[took], return_index=True)  # one mark per purchase
    keep = ~first[rows]
    marked[rows[keep]] = True
    woken = (u[1][np.isin(hit, took)][at] < np.asarray(woke)[took][at])[keep]
    revived[rows[keep][woken]] = True
    return marked, revived
