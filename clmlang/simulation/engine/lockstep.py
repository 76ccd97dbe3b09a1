"""The blocks of one run walking the days in lockstep, sharing the channels' daily capacities.

Each batch of messages a capacity binds is sent to the coordinator (`Walk`): the uniforms that
rank its customers, ascending. Once every block has either sent its next batch or finished
its day, the coordinator takes the smallest key (queued messages first, oldest first; then by
priority, rule and send step), gives the channel's remaining capacity to the smallest uniforms
over all the blocks' batches of that key, and tells each block how many of its own go: the
capacity is used exactly as a single calendar would use it.

A block waits only for the answer to a batch. The end of its day is a message it does not
wait on: it goes on with its next day, and the coordinator reads that day's messages once every
block has finished the day before (each block's messages are read in the order sent).

There is no coordinator thread. The blocks of the coordinator's own process (`local`) talk to
it in memory, and whichever of them waits for an answer while none of the others can compute
reads the other processes' messages itself (`Walk.ask`); once they are all finished the
command's thread does (`Walk.finish`). So one process's blocks run one at a time, holding
`baton`, and a batch costs no thread switch. Blocks in other processes talk over a pipe
(`Share`).
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import threading
from collections import deque
from collections.abc import Callable

import numpy as np

from .handover import receive_mapped

__all__ = ["Share", "Stopped", "Walk", "allot", "coordinate", "share_link"]


class Stopped(Exception):
    """Another block failed: this one stops too."""


def allot(batches: list[np.ndarray], left: float) -> list[int]:
    """How many of each batch (uniforms, ascending) the `left` capacity takes: the smallest
    uniforms over all of them."""
    sizes = [b.size for b in batches]
    if sum(sizes) <= left:
        return sizes
    owner = np.repeat(np.arange(len(batches)), sizes)
    first = np.argsort(np.concatenate(batches), kind="stable")[: int(left)]
    return np.bincount(owner[first], minlength=len(batches)).tolist()


class Share:
    """A block's side of a coordinator in another process (`link`, one end of a pipe): it
    asks how many of a batch to send and says when its day is over; while it waits for an
    answer, another block of its process may compute (`baton`)."""

    def __init__(self, link, baton: threading.Lock):
        self.link, self.baton = link, baton
        self.spent = 0  # the channels whose capacity is used up today, as the answers said

    def allot(self, key: tuple, channel: int, uniforms: np.ndarray) -> int:
        """How many of a batch whose customers' uniforms are `uniforms` (ascending) go."""
        if self.spent >> channel & 1:
            return 0  # none, whatever the others ask: the coordinator need not hear of it
        self.link.send(("allot", key, channel, uniforms))
        self.baton.release()
        try:
            answer = self.link.recv()
        finally:
            self.baton.acquire()
        if not isinstance(answer, tuple):  # -1: another block failed
            raise Stopped
        count, self.spent = answer
        return count

    def day_done(self, day: int) -> None:
        self.spent = 0
        self.link.send(("done", day))
        # no answer comes to the end of a day: anything waiting here is the order to stop
        if self.link.poll() and self.link.recv() < 0:
            raise Stopped


def share_link(link) -> Share:
    """The share of a block that runs alone in its thread, coordinated over `link`."""
    baton = threading.Lock()
    baton.acquire()
    return Share(link, baton)


class _LocalShare:
    """A block's side of the coordinator of its own process."""

    def __init__(self, walk: Walk, block: int):
        self.walk, self.block = walk, block
        self.day = 0

    def allot(self, key: tuple, channel: int, uniforms: np.ndarray) -> int:
        walk = self.walk
        if walk.day == self.day and walk.left[channel] <= 0:
            return 0  # today's capacity is used up: none go, whatever the others ask
        return walk.ask(self.block, ("allot", key, channel, uniforms))

    def day_done(self, day: int) -> None:
        self.day = day + 1
        self.walk.tell(self.block, ("done", day))


class Walk:
    """The coordinator of `blocks` blocks over `days` days with `capacity` (per channel):
    `remote` maps a block run in another process to its link; the others are local, run in
    threads of this process holding `baton` (`share(b)`, `started`, `ended`). `progress(day)`
    is called as each day ends. A failure is kept in `error` (the blocks still running are
    told to stop) and raised by `finish`."""

    def __init__(
        self,
        blocks: int,
        capacity: np.ndarray,
        days: int,
        progress: Callable[[int], None] | None,
        remote: dict[int, object],
        baton: threading.Condition | None = None,
    ):
        self.blocks, self.capacity, self.days, self.progress = blocks, capacity, days, progress
        self.remote = remote
        self.baton = baton if baton is not None else threading.Condition(threading.RLock())
        self.queues: list[deque] = [deque() for _ in range(blocks)]
        self.day, self.left = 0, capacity.copy()
        self.pending: dict[int, tuple] = {}
        self.done: set[int] = set()
        self.answers: dict[int, int] = {}
        self.waiting: set[int] = set()  # local blocks waiting for an answer
        self.running = 0  # local blocks started and not ended
        self.results: dict[int, object] = {}  # what blocks of other processes sent back
        self.error: BaseException | None = None
        self._index = {id(link): b for b, link in remote.items()}

    # the local blocks' side (called holding the baton)
    def share(self, block: int) -> _LocalShare:
        return _LocalShare(self, block)

    def started(self) -> None:
        self.running += 1

    def ended(self) -> None:
        self.running -= 1
        self.baton.notify_all()

    def ask(self, block: int, message: tuple) -> int:
        self.tell(block, message)
        self.waiting.add(block)
        try:
            while block not in self.answers:
                if self.error is not None:
                    raise Stopped
                if self.running > len(self.waiting):  # another block here can compute
                    self.baton.wait()
                else:
                    self._pump()
        finally:
            self.waiting.discard(block)
        return self.answers.pop(block)

    def tell(self, block: int, message: tuple) -> None:
        if self.error is not None:
            raise Stopped
        self.queues[block].append(message)
        self._advance()

    def fail(self, error: BaseException) -> None:
        """Stop the walk: keep the first failure, tell every block to stop."""
        if self.error is None:
            self.error = error
        for link in self.remote.values():
            with contextlib.suppress(OSError):
                link.send(-1)
        if self.baton.acquire(blocking=False):  # (else a block computes: it sees the error)
            try:
                self.baton.notify_all()
            finally:
                self.baton.release()

    # the coordinator
    @property
    def walked(self) -> bool:
        return self.day >= self.days

    def _advance(self) -> None:
        """Take the blocks' messages as far as they go: allot each key every block has
        reached, end the day once every block has."""
        while not self.walked:
            for b, queue in enumerate(self.queues):
                if queue and b not in self.pending and b not in self.done:
                    message = queue.popleft()
                    if message[0] == "done":
                        if message[1] != self.day:
                            raise RuntimeError(f"block {b} ended day {message[1]} on {self.day}")
                        self.done.add(b)
                    else:
                        self.pending[b] = message[1:]
            if len(self.pending) + len(self.done) < self.blocks:
                return
            if self.pending:
                key = min(v[0] for v in self.pending.values())
                members = sorted(b for b, v in self.pending.items() if v[0] == key)
                channel = self.pending[members[0]][1]
                counts = allot([self.pending[b][2] for b in members], self.left[channel])
                self.left[channel] -= sum(counts)
                for b, k in zip(members, counts, strict=True):
                    del self.pending[b]
                    if b in self.remote:  # with the channels used up today (`Share.spent`)
                        self.remote[b].send((int(k), self._spent()))
                    else:
                        self.answers[b] = int(k)
                        self.waiting.discard(b)
                        self.baton.notify_all()
                continue
            if self.progress is not None:
                self.progress(self.day)
            self.day += 1
            self.left = self.capacity.copy()
            self.done.clear()
            if self.walked:  # `finish` may take the other processes' results now
                self.baton.notify_all()

    def _spent(self) -> int:
        """The channels whose capacity today is used up, as bits."""
        return sum(1 << c for c in np.flatnonzero(self.left <= 0).tolist())

    def _receive(self, links: list) -> None:
        """Read one message from each of `links` that has one (waiting for the first)."""
        for link in multiprocessing.connection.wait(links):
            b = self._index[id(link)]
            try:
                message = link.recv()
            except EOFError:
                raise RuntimeError(f"block {b} stopped without a result") from None
            if message[0] == "error":
                raise RuntimeError(f"block {b} failed:\n{message[1]}")
            if message[0] == "mapped":  # the result, in shared memory (handover.py)
                try:
                    self.results[b] = receive_mapped(link)[1]
                except (EOFError, OSError):  # its process ended before the file came
                    raise RuntimeError(f"block {b} stopped without a result") from None
            elif message[0] == "run":
                self.results[b] = message[1]
            else:
                self.queues[b].append(message)

    def _pump(self) -> None:
        """Wait for the messages of other processes' blocks the walk needs next."""
        needed = [
            link
            for b, link in self.remote.items()
            if not self.queues[b] and b not in self.pending and b not in self.done
        ]
        try:
            if not needed:
                raise RuntimeError("the blocks' walk cannot go on")  # (a bug, not input)
            self._receive(needed)
            self._advance()
        except BaseException as error:
            self.fail(error)
            raise Stopped from error

    def finish(self, collect: bool = True) -> dict[int, object]:
        """Once the local blocks are started: walk the days they leave to the others, then
        (`collect`) take the other processes' results as they come, while the local blocks
        end; raises the first failure, here or elsewhere, as soon as it is known."""
        with self.baton:
            while not self.walked and self.error is None:
                if self.running:
                    self.baton.wait()
                else:
                    with contextlib.suppress(Stopped):
                        self._pump()
        # the days are walked: the links carry only results now, read without the baton
        while self.error is None:
            missing = [k for b, k in self.remote.items() if b not in self.results]
            if not (collect and missing):
                with self.baton:
                    while self.running and self.error is None:
                        self.baton.wait()
                break
            try:
                ready = multiprocessing.connection.wait(missing, 0.05 if self.running else None)
                if ready:
                    self._receive(ready)
            except BaseException as error:
                self.fail(error)
        if self.error is not None:
            raise self.error
        return self.results


def coordinate(links, capacity, days, progress, collect: bool = True) -> list:
    """Walk the days with blocks run elsewhere, one link each (a cluster's tasks), allotting
    each channel's capacity over their batches; their results in block order (`collect`),
    else Nones (the results come back another way, a cluster's futures)."""
    walk = Walk(len(links), capacity, days, progress, dict(enumerate(links)))
    results = walk.finish(collect)
    return [results.get(b) for b in range(len(links))]
