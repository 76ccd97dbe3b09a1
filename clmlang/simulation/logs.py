"""A run's event logs as tables: every purchase and every message a rule's flow reached.

`purchases`: customer_id, date, amount (the columns `clm calibrate` reads, so a simulated
world goes straight back into calibration), product, line, and the rule (and variant) whose
message the purchase answered, if any. Subscription renewals are billing, not purchases:
they are in daily.csv's `subscription_revenue`, not here.

`messages`: one row per customer a rule reached on a day: customer_id, date, rule, variant,
channel, status (delivered; held_out: in the rule's holdout, so nothing was sent; control:
in the global control group; capped; delayed by a cap to a later day, where it has a row of
its own; over_capacity; not_reachable: unsubscribed or no consent on the channel),
unsubscribed (this message made the customer unsubscribe from the channel) and converted
(a purchase in the rule's window, its success window else 30 days, after the day: the
same test for every status, so the held-out rows are the baseline of the sent ones).

`events` (only for a spec that declares behavioural events): customer_id, date, event,
count (how many of that event the customer had that day).

Rows are in the order of time, then customer. Written as CSV, or as Parquet when a log has
more than PARQUET_ROWS rows and pyarrow (the `[parquet]` extra) is installed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.extras import MissingExtra, require
from ..core.files import write_atomic
from .engine import Run
from .engine.recorder import NOT_SENT

__all__ = [
    "FORMATS",
    "LOGS",
    "PARQUET_ROWS",
    "event_logs",
    "log_files",
    "log_format",
    "write_outputs",
]

LOGS = ("purchases", "messages")
FORMATS = ("auto", "csv", "parquet")
PARQUET_ROWS = 1_000_000  # "auto" writes a log longer than this as Parquet
STATUSES = ("delivered", "held_out", *NOT_SENT)
DEFAULT_WINDOW = 30.0  # days, for a rule with no success window (as rules.csv counts it)


def event_logs(run: Run) -> dict[str, pd.DataFrame]:
    """The run's `purchases` and `messages` logs, and `events` when the spec declares
    behavioural events (see the module docstring)."""
    out = {"purchases": _purchases(run), "messages": _messages(run)}
    if run.policy.events:
        out["events"] = _events(run)
    return out


def _events(run: Run) -> pd.DataFrame:
    log = run.recorder.events.arrays()
    order = np.lexsort((log["event"], log["customer"], log["day"]))
    log = {k: v[order] for k, v in log.items()}
    return pd.DataFrame(
        {
            "customer_id": log["customer"],
            "date": _dates(run, log["day"].astype(np.int64)),
            "event": _names(log["event"].astype(np.int64), [e.name for e in run.policy.events]),
            "count": log["count"],
        }
    )


def _dates(run: Run, day: np.ndarray) -> np.ndarray:
    start = np.datetime64(run.market.start_date, "D")
    return (start + day.astype("timedelta64[D]")).astype("datetime64[ns]")


def _names(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """`codes` (-1: none) as a categorical of `names`; none, like a name "", is empty in a
    file (missing in the table)."""
    categories = [n for n in dict.fromkeys(names) if n]  # duplicates (variants) share one
    index = {name: i for i, name in enumerate(categories)}
    lookup = np.array([index.get(name, -1) for name in names] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(lookup[codes], categories=categories)


def _purchases(run: Run) -> pd.DataFrame:
    log = run.recorder.purchases.arrays()
    order = np.lexsort((log["customer"], log["time"]))
    log = {k: v[order] for k, v in log.items()}
    policy = run.policy
    product = log["product"].astype(np.int64)
    line_of = np.array(
        [policy.lines.index(p.line) if p.line else -1 for p in policy.products] + [-1],
        dtype=np.int64,
    )
    arm = log["arm"].astype(np.int64)
    rule_of = np.array([r for r, _ in run.arms] + [-1], dtype=np.int64)
    return pd.DataFrame(
        {
            "customer_id": log["customer"],
            "date": _dates(run, np.floor(log["time"]).astype(np.int64)),
            "amount": log["revenue"],
            "product": _names(product, [p.name for p in policy.products]),
            "line": _names(line_of[product], list(policy.lines)),
            "rule": _names(rule_of[arm], [r.name for r in policy.rules]),
            "arm": _names(arm, [label for _, label in run.arms]),
        }
    )


def _messages(run: Run) -> pd.DataFrame:
    rec, policy = run.recorder, run.policy
    sent = rec.messages.arrays()
    unsent = rec.unsent.arrays()
    events = rec.rule_events.arrays()
    site_arm = np.array([_arm(run, s) for s in run.sites] + [-1], dtype=np.int64)
    site_channel = np.array([s.channel for s in run.sites] + [-1], dtype=np.int64)
    holdout = np.array([label == "holdout" for _, label in run.arms] + [False])
    held = holdout[events["arm"]] if events["arm"].size else np.zeros(0, bool)
    arm_rule = np.array([r for r, _ in run.arms], dtype=np.int64)
    held_arm = events["arm"][held].astype(np.int64)
    parts = {
        "customer": (sent["customer"], unsent["customer"], events["customer"][held]),
        "day": (sent["day"], unsent["day"], events["day"][held]),
        "arm": (sent["arm"], site_arm[unsent["site"]], held_arm),
        "channel": (
            sent["channel"],
            site_channel[unsent["site"]],
            _rule_channel(run)[arm_rule[held_arm]],
        ),
        "status": (
            np.zeros(sent["day"].size, np.int64),
            unsent["status"].astype(np.int64) + 1,
            np.ones(held_arm.size, np.int64),
        ),
        "unsubscribed": (
            sent["unsubscribed"],
            np.zeros(unsent["day"].size, bool),
            np.zeros(held_arm.size, bool),
        ),
    }
    col = {k: np.concatenate([np.asarray(p, dtype=np.int64) for p in v]) for k, v in parts.items()}
    order = np.lexsort((col["customer"], col["day"]))
    col = {k: v[order] for k, v in col.items()}
    rule_of = np.array([r for r, _ in run.arms] + [-1], dtype=np.int64)
    variants = ["" if label == "holdout" else label for _, label in run.arms]
    return pd.DataFrame(
        {
            "customer_id": col["customer"].astype(np.int32),
            "date": _dates(run, col["day"]),
            "rule": _names(rule_of[col["arm"]], [r.name for r in policy.rules]),
            "arm": _names(col["arm"], variants),
            "channel": _names(col["channel"], [c.name for c in policy.channels]),
            "status": pd.Categorical.from_codes(col["status"], categories=list(STATUSES)),
            "unsubscribed": col["unsubscribed"].astype(bool),
            "converted": _converted(run, col["customer"], col["day"], rule_of[col["arm"]]),
        }
    )


def _arm(run: Run, site) -> int:
    """The arm a send step belongs to (its rule's variant, or the rule without variants)."""
    for arm, (r, label) in enumerate(run.arms):
        if r != site.rule or label == "holdout":
            continue
        rule = run.policy.rules[r]
        if not rule.variants or rule.variants[site.variant].name == label:
            return arm
    return -1


def _rule_channel(run: Run) -> np.ndarray:
    """Each rule's channel when all its messages use one (a held-out row's channel is the
    one it would have been sent on), else -1."""
    out = np.full(len(run.policy.rules), -1, dtype=np.int64)
    for r in range(len(run.policy.rules)):
        channels = {s.channel for s in run.sites if s.rule == r}
        if len(channels) == 1:
            out[r] = channels.pop()
    return out


def _converted(run: Run, customer: np.ndarray, day: np.ndarray, rule: np.ndarray) -> np.ndarray:
    """Whether each (customer, day, rule) row is followed by a purchase within the rule's
    window: at a time in [day + 1, day + 1 + window)."""
    log = run.recorder.purchases.arrays()
    windows = np.array(
        [r.flow.success.within_days if r.flow.success else DEFAULT_WINDOW for r in run.policy.rules]
        + [DEFAULT_WINDOW]
    )
    # purchases sorted by (customer, time) as one key, each customer's keys in a span of
    # their own wide enough that a window never reaches the next customer's
    span = float(run.days) + 2.0 + float(windows.max())
    key = log["customer"].astype(np.float64) * span + log["time"]
    key.sort()
    start = customer.astype(np.float64) * span + day + 1.0
    end = start + windows[rule]
    return np.searchsorted(key, end, side="left") > np.searchsorted(key, start, side="left")


def log_format(rows: int, requested: str = "auto") -> tuple[str, str | None]:
    """The format ("csv" or "parquet") to write a log of `rows` rows in, and a note when
    "auto" would have chosen Parquet but pyarrow is missing. Raises `MissingExtra` when
    Parquet is asked for and pyarrow is not installed, `ValueError` for an unknown format."""
    if requested not in FORMATS:
        raise ValueError(f"log format: one of {', '.join(FORMATS)}, not {requested!r}")
    if requested == "csv":
        return "csv", None
    if requested == "parquet":
        require("pyarrow", "writing logs as Parquet")
        return "parquet", None
    if rows <= PARQUET_ROWS:
        return "csv", None
    try:
        require("pyarrow", "writing long logs as Parquet")
    except MissingExtra:
        return "csv", (
            f"a log of {rows:,} rows is written as CSV; logs of more than {PARQUET_ROWS:,} rows"
            " are written as Parquet once pyarrow is installed: pip install 'clmlang[parquet]'"
        )
    return "parquet", None


def log_files(logs: dict[str, pd.DataFrame], requested: str = "auto") -> dict[str, str | bytes]:
    """Each log's file name and contents, in the format `log_format` chooses for its size."""
    out: dict[str, str | bytes] = {}
    for name, frame in logs.items():
        fmt, _ = log_format(len(frame), requested)
        if fmt == "parquet":
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            out[f"{name}.parquet"] = buffer.getvalue()
        else:
            out[f"{name}.csv"] = frame.to_csv(index=False, float_format="%.2f")
    return out


def write_outputs(
    folder: str | Path,
    files: dict[str, str],
    logs: dict[str, pd.DataFrame] | None = None,
    requested: str = "auto",
) -> list[Path]:
    """Write each of `files` (name: contents, built in memory first) atomically into
    `folder`, and the `logs` too when given (`log_files`); the paths written."""
    out: dict[str, str | bytes] = dict(files)
    if logs is not None:
        out.update(log_files(logs, requested))
    written = []
    for name, data in out.items():
        write_atomic(Path(folder) / name, data)
        written.append(Path(folder) / name)
    return written
