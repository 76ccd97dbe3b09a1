"""clmlang: a declarative language and simulator for customer lifecycle management.

import clmlang
policy = clmlang.load("specs/clinic.clm")     # parse, check, compile; raises ClmError
policy = clmlang.loads(text)                   # the same for text
analysis = clmlang.analyse("specs/clinic.clm") # the non-raising form, with diagnostics
forecast = clmlang.simulate(policy, customers=10_000, days=365, rng=1)  # DataFrames
base = clmlang.forecast_history("history.csv", "1997-09-30", "1998-06-30")  # the real base
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names, by the module that defines them, imported on first use (PEP 562): a
# light module such as the Pygments lexer (`clmlang.highlight`, which Pygments imports when
# it looks up any lexer by file name) must not load numpy, pandas and the simulator.
_EXPORTS = {
    "Analysis": "api",
    "analyse": "api",
    "analyse_text": "api",
    "forecast_history": "api",
    "load": "api",
    "loads": "api",
    "run_scenario": "api",
    "simulate": "api",
    "Calibration": "calibration",
    "calibrate": "calibration",
    "fit_history": "calibration",
    "ClmError": "diagnostics",
    "Diagnostic": "diagnostics",
    "Severity": "diagnostics",
    "Comparison": "experiment",
    "HoldoutForecast": "forecasting",
    "HistoryError": "history",
    "load_history": "history",
    "Market": "market",
    "MarketError": "market",
    "Forecast": "metrics",
    "Policy": "policy",
    "Scenario": "scenario",
    "load_scenario_file": "scenario",
    "Span": "source",
}

if TYPE_CHECKING:
    from .api import (
        Analysis,
        analyse,
        analyse_text,
        explain,
        forecast_history,
        load,
        loads,
        run_scenario,
        simulate,
    )
    from .calibration import Calibration, calibrate, fit_history
    from .diagnostics import ClmError, Diagnostic, Severity
    from .experiment import Comparison
    from .forecasting import HoldoutForecast
    from .history import HistoryError, load_history
    from .market import Market, MarketError
    from .metrics import Forecast
    from .policy import Policy
    from .scenario import Scenario, load_scenario_file
    from .source import Span


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule, `clmlang.metrics`) when it is first used."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif not name.startswith("_"):
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """`clmlang.explain` is the function, though a submodule has that name too: importing
    the submodule sets the package's attribute to it, which this property ignores."""

    @property
    def explain(self) -> Any:
        from .api import explain

        return explain

    @explain.setter
    def explain(self, value: Any) -> None:
        pass  # the import system binding the submodule `clmlang.explain`


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Analysis",
    "Calibration",
    "ClmError",
    "Comparison",
    "Diagnostic",
    "Forecast",
    "HistoryError",
    "HoldoutForecast",
    "Market",
    "MarketError",
    "Policy",
    "Scenario",
    "Severity",
    "Span",
    "__version__",
    "analyse",
    "analyse_text",
    "calibrate",
    "explain",
    "fit_history",
    "forecast_history",
    "load",
    "load_history",
    "load_scenario_file",
    "loads",
    "run_scenario",
    "simulate",
]
