"""The simulation engine: SimPy calendar of day buckets, numpy arrays of customer state."""

from .simulation import Run, simulate_policy

__all__ = ["Run", "simulate_policy"]
