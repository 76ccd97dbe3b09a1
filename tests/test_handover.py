"""A worker's result handed over in shared memory (simulation/engine/handover.py): the object
read back equals the one sent, its big arrays are views of the mapping (not copies) that can
be written without touching the sender's file, and the pipe carries it where mapping cannot."""

from __future__ import annotations

import multiprocessing
import os
import threading

import numpy as np
import pytest

from clmlang.simulation.engine import handover
from clmlang.simulation.engine.handover import BIG, receive_mapped, send_result
from clmlang.simulation.engine.lockstep import Walk


def _result() -> tuple:
    rng = np.random.default_rng(4)
    big = rng.random(BIG // 8 + 3)  # past the threshold: out of band, mapped
    ints = np.arange(BIG, dtype=np.int32)  # int32 after float64s: alignment checked
    small = np.array([1.5, -2.0])  # under it: in the pickle
    odd = rng.integers(0, 255, BIG + 1, dtype=np.uint8)  # an odd length before the next one
    after = rng.random(BIG // 8)
    return ("run", {"big": big, "ints": ints, "small": small, "odd": odd, "after": after, "n": 7})


def _check(got: tuple, sent: tuple) -> None:
    assert got[0] == sent[0] and got[1]["n"] == 7
    for key in ("big", "ints", "small", "odd", "after"):
        assert got[1][key].dtype == sent[1][key].dtype
        np.testing.assert_array_equal(got[1][key], sent[1][key])


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory files are Linux's")
def test_a_result_sent_in_shared_memory_comes_back_equal_and_writable():
    ours, theirs = multiprocessing.Pipe()
    sent = _result()
    send_result(theirs, sent)
    assert ours.recv() == ("mapped",)
    got = receive_mapped(ours)
    _check(got, sent)
    big = got[1]["big"]
    assert big.ctypes.data % 64 == 0 and got[1]["after"].ctypes.data % 64 == 0
    assert not big.flags.owndata  # a view of the mapping, not a copy
    big[0] = -1.0  # private: written here only
    assert big[0] == -1.0 and sent[1]["big"][0] != -1.0


def test_without_memory_files_the_result_goes_through_the_pipe(monkeypatch):
    monkeypatch.delattr(handover.os, "memfd_create", raising=False)
    ours, theirs = multiprocessing.Pipe()
    sent = _result()
    sender = threading.Thread(target=send_result, args=(theirs, sent), daemon=True)
    sender.start()  # (a pipe holds less than the result: it is read as it is sent)
    _check(ours.recv(), sent)
    sender.join(timeout=10)


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory files are Linux's")
def test_a_worker_process_hands_its_result_over():
    ours, theirs = multiprocessing.Pipe()
    sent = _result()
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=send_result, args=(theirs, sent), daemon=True)
    child.start()
    assert ours.recv() == ("mapped",)
    _check(receive_mapped(ours), sent)
    child.join(timeout=10)
    assert child.exitcode == 0


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory files are Linux's")
def test_a_worker_gone_before_its_memory_file_came_is_a_block_without_a_result():
    """A worker that said its result was mapped, then ended before sending the file: the
    walk's error names the block, as for a worker gone before any result."""
    ours, theirs = multiprocessing.Pipe()
    walk = Walk(1, np.zeros(0), 0, None, {0: ours})
    theirs.send(("mapped",))
    theirs.close()
    with pytest.raises(RuntimeError, match="block 0 stopped without a result"):
        walk._receive([ours])
