"""The search behind `clm test`'s invariants: hypothesis generates candidates (histories or
simulated populations) and shrinks the first that breaks an invariant to a minimal
counterexample. The search is seeded, so the same seed finds the same counterexample. A
`Tally` counts the candidates tried and those the invariant was about, so a pass says how
much it rests on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

__all__ = ["Tally", "minimal_counterexample"]

T = TypeVar("T")


@dataclass
class Tally:
    """The candidates a search tried (up to and including the first that broke the
    invariant; shrinking is not counted) and how many of them the invariant applied to."""

    tried: int = 0
    relevant: int = 0

    def words(self, things: str, about: str = "") -> str:
        """`200 histories, 37 in stage loyal`; `about` says which ones the invariant is about
        ("" when it is about all of them)."""
        text = f"{self.tried} {things}"
        if about:
            text += f", {self.relevant or 'none'} {about}"
        return text


def minimal_counterexample(
    strategy: st.SearchStrategy[T],
    violation: Callable[[T], str | Literal[False] | None],
    examples: int,
    seed: int,
    tally: Tally | None = None,
) -> T | None:
    """The minimal example for which `violation` says something (hypothesis generates
    `examples` of them, then shrinks a failing one), or None; seeded, so reproducible.
    `violation` returns False for a candidate the invariant says nothing about; `tally`
    counts the candidates tried and those it applied to."""
    tally = tally if tally is not None else Tally()
    counting = True

    def broken(example: T) -> bool:
        nonlocal counting
        found = violation(example)
        if counting:
            tally.tried += 1
            tally.relevant += found is not False
            counting = not found
        return bool(found)

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
            broken,
            settings=cfg,
            random=random.Random(seed),
        )
    except NoSuchExample:
        return None
