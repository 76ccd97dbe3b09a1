"""Message logs: what a policy sent, to whom and when, and who was held out.

One row per customer a rule reached on a day, as `clm simulate --logs` writes it
(clmlang/simulation/logs.py): `customer_id`, `date`, `rule`, `channel`, `status`, and
optionally `arm` (the rule's A/B arm; `variant` in older logs) and `unsubscribed` (true
when the message made the customer unsubscribe from the channel). The statuses:
`delivered`; `held_out` (in the rule's holdout: nothing was sent); `control` (in the global
control group); `capped`, `delayed`, `over_capacity`, `not_reachable` (not sent for those
reasons). A log from another tool is mapped to these
columns and statuses by whoever exports it. Whether a message converted is not read from
the log: it is worked out from the purchase history (a purchase within the rule's window).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .dates import AmbiguousDates
from .history import HistoryError, _parse_dates, read_table

__all__ = ["COLUMNS", "STATUSES", "load_messages"]

COLUMNS = ("customer_id", "date", "rule", "channel", "status")
STATUSES = (
    "delivered",
    "held_out",
    "control",
    "not_reachable",
    "capped",
    "delayed",
    "over_capacity",
)


def load_messages(source: str | Path | pd.DataFrame, *, query: str | None = None) -> pd.DataFrame:
    """Read and check a message log: columns `customer_id` (text), `date` (datetime64, the
    day), `rule`, `channel`, `status` (categorical over STATUSES), `arm` (the rule's A/B
    arm, "" when the log has none) and `unsubscribed` (1.0 or 0.0; NaN when the log has no
    such column). `source`: a .csv or .parquet file, a SQLAlchemy URL with `query`, or a
    DataFrame. Raises `HistoryError` naming the file, the row and the column."""
    if isinstance(source, pd.DataFrame):
        raw, where, by_index = source, "<dataframe>", True
    else:
        (raw, where), by_index = read_table(source, query, "a message log"), False
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise HistoryError(
            f"{where}: no column `{missing[0]}`; a message log has the columns "
            f"{', '.join(COLUMNS)} (and optionally arm), as `clm simulate --logs` writes it"
        )

    def refuse(mask: np.ndarray, column: str, what: str) -> HistoryError:
        row = int(np.flatnonzero(mask)[0])
        place = f"index {raw.index[[row]].tolist()[0]!r}" if by_index else f"row {row + 2}"
        return HistoryError(
            f"{where}: {place}, column `{column}`: {what}: {raw[column].iloc[row]!r}"
        )

    text = {c: raw[c].astype(str).str.strip() for c in ("customer_id", "rule", "channel", "status")}
    for column, values in text.items():
        nul = values.str.contains("\x00", regex=False).to_numpy()
        if nul.any():
            raise refuse(nul, column, "a NUL byte (a corrupt file?)")
        empty = ((values == "") | raw[column].isna()).to_numpy()
        if empty.any():
            raise refuse(empty, column, "empty")
    try:
        dates = _parse_dates(raw["date"])
    except AmbiguousDates as error:
        mask = np.arange(len(raw)) == error.row
        raise refuse(mask, "date", error.what(lambda r: f"row {r + 2}")) from None
    if dates.isna().any():
        raise refuse(dates.isna().to_numpy(), "date", "not a date")
    unknown = ~text["status"].isin(STATUSES).to_numpy()
    if unknown.any():
        raise refuse(unknown, "status", f"not a status (one of {', '.join(STATUSES)})")
    # the rule's A/B arm: `arm`, as `clm simulate --logs` writes it (`variant` in older logs)
    named = "arm" if "arm" in raw.columns else "variant" if "variant" in raw.columns else None
    arm = (
        raw[named].astype(str).str.strip().replace("nan", "")
        if named
        else pd.Series("", index=raw.index)
    )
    unsubscribed = np.full(len(raw), np.nan)
    if "unsubscribed" in raw.columns:
        flag = raw["unsubscribed"].astype(str).str.strip().str.lower()
        bad = ~flag.isin(("true", "false", "1", "0", "")).to_numpy()
        if bad.any():
            raise refuse(bad, "unsubscribed", "not true or false")
        unsubscribed = flag.isin(("true", "1")).to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "customer_id": text["customer_id"].to_numpy(),
            "date": dates.dt.normalize().to_numpy(),
            "rule": text["rule"].to_numpy(),
            "arm": arm.to_numpy(),
            "channel": text["channel"].to_numpy(),
            "status": pd.Categorical(text["status"].to_numpy(), categories=list(STATUSES)),
            "unsubscribed": unsubscribed,
        }
    )
    return frame.sort_values(["date", "customer_id"], kind="stable").reset_index(drop=True)
