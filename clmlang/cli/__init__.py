"""The `clm` command line: parses arguments, calls the library, renders results.

One module per group of commands (`language`, `simulation`, `changes`, `history`, `editor`), all
registered on one Typer app. Exit codes: 0 ok, 1 problems found, 2 usage error, 3 internal
error (a bug in clmlang: the message says how to get the traceback); `clm diff` follows
`terraform plan -detailed-exitcode` instead (0 no change, 1 error, 2 changes).
"""

from __future__ import annotations

import os
import sys

from ..core.extras import MissingExtra
from . import changes, editor, history, language, simulation  # noqa: F401  (they register commands)
from .common import INTERNAL, OK, PROBLEMS, USAGE, _out, app

__all__ = ["INTERNAL", "OK", "PROBLEMS", "USAGE", "app", "main"]


def main() -> None:
    """Entry point of the `clm` console script."""
    try:
        app(standalone_mode=True)
    except MissingExtra as error:  # an optional part that is not installed: say which extra
        _out(f"error: {error}", err=True)
        sys.exit(USAGE)
    except KeyboardInterrupt:
        _out("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # the last safety net: a bug must not look like bad input
        if os.environ.get("CLM_DEBUG"):
            raise
        _out(
            f"internal error: {type(error).__name__}: {error}\n"
            "  hint: this is a bug in clmlang, not in your input; run again with CLM_DEBUG=1 "
            "for the traceback and report it",
            err=True,
        )
        sys.exit(INTERNAL)
