"""The `clm` command line: parses arguments, calls the library, renders results.

One module per group of commands (`language`, `simulation`, `changes`, `history`, `editor`), all
registered on one Typer app. Exit codes: 0 ok, 1 problems found, 2 usage error, 3 internal
error (a bug in clmlang: the message says how to get the traceback); 130 interrupted (Ctrl-C);
`clm diff` follows `terraform plan -detailed-exitcode` instead (0 no change, 1 error, 2 changes).

This module imports nothing heavy: the commands (Typer, rich, numpy, ...) are imported inside
`main()`, after its Ctrl-C guard is in place, so an interrupt during start-up is one line too.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading
from typing import Any

from ..core.extras import MissingExtra

OK, PROBLEMS, USAGE, INTERNAL, INTERRUPTED = 0, 1, 2, 3, 130

__all__ = ["INTERNAL", "OK", "PROBLEMS", "USAGE", "app", "main"]

_COMMANDS = ("changes", "editor", "history", "language", "simulation")

# the module that registers each command: `clm simulate ...` imports `simulation` alone, not
# the forecasting, the language server or the diff's modules (tests/test_cli_startup.py
# checks that this covers every command)
_MODULE_OF = {
    "diff": "changes",
    "test": "changes",
    "lsp": "editor",
    "calibrate": "history",
    "forecast": "history",
    "check": "language",
    "compile": "language",
    "schema": "language",
    "fmt": "language",
    "explain": "language",
    "version": "language",
    "simulate": "simulation",
    "run": "simulation",
}


def _wanted(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: the one of its command (the first word not
    an option), or all of them (`clm --help`, no command, a mistyped one: Typer lists them)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return (_MODULE_OF[word],) if word in _MODULE_OF else _COMMANDS


def _load(names: tuple[str, ...] | None = None) -> Any:
    """Import the command modules (they register their commands): `names`, by default those
    the command line (sys.argv) needs; the Typer app."""
    for name in _wanted(sys.argv[1:]) if names is None else names:
        importlib.import_module(f".{name}", __name__)
    return importlib.import_module(".common", __name__).app


def __getattr__(name: str) -> Any:
    # `clmlang.cli.app` and the command modules, loaded on first use (PEP 562): all of them.
    if name == "app" or name in _COMMANDS or name == "common":
        app = _load(_COMMANDS)
        return app if name == "app" else sys.modules[f"{__name__}.{name}"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _interrupted() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the message
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
        sys.stdout.flush()
    # CPython remembers a KeyboardInterrupt that passed through PyRun_String (Cython modules
    # run code that way while numpy and pandas import) and, at a normal exit, kills the
    # process with SIGINT instead of returning our 130: leave without that exit.
    os._exit(INTERRUPTED)


def _from_interrupt(error: BaseException) -> bool:
    """Whether `error` comes from a Ctrl-C: a KeyboardInterrupt that landed inside C code
    which then failed otherwise (numba's dispatcher, between a kernel's return and Python:
    `SystemError: CPUDispatcher(...) returned a result with an exception set`, the interrupt
    its cause) is still the user's Ctrl-C, not a bug."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _interrupt_when_unraisable(previous: Any) -> Any:
    """A hook for exceptions Python cannot raise (in a finaliser or a garbage collector's
    callback): a Ctrl-C that lands there is printed as "Exception ignored" and lost, and the
    command would go on as if never interrupted. Here it interrupts the command instead."""

    def hook(unraisable: Any) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            _interrupted()
        previous(unraisable)

    return hook


def _leave(done: SystemExit) -> None:
    """End the process at once with `done`'s exit code, skipping the interpreter's own
    finalisation: tearing down every module and freeing every object one by one (numpy's
    and numba's included) cost a 1,000,000-customer `clm simulate` about 0.6 s of CPU after
    its work was done, on its critical path when it runs workers. Nothing is lost: the output
    files are written and closed (atomically) by then, stdout and stderr are flushed here,
    and the exit functions run here as at a normal exit (atexit: multiprocessing's join of
    its children, `weakref.finalize`'s temporary folders, logging's flush). Returns (the
    normal exit follows) when a thread other than daemons is still running, whose end a
    normal exit would wait for, when the code is not a number, or when a flush fails (a
    closed pipe: the normal exit reports it as before)."""
    code = 0 if done.code is None else done.code
    if not isinstance(code, int) or any(
        not t.daemon for t in threading.enumerate() if t is not threading.main_thread()
    ):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):  # what the exit functions printed
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    """Entry point of the `clm` console script and of `python -m clmlang`. Called from the
    program's `__main__` (the console script, `python -m clmlang`), it ends the process once
    the command is done (`_leave`); called from anywhere else (a test, a notebook) it raises
    SystemExit with the exit code, as a Typer program does, and the caller goes on."""
    leave = sys._getframe(1).f_globals.get("__name__") == "__main__"
    sys.unraisablehook = _interrupt_when_unraisable(sys.unraisablehook)
    # BLAS on one thread unless told otherwise, set before numpy loads OpenBLAS: clm's matrix
    # products are small (the fits' L-BFGS-B steps, Hessians, a posterior's grid), and
    # OpenBLAS's idle threads spin on every one of them, on every core: `clm forecast` spent
    # 1 s of CPU of 9 there. Bigger work is split by clm itself (--workers).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app = _load()
        app(prog_name="clm", standalone_mode=True)
    except MissingExtra as error:  # an optional part that is not installed: say which extra
        sys.stderr.write(f"error: {error}\n")
        sys.exit(USAGE)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as done:
        # Typer turns a KeyboardInterrupt inside a command into a silent exit 130.
        if done.code == INTERRUPTED:
            _interrupted()
        if leave:
            _leave(done)
        raise
    except Exception as error:  # the last safety net: a bug must not look like bad input
        if _from_interrupt(error):
            _interrupted()
        if os.environ.get("CLM_DEBUG"):
            raise
        sys.stderr.write(
            f"internal error: {type(error).__name__}: {error}\n"
            "  hint: this is a bug in clmlang, not in your input; run again with CLM_DEBUG=1 "
            "for the traceback and report it\n"
        )
        sys.exit(INTERNAL)
