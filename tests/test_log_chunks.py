"""The recorder's logs join their batches into compact chunks as they come (recorder.py's
`_Log`): what they give back is the same bytes, in the same order, as the batches joined."""

from __future__ import annotations

import numpy as np

from clmlang.simulation.engine.firings import Firings
from clmlang.simulation.engine.recorder import _Coded, _Log


def _log() -> _Log:
    return _Log(customer=np.int32, time=np.float64, cost=np.float64, flag=np.bool_, arm=np.int32)


def _batches(rng: np.random.Generator, count: int) -> list[dict]:
    """Batches of every shape a log meets: arrays, scalars, one value
    repeated (0.0 and -0.0, NaN), few distinct floats, integers that fit a narrower type."""
    out = []
    for b in range(count):
        size = int(rng.integers(1, 50))
        out.append(
            {
                "customer": rng.integers(0, 100_000, size).astype(np.int32),
                "time": b + rng.random(size),
                "cost": rng.choice([0.0, -0.0, 1.5, 7.25, np.nan], size) if b % 3 else -0.0,
                "flag": b % 2 == 0,
                "arm": rng.integers(-1, 40, size).astype(np.int32) if b % 5 else -1,
            }
        )
    return out


def test_a_log_gives_back_its_batches_joined_bytes_for_bytes():
    rng = np.random.default_rng(7)
    batches = _batches(rng, 1000)
    log = _log()
    for batch in batches:
        log.add(**batch)
    assert log.chunks >= 1000 // _Log.CHUNK_PARTS  # most of the batches are in chunks
    coded = [p for v in log.parts.values() for p in v if isinstance(p, _Coded)]
    assert coded  # the costs: five distinct values a chunk
    narrow = [p for p in log.parts["arm"] if isinstance(p, np.ndarray) and p.dtype == np.int8]
    assert narrow  # arms from -1 to 39 fit one byte
    got = log.arrays()
    for key, dtype in log.dtypes.items():
        sizes = [max(np.size(v) for v in b.values()) for b in batches]
        expected = np.concatenate(
            [
                np.broadcast_to(np.asarray(b[key], dtype=dtype), (n,))
                for b, n in zip(batches, sizes, strict=True)
            ]
        )
        assert got[key].dtype == np.dtype(dtype)
        assert got[key].tobytes() == expected.tobytes(), key
    assert log.arrays()["time"] is got["time"]  # joined once


def test_a_chunk_of_one_value_takes_no_memory_and_keeps_its_sign():
    log = _Log(reward=np.float64)
    for _ in range(_Log.CHUNK_PARTS):
        log.add(reward=np.full(10, -0.0))
    chunk = log.parts["reward"][0]
    assert chunk.strides == (0,) and chunk.size == 10 * _Log.CHUNK_PARTS
    assert np.signbit(log.arrays()["reward"]).all()


def test_firing_runs_take_ten_bytes_and_survive_chunking():
    runs = Firings(None, arms=3)
    fired = {}
    for day in range(400):  # customer c fires arm c % 3 on the days where (c + day) % 4 != 0
        ids = np.array([c for c in range(20) if (c + day) % 4], dtype=np.int32)
        for arm in range(3):
            mine = ids[ids % 3 == arm]
            runs.add(arm=arm, customer=mine, day=day)
            for c in mine.tolist():
                fired.setdefault((arm, c), []).append(day)
    out = runs.runs()
    assert sum(v.itemsize for v in out.values()) == 10
    got = {}
    for arm, c, first, last in zip(*(out[k].tolist() for k in Firings.RUN), strict=True):
        got.setdefault((arm, c), []).extend(range(first, last + 1))
    assert {k: sorted(v) for k, v in got.items()} == fired
