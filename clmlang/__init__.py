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
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names, by the module that defines them, imported on first use (PEP 562): a
# light module such as the Pygments lexer (`clmlang.highlight`, which Pygments imports when
# it looks up any lexer by file name) must not load numpy, pandas and the simulator.
_EXPORTS = {
    "Analysis": "api",
    "analyse": "api",
    "analyse_text": "api",
    "explain": "api",
    "forecast_history": "api",
    "load": "api",
    "loads": "api",
    "run_scenario": "api",
    "simulate": "api",
    "Calibration": "forecasting.calibration",
    "calibrate": "forecasting.calibration",
    "fit_history": "forecasting.calibration",
    "ClmError": "core.diagnostics",
    "Diagnostic": "core.diagnostics",
    "Severity": "core.diagnostics",
    "Comparison": "whatif.experiment",
    "HoldoutForecast": "forecasting.holdout",
    "HistoryError": "forecasting.history",
    "load_history": "forecasting.history",
    "load_messages": "forecasting.messages",
    "Market": "market.model",
    "MarketError": "market.model",
    "Forecast": "simulation.metrics",
    "Policy": "compile.policy",
    "Scenario": "market.scenario",
    "load_scenario_file": "market.scenario",
    "Span": "core.source",
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
    from .compile.policy import Policy
    from .core.diagnostics import ClmError, Diagnostic, Severity
    from .core.source import Span
    from .forecasting.calibration import Calibration, calibrate, fit_history
    from .forecasting.history import HistoryError, load_history
    from .forecasting.holdout import HoldoutForecast
    from .forecasting.messages import load_messages
    from .market.model import Market, MarketError
    from .market.scenario import Scenario, load_scenario_file
    from .simulation.metrics import Forecast
    from .whatif.experiment import Comparison


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
    "load_messages",
    "load_scenario_file",
    "loads",
    "run_scenario",
    "simulate",
]
