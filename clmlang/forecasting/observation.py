"""Whether a history covers a forecast's period, so the forecast can be compared with what
happened.

A history's last purchase is the only sign of where it stops. A base buys in most weeks: a
history whose last purchase is more than `QUIET_DAYS` before the day it is used up to more
likely stops there (extracted earlier, a mistyped year) than fell silent. A forecast is
compared with its actual figures only when the history reaches the forecast's end: against
a history that stops earlier, the actual figures would count part of the period and the
forecast would look too high, "outside its range", for no fault of its own.
"""

from __future__ import annotations

import pandas as pd

QUIET_DAYS = 28


def uncompared(history: pd.DataFrame, calibration_end, until) -> str | None:
    """None when `history` covers the forecast period (after `calibration_end` up to
    `until`); else why the forecast cannot be compared with it, in words."""
    if history.empty:
        return "the history is empty"
    last = pd.Timestamp(history["date"].max()).normalize()
    end, until = pd.Timestamp(calibration_end), pd.Timestamp(until)
    if last <= end:
        return (
            f"the history ends on {last.date()}, before the forecast starts: nothing that"
            " happened in the forecast period is known"
        )
    if (until - last).days > QUIET_DAYS:
        return (
            f"the history ends on {last.date()}, long before {until.date()} (the forecast's"
            " end): it holds only part of the forecast period"
        )
    return None
