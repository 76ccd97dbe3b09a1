"""The event logs of a forecast of a real base (`clm forecast --logs`): the first
replication's purchases and messages, the customers named by the history's ids.

The replications run side by side as blocks of one population; the logs keep the first block
(the first replication) and the customers acquired during the run, named `new-1`, `new-2`, ...
in the order they arrived. With the policy in force given (`--current`), the current policy's
first replication is logged too, and a column `policy` (new, current) says whose each row is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..simulation.engine import Run
from ..simulation.logs import event_logs

__all__ = ["block_logs", "joined_logs"]


def block_logs(run: Run, ids: np.ndarray, blocks: int) -> dict[str, pd.DataFrame]:
    """The logs of the first of `blocks` blocks of `run` (its customers are `ids`, the
    history's), and of the customers acquired after the blocks."""
    n = ids.size
    out = {}
    for name, frame in event_logs(run).items():
        who = frame["customer_id"].to_numpy(dtype=np.int64)
        keep = (who < n) | (who >= n * blocks)
        frame = frame[keep].reset_index(drop=True)
        who = who[keep]
        names = np.where(
            who < n,
            ids[np.minimum(who, n - 1)].astype(str),
            np.char.add("new-", (who - n * blocks + 1).astype(str)),
        )
        frame["customer_id"] = names.astype(object)
        out[name] = frame
    return out


def joined_logs(logs: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """One policy's logs as they are; two (new, current) one after the other, with `policy`."""
    if len(logs) == 1:
        return logs[0]
    out = {}
    for name in logs[0]:
        parts = []
        for label, kept in zip(("new", "current"), logs, strict=False):
            frame = kept[name].copy()
            frame.insert(0, "policy", label)
            parts.append(frame)
        out[name] = pd.concat(parts, ignore_index=True)
    return out
