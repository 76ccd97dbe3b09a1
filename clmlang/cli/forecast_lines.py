"""What `clm forecast` prints once the forecast is made: the currency warning, the key
figures as the report names them, the stage goals, the change from the policy in force and
the backtests that chose the buying model."""

from __future__ import annotations

from pathlib import Path

from .common import _out

__all__ = ["print_forecast", "program_place"]

# Said whenever no policy in force is given (--current): what the forecast then assumes.
WITHOUT_CURRENT = (
    "without --current, the history is taken as a world whose calibrated behaviour already"
    " includes whatever marketing ran; the policy's effect is added on top of it"
)


# Said with --current but no --messages, when the market is calibrated here.
CURRENT_UNLOGGED = (
    "--current without --messages: the calibration cannot tell the purchases the policy in"
    " force brought from the customers' own buying, so its effect is in the calibrated"
    " behaviour and simulated again on top (both totals count it twice; the change between"
    " the policies less so); give --messages, the log of what it sent, to calibrate net of it"
)


def print_forecast(
    result, spec: Path | None, current: Path | None = None, unlogged: bool = False
) -> None:
    """The forecast's figures on standard output, its warnings on standard error. `current`:
    the --current spec; `unlogged`: it came without --messages to a calibration made here."""
    from ..forecasting.goal_attainment import goal_lines
    from ..forecasting.verdict import key_figures

    warning = result.summary.get("currency_warning")
    if isinstance(warning, dict) and spec is not None:
        _out(f"{program_place(spec)}: warning: {warning['message']}", err=True)
        _out(f"  hint: {warning['hint']} (--history-currency makes it certain)", err=True)
    rows = key_figures(result.summary)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        _out(f"{name:<{width}}  {value}")
    products = result.summary.get("history_products")
    if isinstance(products, dict) and products["ignored"]:
        names = products["ignored"]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
        what = "product of the history is" if len(names) == 1 else "products of the history are"
        _out(
            f"warning: {len(names):,} {what} not declared in the spec, so ignored"
            f" ({products['ignored_purchases']:,} purchases of them): {shown}",
            err=True,
        )
    for label, predicted, actual, seen in goal_lines(result.summary.get("stage_goals")):
        _out(f"{label}: predicted {predicted}, actual {actual} ({seen} returns)")
    change = result.summary.get("change")
    if isinstance(change, dict):
        _print_change(change, spec, current)
        if unlogged:
            _out(f"warning: {CURRENT_UNLOGGED}", err=True)
    else:
        _out(f"note: {WITHOUT_CURRENT}")
    if result.summary.get("response_note"):
        _out(f"note: {result.summary['response_note']}")
    for fit in result.fits:
        score = fit.get("backtest")
        if isinstance(score, dict):
            corr = score["correlation"]
            _out(
                f"backtest {fit['model']:<19} deviance {score['deviance']:,.1f}, "
                f"total {score['predicted']:,.1f} of "
                f"{score['actual']:,.0f} ({score['total_error']:+.1%}), RMSE {score['rmse']:.4f}, "
                f"correlation {'n/a' if corr is None else format(corr, '.3f')}"
            )
    if "model_choice" in result.summary:
        _out(f"buying model {result.summary['model_choice']}")
    for note in result.summary.get("fit_notes", []):
        _out(f"note: {note}")


def program_place(spec: Path) -> str:
    """`spec:line:col` of its `program` line's currency (or of the line), for a diagnostic."""
    try:
        lines = spec.read_text(encoding="utf-8-sig").splitlines()  # a BOM is no character
    except (OSError, UnicodeDecodeError):
        return str(spec)
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("program"):
            column = line.find(" currency ")
            return f"{spec}:{number}:{column + 2 if column >= 0 else 1}"
    return str(spec)


def _print_change(change: dict, spec: Path | None, current: Path | None) -> None:
    """The change from the policy in force, one line per KPI: each total, the difference and
    its 95% interval. Two programs of one name are told apart by their files."""
    old, new = change["current_policy"], change["new_policy"]
    if old == new and spec is not None and current is not None:
        _out(f"change from {old!r} ({current}) to {new!r} ({spec})")
    else:
        _out(f"change from {old!r} to {new!r}")
    _out(f"{'':<22} {'current':>14} {'new':>14} {'change':>12}  95% interval")
    for row in change["kpis"]:
        low, high = row["low"], row["high"]
        span = "n/a" if low is None else f"{low:,.2f} to {high:,.2f}"
        _out(
            f"{row['kpi']:<22} {row['current']:>14,.2f} {row['new']:>14,.2f} "
            f"{row['change']:>+12,.2f}  {span}"
        )
