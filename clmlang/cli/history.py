"""Commands on real purchase histories: calibrate and forecast."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..market.model import MAX_REPLICATIONS, MarketError
from .common import (
    PROBLEMS,
    _color,
    _compile_or_exit,
    _input_file,
    _market_failure,
    _note_log_formats,
    _out,
    _output_file,
    _output_folder,
    _usage_error,
    _write,
    _write_all,
    app,
    input_path,
    output_path,
)
from .file_kinds import SCENARIO, SPEC
from .forecast_lines import print_forecast, program_place
from .history_input import (
    AmountColumn,
    CustomerColumn,
    DateColumn,
    Messages,
    ProductColumn,
    Query,
    _date_option,
    _history_failure,
    _history_file,
    _logged_policy,
    _warn_history_end,
)


@contextmanager
def _steps() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr for calibration's steps and the forecast's simulated days,
    as `clm simulate` has; nothing when stderr is not a terminal (a pipe, a CI log)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False),
        transient=True,
        disable=not _color(sys.stderr),
    ) as bar:
        task = bar.add_task("reading the history", total=None)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        yield update


@contextmanager
def _long_lived() -> Iterator[Callable[[], None]]:
    """Keep Python's cyclic garbage collector off what the command loaded, for its duration.

    A full collection walks every object it tracks, and most of a command's are the
    program's and its libraries' (modules, classes, functions, the compiled specs), loaded
    once and kept to the end: with them in sight, the forecast's full collections cost
    about 0.3 s of CPU with no spec, and several seconds with rules (the engine's objects
    come and go every simulated day). The command runs with the collector off until it
    calls the yielded function, after its imports and its specs; that moves everything
    loaded so far out of the collector's sight (`gc.freeze`) and turns it back on: the
    command's own objects are collected as before. Undone at the end (`gc.unfreeze`): a
    caller in the same process (a test) gets its collector back as it was. A caller that
    froze objects of its own keeps them frozen, and nothing is frozen here (else what the
    command loaded would stay out of the collector's sight after it, never collected).
    Measured in docs/forecasting.md ("Speed")."""
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()  # the command's imports, until `loaded` is called

    def loaded() -> None:
        if not frozen:  # (a caller's frozen heap is its own: nothing of ours joins it)
            gc.freeze()
        if enabled:
            gc.enable()

    try:
        yield loaded
    finally:
        if enabled:
            gc.enable()
        if not frozen:
            gc.unfreeze()


@app.command(name="calibrate")
def calibrate_(
    history: Annotated[str, typer.Argument(help="A CSV or Parquet file, or a SQLAlchemy URL.")],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Fit on purchases up to this date.")
    ],
    customer_col: CustomerColumn = "customer_id",
    date_col: DateColumn = "date",
    amount_col: AmountColumn = "amount",
    query: Query = None,
    model: Annotated[
        str,
        typer.Option(
            help="Buying model: auto (by a backtest), bgnbd, bgnbd_stages, bgnbd_reactivation."
        ),
    ] = "auto",
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Write the market here (TOML).",
            parser=output_path("--output"),
            metavar="<path>",
        ),
    ] = None,
    backtest: Annotated[
        bool,
        typer.Option(
            "--backtest",
            help="Backtest the buying models also when --model names one (auto always does).",
        ),
    ] = False,
    messages: Messages = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="The policy that sent --messages (its rules, offers, channels).",
            parser=input_path("--policy"),
            metavar="<path>",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, max=2**63 - 1, help="Random seed: same seed, same market.")
    ] = 0,
) -> None:
    """Fit the buying and spend models to a purchase history; write the market."""

    from ..forecasting.calibration import MODELS, fit_history
    from ..forecasting.history import HistoryError, load_history

    columns = {"customer_col": customer_col, "date_col": date_col, "amount_col": amount_col}
    if model not in MODELS:
        raise _usage_error(f"--model: unknown buying model {model!r}; one of {', '.join(MODELS)}")
    _history_file(history)
    _output_file(output, "--output")
    end = _date_option(calibration_end, "--calibration-end")
    in_force = _logged_policy(messages, policy, "--policy", model, backtest)
    try:
        with _steps() as progress:
            frame = load_history(history, query=query, **columns)
            result = fit_history(
                frame,
                end,
                model=model,
                backtest_models=backtest,
                messages=messages,
                policy=in_force,
                rng=seed,
                progress=progress,
            )
    except HistoryError as error:
        raise _history_failure(error, history) from None
    _warn_history_end(frame, end)
    _out(result.report())
    if output is not None:
        _write(output, result.to_toml())
        _out(f"wrote {output}")


@app.command(name="forecast")
def forecast_(
    history: Annotated[str, typer.Option(help="The purchase history (CSV, Parquet or URL).")],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="The day the forecast starts from.")
    ],
    until: Annotated[str, typer.Option(help="Forecast up to this date.")],
    spec: Annotated[
        Path | None,
        typer.Argument(help="The policy in force (none: no policy).", parser=input_path("SPEC")),
    ] = None,
    market: Annotated[
        Path | None,
        typer.Option(
            help="A calibrated market (else: calibrate first).",
            parser=input_path("--market"),
            metavar="<path>",
        ),
    ] = None,
    current: Annotated[
        Path | None,
        typer.Option(
            help="The policy in force: forecast the change from it to SPEC.",
            parser=input_path("--current"),
            metavar="<path>",
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option(min=1, max=MAX_REPLICATIONS, help="Simulated runs to average.")
    ] = 20,
    seed: Annotated[
        int, typer.Option(min=0, max=2**63 - 1, help="Random seed: same seed, same files.")
    ] = 0,
    customer_col: CustomerColumn = "customer_id",
    date_col: DateColumn = "date",
    amount_col: AmountColumn = "amount",
    product_col: ProductColumn = None,
    query: Query = None,
    model: Annotated[
        str,
        typer.Option(
            help="Buying model: auto (by a backtest), bgnbd, bgnbd_stages, bgnbd_reactivation."
        ),
    ] = "auto",
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for forecast.json, customers.csv and report.html.",
            parser=output_path("--out"),
            metavar="<path>",
        ),
    ] = Path("build/forecast"),
    logs: Annotated[
        bool,
        typer.Option(
            "--logs",
            help="Also write the first replication's purchases and messages (purchases.csv,"
            " messages.csv), customers named by the history's ids.",
        ),
    ] = False,
    backtest: Annotated[
        bool,
        typer.Option(
            "--backtest",
            help="Backtest the buying models also when --model names one (auto always does).",
        ),
    ] = False,
    messages: Messages = None,
    history_currency: Annotated[
        str | None,
        typer.Option(
            "--history-currency",
            help="The currency of the history's amounts (e.g. USD): a spec priced in another"
            " is refused (exit 1).",
        ),
    ] = None,
) -> None:
    """Forecast the real customer base from the calibration end, under a policy or none."""
    with _long_lived() as loaded:
        from ..api import forecast_history
        from ..forecasting import report  # noqa: F401  (the files are written at the end)
        from ..forecasting.calibration import MODELS
        from ..forecasting.history import HistoryError, load_history

        columns = {
            "customer_col": customer_col,
            "date_col": date_col,
            "amount_col": amount_col,
            "product_col": product_col,
        }
        if model not in MODELS:
            raise _usage_error(
                f"--model: unknown buying model {model!r}; one of {', '.join(MODELS)}"
            )
        if market is not None and model != "auto":
            raise _usage_error("--model and --market: a given market's buying model is used")
        if market is not None and backtest:
            raise _usage_error("--backtest and --market: a given market is not fitted here")
        if market is not None and messages is not None:
            raise _usage_error("--messages and --market: a given market is not fitted here")
        for name, value in (
            ("--history", history),
            ("--calibration-end", calibration_end),
            ("--until", until),
        ):
            if not value:
                raise _usage_error(f"{name} is required")
        calibration_end = _date_option(calibration_end, "--calibration-end")
        until = _date_option(until, "--until")
        _history_file(history, "--history")
        if market is not None:
            _input_file(market, "--market", kind=SCENARIO)
        _output_folder(out, "--out")
        if current is not None:
            if spec is None:
                raise _usage_error("--current: name the new policy's spec too")
            _input_file(current, "--current", kind=SPEC)
        policy = _compile_or_exit(spec)[0] if spec is not None else None
        in_force = _compile_or_exit(current)[0] if current is not None else None
        if messages is not None:
            _logged_policy(messages, current, "--current", model, backtest)
        if history_currency is not None:
            _same_currency(history_currency, [(spec, policy), (current, in_force)])
        loaded()  # the program, the forecast's modules and the specs: frozen from here
        try:
            with _steps() as progress:
                frame = load_history(history, query=query, **columns)
                result = forecast_history(
                    frame,
                    calibration_end,
                    until,
                    policy,
                    market=market,
                    model=model,
                    replications=replications,
                    seed=seed,
                    backtest=backtest,
                    current=in_force,
                    messages=messages,
                    logs=logs,
                    progress=progress,
                )
        except HistoryError as error:
            raise _history_failure(error, history) from None
        except MarketError as error:
            raise _market_failure(error, PROBLEMS) from None
        except ValueError as error:
            raise _usage_error(str(error)) from None
        written = _write_all(lambda folder: result.write(folder, logs=logs), out)
        if logs:
            _note_log_formats(result.logs())
        unlogged = current is not None and messages is None and market is None
        print_forecast(result, spec, current, unlogged)
        _warn_history_end(frame, calibration_end, until)
        _out(f"wrote {', '.join(p.name for p in written)} to {out}/")


def _same_currency(declared: str, specs: list) -> None:
    """Refuse (exit 1) a spec priced in another currency than `--history-currency`."""
    from ..forecasting.currency import currency_refusal

    for path, policy in specs:
        if policy is None:
            continue
        reason = currency_refusal(policy, declared)
        if reason:
            _out(f"{program_place(path)}: error: {reason}", err=True)
            _out(
                "  hint: forecast with a spec priced in the history's currency, or convert the"
                " history's amounts",
                err=True,
            )
            raise typer.Exit(PROBLEMS)
