"""The engine gives the C heap's free pages back every TRIM_DAYS simulated days."""

from __future__ import annotations

import subprocess
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


# run in a fresh process: in a long-lived one (a pytest worker) an earlier test can leave a
# free chunk in the heap big enough for the array, which malloc reuses before it maps anything
MAPPED = """
import ctypes
import numpy as np
from clmlang.core import heap

fields = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in fields.split()]


libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info


def mapped_bytes():  # bytes malloc holds in blocks mapped on their own (mallinfo2's hblkhd)
    return libc.mallinfo2().hblkhd


size = 8 << 20  # under the 32 MiB where glibc maps every block
with heap.mapped():
    before = mapped_bytes()
    a = np.ones(size // 8)
    inside = mapped_bytes() - before
    del a
    freed = mapped_bytes() - before
before = mapped_bytes()
b = np.ones(size // 8)  # after: the heap again (the threshold at 32 MiB)
after = mapped_bytes() - before
del b
print(size, inside, freed, after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_mapped_gives_a_big_array_pages_of_its_own():
    done = subprocess.run(
        [sys.executable, "-c", MAPPED], capture_output=True, text=True, check=True, cwd=ROOT
    )
    size, inside, freed, after = map(int, done.stdout.split())
    assert inside >= size  # within: mapped on its own
    assert freed < size  # unmapped when freed: the pages are back
    assert after < size  # after: from the heap again
