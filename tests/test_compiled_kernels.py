"""The compiled kernels give the numpy path's bytes: every example spec simulated both ways,
and each kernel against its numpy twin on random inputs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clmlang.core import compiled
from clmlang.simulation.engine.calendar import Calendar
from clmlang.simulation.engine.idset import IdSet
from clmlang.simulation.engine.streams import Streams

from .conftest import ROOT, clm_here

SPECS = sorted((ROOT / "specs").glob("*.clm"))


def _outputs(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_gives_the_same_files_compiled_or_not(spec, tmp_path, monkeypatch):
    """`clm simulate --logs` writes the same bytes with the kernels as with numpy."""
    files = {}
    for switch in ("1", "0"):
        monkeypatch.setenv(compiled.SWITCH, switch)
        out = tmp_path / switch
        args = ("--customers", "1000", "--days", "90", "--seed", "3", "--logs")
        result = clm_here("simulate", str(spec), *args, "--out", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
        files[switch] = _outputs(out)
    assert "purchases.csv" in files["0"]
    assert files["1"] == files["0"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(0, 300),
    dtype=st.sampled_from([np.int16, np.int32, np.int64, np.uint64]),
    purpose=st.integers(1, 40),
    counter=st.one_of(
        st.integers(0, 2**40), st.sampled_from(["int64", "uint64", "negative", "float"])
    ),
)
def test_stream_kernel_gives_the_numpy_bits(seed, size, dtype, purpose, counter):
    """The hash in one compiled pass gives the numpy path's uniforms, bit for bit."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 30_000, size).astype(dtype)
    if counter == "int64":
        counter = rng.integers(0, 2**40, size)
    elif counter == "uint64":
        counter = rng.integers(0, 2**62, size).astype(np.uint64) << np.uint64(1)
    elif counter == "negative":
        counter = rng.integers(-5, 5, size)
        counter = counter.astype(np.uint64)  # the numpy path takes counters as unsigned
    elif counter == "float":
        counter = rng.integers(0, 1000, size).astype(float)
    numpy_path = Streams(np.random.default_rng(seed)).uniform(ids, purpose, counter)
    kernel_path = Streams(np.random.default_rng(seed), compiled=True).uniform(ids, purpose, counter)
    assert kernel_path.dtype == numpy_path.dtype == np.float64
    assert kernel_path.tobytes() == numpy_path.tobytes()
    assert ((numpy_path > 0) & (numpy_path < 1)).all()


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "spread", "take"]),
        st.sampled_from([("purchase", None), ("timer", 0), ("timer", 1), ("billing", 3)]),
        st.integers(0, 2**32 - 1),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS, horizon=st.integers(1, 40), n=st.integers(1, 500))
def test_calendar_kernels_file_and_take_as_numpy_does(ops, horizon, n):
    """Filing batches (days in and out of the horizon, as floats or integers, repeated ids)
    and taking days gives the numpy calendar's buckets: the same kinds in the same order,
    the same sorted distinct ids; and the same next day with work."""
    calendars = [Calendar(horizon, IdSet(n)), Calendar(horizon, IdSet(n), compiled=True)]
    today = 0
    for op, (kind, key), seed in ops:
        rng = np.random.default_rng(seed)
        ids = rng.integers(0, n, rng.integers(0, 3 * n + 1)).astype(
            rng.choice([np.int32, np.int64])
        )
        if op == "take":
            today = int(rng.integers(-1, horizon + 1))
            taken = [c.take(today) for c in calendars]
            assert list(taken[1]) == list(taken[0])
            for k in taken[0]:
                assert taken[1][k].dtype == taken[0][k].dtype == np.int64
                assert taken[1][k].tobytes() == taken[0][k].tobytes()
        elif op == "add":
            day = int(rng.integers(-2, horizon + 2))
            for c in calendars:
                c.add(day, kind, key, ids)
        else:
            days = np.floor(rng.uniform(-3, horizon + 3, ids.size))
            days[rng.random(ids.size) < 0.1] = np.inf
            if rng.random() < 0.5:
                days = days.clip(-5, horizon + 5).astype(np.int64)
            for c in calendars:
                c.add_spread(days, kind, key, ids)
        assert calendars[1].next_day(today) == calendars[0].next_day(today)
    for day in range(horizon):
        taken = [c.take(day) for c in calendars]
        assert list(taken[1]) == list(taken[0])
        assert all(taken[1][k].tobytes() == taken[0][k].tobytes() for k in taken[0])


def _buyers(rng, n, size):
    """A population of `n` customers' purchase state and `size` distinct buyers of it."""
    state = {
        "purchases": rng.integers(0, 30, n).astype(np.int32),
        "first_t": np.where(rng.random(n) < 0.3, np.nan, rng.uniform(-50, 100, n)),
        "last_t": rng.uniform(-50, 100, n),
        "first_day": np.full(n, np.nan, dtype=np.float32),
        "last_day": np.full(n, np.nan, dtype=np.float32),
        "spent": rng.uniform(0, 1e4, n),
        "last_product": np.full(n, -1, dtype=np.int16),
        "owned": rng.integers(0, 2**20, n).astype(np.uint64),
        "owned_lines": rng.integers(0, 8, n).astype(np.uint64),
        "response_t": rng.uniform(0, 100, n),
        "response_site": rng.integers(-1, 5, n).astype(np.int32),
        "alive": rng.random(n) < 0.9,
        "next_t": rng.uniform(0, 100, n),
        "stage": rng.integers(-1, 4, n).astype(np.int16),
        "dropout": rng.uniform(0, 0.5, n),
        "rate": np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0, 0.1, n)),
        "subscribed": (rng.random(n) < 0.3).astype(np.uint64),
        "members": rng.random(n) < 0.4,
    }
    ids = rng.permutation(n)[:size]
    return state, ids


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 60), day=st.integers(0, 5))
def test_due_today_kernel_chooses_as_numpy(seed, size, day):
    """Who buys today and when (the earlier of a natural purchase and an answer, none when
    neither falls today), with their purchases so far and the send step they answer (a
    pending response; 0 when none); the product each picks: test_purchase_kernels.py."""
    from clmlang.simulation.engine.buying_kernels import due_today
    from clmlang.simulation.engine.population import NEVER

    rng = np.random.default_rng(seed)
    _, ids = _buyers(rng, 80, size)
    ids = np.sort(ids).astype(np.int64)
    next_t = np.where(rng.random(80) < 0.2, NEVER, rng.uniform(0, 6, 80))
    next_t[rng.random(80) < 0.1] = np.nan
    response_t = np.where(rng.random(80) < 0.6, NEVER, rng.uniform(0, 6, 80))
    purchases = rng.integers(0, 5, 80).astype(np.int32)
    response_site = np.where(rng.random(80) < 0.5, -1, rng.integers(0, 4, 80)).astype(np.int32)
    nat = np.where(np.floor(next_t[ids]) == day, next_t[ids], NEVER)
    answer = np.where(np.floor(response_t[ids]) == day, response_t[ids], NEVER)
    t = np.minimum(nat, answer)
    due = ids[t < NEVER]
    # `Buying._buy`'s numpy reads
    responding = (response_site[due] >= 0) & np.isfinite(response_t[due])
    site = np.where(responding, response_site[due], 0)
    out = [np.empty(ids.size, dtype=d) for d in (np.int64, float, np.int32, np.int32, bool)]
    m = due_today(ids, next_t, response_t, purchases, response_site, day, NEVER, *out)
    got_ids, got_t, got_k, got_site, got_responding = (a[:m] for a in out)
    assert got_ids.tobytes() == due.tobytes()
    assert got_t.tobytes() == t[t < NEVER].tobytes()
    assert got_k.tobytes() == purchases[due].tobytes()
    assert got_site.tobytes() == site.tobytes()
    assert got_responding.tobytes() == responding.tobytes()
