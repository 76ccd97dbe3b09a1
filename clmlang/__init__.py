"""clmlang: a declarative language and simulator for customer lifecycle management.

import clmlang
policy = clmlang.load("specs/clinic.clm")     # parse, check, compile; raises ClmError
policy = clmlang.loads(text)                   # the same for text
analysis = clmlang.analyse("specs/clinic.clm") # the non-raising form, with diagnostics
forecast = clmlang.simulate(policy, customers=10_000, days=365, rng=1)  # DataFrames
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import Analysis, analyse, analyse_text, explain, load, loads, run_scenario, simulate
from .calibration import Calibration, calibrate, fit_history
from .diagnostics import ClmError, Diagnostic, Severity
from .experiment import Comparison
from .history import HistoryError, load_history
from .market import Market, MarketError
from .metrics import Forecast
from .policy import Policy
from .scenario import Scenario, load_scenario_file
from .source import Span

__all__ = [
    "Analysis",
    "Calibration",
    "ClmError",
    "Comparison",
    "Diagnostic",
    "Forecast",
    "HistoryError",
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
    "load",
    "load_history",
    "load_scenario_file",
    "loads",
    "run_scenario",
    "simulate",
]
