"""The simulation engine: SimPy calendar of day buckets, numpy arrays of customer state."""

from .holdings import Holdings
from .population import Base
from .simulation import Run, simulate_policy

__all__ = ["Base", "Holdings", "Run", "simulate_policy"]
