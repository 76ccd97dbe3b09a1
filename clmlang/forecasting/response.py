"""Each rule's and each channel's response, measured from what was sent against who was
held out (`clm calibrate --messages`).

**What is measured.** For every customer a rule reached, their first contact with it: sent
(delivered) or held back (in the rule's holdout or the global control group, both drawn at
random), and whether they bought within the response window after it (the channel's
`window_days`). The difference of the two shares is the lift in purchase probability, with
its standard error; p_held is the baseline. The share of sent customers who bought *because*
of the message, among those who would not have bought anyway, is rho = (p_sent - p_held) /
(1 - p_held). A rule with fewer than MIN_ARM customers in either arm has no measured
response: it keeps the market's assumption, and the report says so.

**What the simulator needs.** A message's chance of a response there is response x the
offer's lift x exp(-sensitivity x fatigue), x `offers.reactivation` for a lapsed customer
(docs/model.md). So rho is divided by the offer's lift and by the mean of the other factors
over the rule's first contacts: each contact's fatigue from the messages delivered before it,
and whether the customer was still active, from the buying model fitted net of the policy
(BG/NBD's P(alive) and chance of a purchase in the window, given the history to that day),
weighted as rho weights them, by the chance of not buying anyway. The result is the market's
`response`: per rule (`[market.rules.NAME]`), and per channel, the precision-weighted mean of
its rules'. It assumes the market's offer, fatigue and reactivation factors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..market.model import Market
from .timeline import history_at, purchase_after

__all__ = [
    "MIN_ARM",
    "Response",
    "channel_responses",
    "first_contacts",
    "induced_chance",
    "measure",
    "silence",
]

MIN_ARM = 30  # customers in each arm, at the least, to measure a response
WEEK = 7.0
FATIGUE_DEPTH = 40  # earlier messages read for a contact's fatigue (older ones add < 2^-40)


@dataclass(frozen=True)
class Response:
    """A rule's measured response (rates are shares of customers at their first contact)."""

    rule: str
    channel: str
    sent: int
    held: int
    converted_sent: float | None
    converted_held: float | None
    lift: float | None  # p_sent - p_held
    lift_se: float | None
    rho: float | None  # (p_sent - p_held) / (1 - p_held)
    offer_lift: float
    adjustment: float | None  # mean fatigue and activity factor at first contact
    response: float | None  # the market's response for the rule, None: not measured
    response_se: float | None
    note: str = ""

    @property
    def measured(self) -> bool:
        return self.response is not None

    @property
    def induced_share(self) -> float:
        """Of the sent customers who bought within the window, the share the message made
        buy: lift / p_sent (0 when not measured or not positive)."""
        if not self.measured or not self.converted_sent or self.lift is None:
            return 0.0
        return float(min(max(self.lift, 0.0) / self.converted_sent, 1.0))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def first_contacts(
    messages: pd.DataFrame, history: pd.DataFrame, windows: dict[str, float], end: pd.Timestamp
) -> pd.DataFrame:
    """Per (rule, customer): the first row that sent the message or held it back, with
    `arm` ("sent" or "held"), `window` (days) and `converted` (a purchase in the window).
    Contacts whose window runs past `end` (the history's last day) are left out: whether
    they bought is not known yet."""
    rows = messages[messages["status"].isin(("delivered", "held_out", "control"))]
    rows = rows.drop_duplicates(["rule", "customer_id"], keep="first").copy()
    rows["arm"] = np.where(rows["status"] == "delivered", "sent", "held")
    rows["window"] = rows["channel"].map(windows).fillna(max(windows.values(), default=14.0))
    rows["window"] = np.ceil(rows["window"]).astype(np.int64)
    rows = rows[rows["date"] + pd.to_timedelta(rows["window"], unit="D") <= end]
    found = purchase_after(history, rows["customer_id"], rows["date"], rows["window"])
    rows["converted"] = found >= 0
    return rows.reset_index(drop=True)


def measure(
    contacts: pd.DataFrame,
    history: pd.DataFrame,
    delivered: pd.DataFrame,
    buying: dict[str, float],
    market: Market,
    lifts: dict[str, float],
) -> list[Response]:
    """Each rule's response from its first contacts. `history`: the purchases (merged by
    day); `delivered`: every delivered message (customer_id, date), for fatigue;
    `buying`: BG/NBD's r, alpha (weeks), a, b fitted net of the policy; `lifts`: each rule's
    offer lift (1 without a policy)."""
    out = []
    for (rule, channel), group in contacts.groupby(["rule", "channel"], sort=True):
        sent = group[group["arm"] == "sent"]
        held = group[group["arm"] == "held"]
        n1, n0 = len(sent), len(held)
        lift = lifts.get(str(rule), 1.0)
        if n1 < MIN_ARM or n0 < MIN_ARM:
            why = "no holdout or control group" if n0 == 0 else f"fewer than {MIN_ARM}"
            out.append(
                Response(
                    str(rule),
                    str(channel),
                    n1,
                    n0,
                    _share(sent),
                    _share(held),
                    None,
                    None,
                    None,
                    lift,
                    None,
                    None,
                    None,
                    f"not measured ({why}): the market's assumption is kept",
                )
            )
            continue
        p1, p0 = float(sent["converted"].mean()), float(held["converted"].mean())
        var1, var0 = p1 * (1 - p1) / n1, p0 * (1 - p0) / n0
        rho = (p1 - p0) / max(1.0 - p0, 1e-12)
        rho_se = np.sqrt(var1 / (1 - p0) ** 2 + var0 * ((1 - p1) / (1 - p0) ** 2) ** 2)
        factor = _adjustment(sent, history, delivered, buying, market)
        scale = lift * factor
        note = "" if rho > 0 else "the sent did not buy more than the held-out: response 0"
        out.append(
            Response(
                str(rule),
                str(channel),
                n1,
                n0,
                p1,
                p0,
                p1 - p0,
                float(np.sqrt(var1 + var0)),
                float(rho),
                lift,
                float(factor),
                float(min(max(rho, 0.0) / scale, 1.0)),
                float(rho_se / scale),
                note,
            )
        )
    return out


def channel_responses(responses: list[Response]) -> dict[str, tuple[float, float]]:
    """Per channel: the precision-weighted mean of its measured rules' responses, and its
    standard error."""
    out = {}
    for channel in sorted({r.channel for r in responses if r.measured}):
        mine = [r for r in responses if r.measured and r.channel == channel]
        w = np.array([1.0 / max(r.response_se, 1e-12) ** 2 for r in mine])
        value = float(np.sum(w * [r.response for r in mine]) / w.sum())
        out[channel] = (value, float(1.0 / np.sqrt(w.sum())))
    return out


def _share(group: pd.DataFrame) -> float | None:
    return float(group["converted"].mean()) if len(group) else None


def _at_send(
    rows: pd.DataFrame,
    history: pd.DataFrame,
    delivered: pd.DataFrame,
    buying: dict[str, float],
    market: Market,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row (customer_id, date, window), under BG/NBD given the history to that day:
    P(active), the chance of no purchase in the window if active, and exp(-sensitivity x
    fatigue) from the messages delivered before it."""
    r, alpha, a, b = (buying[k] for k in ("r", "alpha", "a", "b"))
    _, x, t_x, T = history_at(history, rows["customer_id"], rows["date"])
    w = rows["window"].to_numpy(dtype=float) / WEEK
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio = (a / np.maximum(b + x - 1, 1e-300)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    alive = np.where(x > 0, 1.0 / (1.0 + ratio), 1.0)
    no_purchase = ((alpha + T) / (alpha + T + w)) ** (r + x)
    damp = np.exp(-market.fatigue.sensitivity * _fatigue(rows, delivered, market))
    return alive, no_purchase, damp


def _adjustment(
    sent: pd.DataFrame,
    history: pd.DataFrame,
    delivered: pd.DataFrame,
    buying: dict[str, float],
    market: Market,
) -> float:
    """The mean over `sent` contacts of exp(-sensitivity x fatigue) x (1 if active, else the
    reactivation factor), weighted by the chance of not buying anyway."""
    alive, no_purchase, damp = _at_send(sent, history, delivered, buying, market)
    stay = alive * no_purchase + (1.0 - alive)
    answer = damp * (alive * no_purchase + (1.0 - alive) * market.offers.reactivation)
    return float(answer.sum() / max(stay.sum(), 1e-300))


def induced_chance(
    sends: pd.DataFrame,
    history: pd.DataFrame,
    delivered: pd.DataFrame,
    buying: dict[str, float],
    market: Market,
    chance: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """For each delivered send (customer_id, date, rule, window): if a purchase followed
    within the window, the chance that the message caused it, and, if it did, the chance
    that it woke a lapsed customer. An active customer buys
    anyway with q and answers with pi (`chance[rule]`, the rule's response x offer lift,
    damped by fatigue); a lapsed one buys only by answering, with pi x the reactivation
    factor: (a (1 - q) pi + (1 - a) pi_lapsed) / (a (1 - (1 - q)(1 - pi)) + (1 - a)
    pi_lapsed), a = P(active) given the history to that day."""
    if sends.empty:
        return np.zeros(0), np.zeros(0)
    alive, stay, damp = _at_send(sends, history, delivered, buying, market)
    pi = np.minimum(sends["rule"].map(chance).fillna(0.0).to_numpy(dtype=float) * damp, 1.0)
    lapsed = pi * market.offers.reactivation
    caused = alive * stay * pi + (1.0 - alive) * lapsed
    bought = alive * (1.0 - stay * (1.0 - pi)) + (1.0 - alive) * lapsed
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            np.where(bought > 0, caused / bought, 0.0),
            np.where(caused > 0, (1.0 - alive) * lapsed / caused, 0.0),
        )


def _fatigue(contacts: pd.DataFrame, delivered: pd.DataFrame, market: Market) -> np.ndarray:
    """Each contact's fatigue just before it: per_message x 2^(-age / half-life) summed over
    the customer's messages delivered on earlier days."""
    f = market.fatigue
    epoch = np.datetime64("1970-01-01")
    ids = pd.Index(pd.unique(np.r_[delivered["customer_id"].to_numpy(), contacts["customer_id"]]))
    d_code = ids.get_indexer(delivered["customer_id"])
    d_day = (delivered["date"].to_numpy() - epoch) // np.timedelta64(1, "D")
    c_code = ids.get_indexer(contacts["customer_id"])
    c_day = (contacts["date"].to_numpy() - epoch) // np.timedelta64(1, "D")
    low = int(min(d_day.min(initial=0), c_day.min(initial=0)))
    span = float(max(d_day.max(initial=0), c_day.max(initial=0)) - low + 2)
    key = np.sort(d_code * span + (d_day - low))
    base = c_code * span
    before = np.searchsorted(key, base + (c_day - low), side="left")  # earlier days only
    begin = np.searchsorted(key, base, side="left")
    total = np.zeros(c_code.size)
    for k in range(1, FATIGUE_DEPTH + 1):
        at = before - k
        ok = at >= begin
        if not ok.any():
            break
        age = (base + (c_day - low)) - key[np.where(ok, at, 0)]
        total += np.where(ok, np.exp2(-age / f.half_life_days), 0.0)
    return f.per_message * total


def silence(
    customers: np.ndarray,
    last: np.ndarray,
    sends: pd.DataFrame,
    delivered: pd.DataFrame,
    responses: dict[str, float],
    market: Market,
    end: pd.Timestamp,
) -> np.ndarray:
    """Per customer: the log-likelihood ratio, active against lapsed, of the messages they
    left unanswered since their last purchase (`last`, a datetime64 per customer). An active
    customer answers a message with chance pi = response x offer lift x exp(-sensitivity x
    fatigue), a lapsed one with pi x the reactivation factor, so each unanswered message
    adds log((1 - pi) / (1 - pi x reactivation)): silence after messages is evidence of
    having lapsed, which the buying model alone does not see. A message whose window runs
    past `end` counts for the part of it that was seen. `sends`: the delivered messages of
    the rules that can bring a response (customer_id, date, rule, window); `responses`: each
    rule's response x offer lift."""
    out = np.zeros(len(customers))
    if sends.empty or not responses:
        return out
    index = pd.Index(customers)
    at = index.get_indexer(sends["customer_id"])
    day = sends["date"].to_numpy()
    after = (at >= 0) & (day >= last[np.maximum(at, 0)]) & (day <= end.to_datetime64())
    sends, at, day = sends[after], at[after], day[after]
    base = sends["rule"].map(responses).to_numpy(dtype=float)
    known = np.isfinite(base)
    seen = (end.to_datetime64() - day) / np.timedelta64(1, "D")
    share = np.clip(seen / np.maximum(sends["window"].to_numpy(dtype=float), 1.0), 0.0, 1.0)
    fatigue = _fatigue(sends, delivered, market)
    active = np.minimum(base * np.exp(-market.fatigue.sensitivity * fatigue), 1.0) * share
    lapsed = active * market.offers.reactivation
    with np.errstate(divide="ignore"):
        ratio = np.log1p(-np.minimum(active, 1 - 1e-12)) - np.log1p(-lapsed)
    np.add.at(out, at[known], ratio[known])
    return out
