"""The blocks' walk over the days in lockstep (simulation/engine/lockstep.py): a day's capacity
goes to the smallest uniforms over every block's batch of the same key, a block waits only for
a batch's answer (not at the end of its day), and a block of another process is told to stop."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from clmlang.simulation.engine.lockstep import Stopped, Walk, share_link


def _walk(blocks: int, capacity: float, days: int, remote=None) -> Walk:
    return Walk(blocks, np.array([capacity]), days, None, remote or {})


def _local(walk: Walk, block: int, script) -> threading.Thread:
    """A block of this process: `script(share)` runs holding the baton, as a block does."""

    def run() -> None:
        with walk.baton:
            try:
                script(walk.share(block))
            except Stopped:
                pass
            finally:
                walk.ended()

    walk.started()
    return threading.Thread(target=run, daemon=True)


def test_the_capacity_goes_to_the_smallest_uniforms_of_all_blocks_of_a_key():
    """Capacity 3 a day. Day 0: block 0 asks for (0.1, 0.5), block 1 for (0.2, 0.3, 0.9) of
    the same key: the 3 smallest of the five are 0.1, 0.2 and 0.3, so 1 and 2 go. Then block
    1 asks again (a later key, 0.05): nothing is left today. Day 1: a fresh 3 for 0.7 alone."""
    walk = _walk(2, 3, 2)
    got: dict[str, int] = {}

    def block0(share) -> None:
        got["0a"] = share.allot((1,), 0, np.array([0.1, 0.5]))
        share.day_done(0)
        share.day_done(1)

    def block1(share) -> None:
        got["1a"] = share.allot((1,), 0, np.array([0.2, 0.3, 0.9]))
        got["1b"] = share.allot((2,), 0, np.array([0.05]))
        share.day_done(0)
        got["1c"] = share.allot((1,), 0, np.array([0.7]))
        share.day_done(1)

    threads = [_local(walk, 0, block0), _local(walk, 1, block1)]
    for t in threads:
        t.start()
    walk.finish()
    assert got == {"0a": 1, "1a": 2, "1b": 0, "1c": 1}
    assert walk.walked


def test_a_block_does_not_wait_at_the_end_of_its_day():
    """Block 0 ends all three days before block 1 does anything (it never waits for block 1
    there); block 1's batch on day 2 still gets the whole of day 2's capacity."""
    walk = _walk(2, 5, 3)
    order: list[str] = []

    def block0(share) -> None:
        for day in range(3):
            share.day_done(day)
        order.append("block 0 through")

    def block1(share) -> None:
        order.append("block 1 starts")
        share.day_done(0)
        share.day_done(1)
        order.append(f"day 2: {share.allot((0,), 0, np.array([0.4] * 7))} of 7")
        share.day_done(2)

    first, second = _local(walk, 0, block0), _local(walk, 1, block1)
    first.start()
    first.join()  # block 0 ends without block 1 having started
    second.start()
    walk.finish()
    assert order == ["block 0 through", "block 1 starts", "day 2: 5 of 7"]


def test_a_block_of_another_process_is_answered_over_its_pipe_and_told_to_stop():
    """Block 1 talks over a pipe (as a worker process's block does); block 0 here fails on
    day 1: block 1, which waits for nothing, is told to stop at the end of its next day and
    the failure is raised."""
    ours, theirs = multiprocessing.Pipe()
    walk = _walk(2, 2, 5, remote={1: ours})
    seen: list[object] = []
    failed = threading.Event()

    def remote() -> None:
        share = share_link(theirs)
        try:
            seen.append(share.allot((0,), 0, np.array([0.3, 0.6])))
            share.day_done(0)
            failed.wait(5)
            share.day_done(1)
        except Stopped:
            seen.append("stopped")

    def block0(share) -> None:
        seen.append(share.allot((0,), 0, np.array([0.1, 0.2, 0.9])))
        share.day_done(0)
        walk.fail(RuntimeError("block 0 failed: on purpose"))
        failed.set()

    elsewhere = threading.Thread(target=remote, daemon=True)
    elsewhere.start()
    _local(walk, 0, block0).start()
    with pytest.raises(RuntimeError, match="block 0 failed: on purpose"):
        walk.finish()
    elsewhere.join(timeout=5)
    assert sorted(seen[:2]) == [0, 2]  # 0.1 and 0.2 of the four go: block 0's two
    assert seen[2] == "stopped"


def test_a_batch_on_a_channel_used_up_today_gets_none_without_waiting():
    """Capacity 2 a day. Day 0: blocks 0 and 1 ask (key 1) for 1 and 3 customers: the 2
    smallest uniforms go (0.1, 0.2), the channel is used up. Block 0's next batch (key 5)
    gets 0 at once, before block 1 says anything more (block 1 waits for that, up to 5 s:
    without the shortcut block 0 would wait for block 1 and both would wait out the 5 s).
    Day 1: a fresh capacity of 2 for block 0's batch."""
    walk = _walk(2, 2, 2)
    got: dict[str, object] = {}
    answered = threading.Event()

    def block0(share) -> None:
        got["0a"] = share.allot((1,), 0, np.array([0.1]))
        got["0b"] = share.allot((5,), 0, np.array([0.05, 0.06]))
        answered.set()
        share.day_done(0)
        got["0c"] = share.allot((1,), 0, np.array([0.7, 0.8, 0.9]))
        share.day_done(1)

    def block1(share) -> None:
        got["1a"] = share.allot((1,), 0, np.array([0.2, 0.3, 0.4]))
        walk.baton.release()  # (as a block waiting elsewhere lets the other compute)
        try:
            got["1 saw block 0 answered"] = answered.wait(5)
        finally:
            walk.baton.acquire()
        share.day_done(0)
        share.day_done(1)

    threads = [_local(walk, 0, block0), _local(walk, 1, block1)]
    for t in threads:
        t.start()
    walk.finish()
    assert got == {"0a": 1, "1a": 1, "0b": 0, "1 saw block 0 answered": True, "0c": 2}


def test_a_block_of_another_process_learns_that_a_channel_is_used_up():
    """Over a pipe: the answer that uses up the channel's capacity says so, and the block's
    next batch on that channel the same day is answered 0 without a message; the next day
    it asks again."""
    ours, theirs = multiprocessing.Pipe()
    share = share_link(theirs)
    walk = _walk(1, 2, 2, remote={0: ours})
    heard: list[str] = []
    recv = ours.recv

    def listen():
        message = recv()
        heard.append(message[0])
        return message

    ours.recv = listen

    def coordinator() -> None:
        walk.finish(collect=False)

    asked: list[int] = []
    thread = threading.Thread(target=coordinator, daemon=True)
    thread.start()
    asked.append(share.allot((1,), 0, np.array([0.1, 0.2, 0.3])))
    asked.append(share.allot((2,), 0, np.array([0.4])))
    share.day_done(0)
    asked.append(share.allot((1,), 0, np.array([0.5])))
    share.day_done(1)
    thread.join(timeout=5)
    assert asked == [2, 0, 1]
    assert heard == ["allot", "done", "allot", "done"]  # nothing for the second batch
    assert walk.walked
