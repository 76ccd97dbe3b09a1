"""The engine gives the C heap's free pages back every TRIM_DAYS simulated days."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import clmlang
from clmlang.core import heap
from clmlang.market.model import Market
from clmlang.simulation.engine import simulate_policy

from .conftest import ROOT


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_a_run_trims_the_heap_every_trim_days(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: calls.append)
    from clmlang.simulation.engine import simulation

    monkeypatch.setattr(simulation, "trim", heap.trim)
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    simulate_policy(policy, Market(), customers=200, days=95, rng=np.random.default_rng(1))
    assert len(calls) == 95 // heap.TRIM_DAYS  # days 29, 59 and 89


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_reaches_glibc_here():
    assert heap.trim()
