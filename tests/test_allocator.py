"""A Dask worker's allocator (whatif.allocator): with the nanny's MALLOC_TRIM_THRESHOLD_,
every large array is mapped afresh (one page fault per 4 KiB page each time); within
`roomy_allocator` the heap keeps them, and after it the worker's own setting is back.

glibc reads the variable when a process starts: the test runs a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import resource
import numpy as np
from clmlang.whatif.allocator import roomy_allocator

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(200):
        a = np.ones(2**17)  # 1 MiB, above glibc's 128 KiB mmap threshold
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

outside = faults()
with roomy_allocator():
    inside = faults()
print(outside, inside, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_arrays_stay_in_the_heap_while_a_task_runs():
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # as a Dask nanny sets it
    done = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    )
    outside, inside, after = map(int, done.stdout.split())
    pages = 200 * 2**20 // 4096  # every array's 256 pages faulted in, 200 times
    assert outside >= 0.9 * pages
    assert inside < 0.05 * pages  # the first array's pages, reused
    assert after >= 0.9 * pages  # the worker's own threshold again
