"""What calibrate and forecast read a history with: the options that say how to read it,
and the checks of a history, its dates and a logged policy before any work starts."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Annotated

import typer

from ..core.file_kinds import empty_history
from .common import PROBLEMS, _compile_or_exit, _input_file, _out, _usage_error
from .file_kinds import HISTORY, SPEC

# The options that say how to read a history, shared by calibrate and forecast.
CustomerColumn = Annotated[
    str, typer.Option("--customer-col", help="The history's customer id column.")
]
DateColumn = Annotated[str, typer.Option("--date-col", help="The history's purchase date column.")]
AmountColumn = Annotated[
    str, typer.Option("--amount-col", help="The history's purchase amount column.")
]
ProductColumn = Annotated[
    str | None,
    typer.Option(
        "--product-col",
        help="The history's product column (default: `product` when there is one): existing"
        " customers own the products it names from day 0.",
    ),
]
Query = Annotated[str | None, typer.Option(help="SQL selecting the rows (databases).")]
Messages = Annotated[
    Path | None,
    typer.Option(
        help="The log of what the policy in force sent (CSV or Parquet, as `clm simulate"
        " --logs` writes it): fit net of that policy and measure its responses."
    ),
]


def _date_option(value: str, option: str) -> str:
    """A date option as YYYY-MM-DD (a time of day or a zone offset is dropped: the date as
    written), or a usage error naming the option."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise _usage_error(f"{option}: not a date: {value!r} (write YYYY-MM-DD)")
    return stamp.date().isoformat()


def _history_file(history: str, option: str = "") -> None:
    """A history that names a file (not a database URL) must be a readable file (or a
    folder of Parquet files)."""
    path = Path(history)
    if "://" not in history and not (path.is_dir() and path.suffix in (".parquet", ".pq")):
        _input_file(path, option, kind=HISTORY)
        empty = empty_history(path)
        if empty is not None:
            where = f"{option} " if option else ""
            raise _usage_error(f"{where}{path}: {empty[0]}", empty[1], PROBLEMS)


def _warn_history_end(frame, calibration_end: str, until: str | None = None) -> None:
    """Warn when the history stops well before the day it is used up to: a calibration counts
    the customers as silent to its end; a forecast is compared with the history only when it
    covers the forecast's period (`forecasting.observation`, which forecast.json's
    `not_compared` states too)."""
    from ..forecasting.observation import QUIET_DAYS, uncompared

    if frame.empty:
        return
    if until is not None:
        gap = uncompared(frame, calibration_end, until)
        if gap is not None:
            _out(f"warning: {gap}: the forecast is not compared with it", err=True)
        return
    last = frame["date"].max().date()
    if (datetime.date.fromisoformat(calibration_end) - last).days > QUIET_DAYS:
        _out(
            f"warning: the history's last purchase is on {last}, long before --calibration-end"
            f" {calibration_end}: every customer counts as observed, and silent, up to then",
            err=True,
        )
        _out("  hint: --calibration-end is the last day the history covers", err=True)


def _history_failure(error: Exception, history: str) -> typer.Exit:
    """Print a problem of the history, named by its file when the message does not say it
    (a URL is not repeated: it may hold a password); the exit to raise."""
    message = str(error)
    if "://" not in history and not message.startswith(history):
        message = f"{history}: {message}"
    _out(f"error: {message}", err=True)
    missing = _MISSING.search(message)
    if missing and "message log" not in message:
        option = _COLUMN_OPTIONS[missing.group(1)]
        _out(f"  hint: name the history's column that holds it: {option} NAME", err=True)
    return typer.Exit(PROBLEMS)


# A history's column not found under its default name: the option that names it
_MISSING = re.compile(r"no column `(customer_id|date|amount)`")
_COLUMN_OPTIONS = {"customer_id": "--customer-col", "date": "--date-col", "amount": "--amount-col"}


def _logged_policy(
    messages: Path | None, policy: Path | None, option: str, model: str, backtest: bool
):
    """The compiled policy that sent `messages`, checked before any work: both or neither."""
    if messages is not None and model not in ("auto", "bgnbd"):
        raise _usage_error(
            f"--model {model} and --messages: fits net of the policy in force use BG/NBD,"
            " whose posterior reads the message log"
        )
    if messages is not None and backtest:
        raise _usage_error("--backtest and --messages: fits net of the policy use BG/NBD")
    if messages is None:
        if policy is not None and option == "--policy":
            raise _usage_error("--policy: it names the policy that sent --messages; give both")
        return None
    _input_file(messages, "--messages")
    if policy is None:
        raise _usage_error(
            f"--messages: name the policy that sent them with {option} (which rules are"
            " transactional, and each rule's offer)"
        )
    _input_file(policy, option, kind=SPEC)
    return _compile_or_exit(policy)[0]
