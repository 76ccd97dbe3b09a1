"""The search behind `clm test`'s invariants: hypothesis generates candidates (histories or
simulated populations) and shrinks the first that breaks an invariant to a minimal
counterexample. The search is seeded, so the same seed finds the same counterexample.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

__all__ = ["minimal_counterexample"]

T = TypeVar("T")


def minimal_counterexample(
    strategy: st.SearchStrategy[T],
    violation: Callable[[T], str | None],
    examples: int,
    seed: int,
) -> T | None:
    """The minimal example for which `violation` says something (hypothesis generates
    `examples` of them, then shrinks a failing one), or None; seeded, so reproducible."""
    cfg = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    try:
        return find(
            strategy,
            lambda e: violation(e) is not None,
            settings=cfg,
            random=random.Random(seed),
        )
    except NoSuchExample:
        return None
