"""The message phase's compiled kernels (engine/delivery.py) against their numpy twins
(engine/messaging.py): the same bytes for the same seed, kernel by kernel on random states and
for whole runs of the example specs with many messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clmlang
from clmlang.core import compiled
from clmlang.market.model import Fatigue, Market
from clmlang.simulation.engine import simulate_policy
from clmlang.simulation.engine.delivery import draws
from clmlang.simulation.engine.population import NEVER
from clmlang.simulation.engine.simulation import _Simulation
from clmlang.simulation.engine.streams import Streams

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")

CLINIC = clmlang.load(ROOT / "specs" / "clinic.clm")  # caps: global, channel (delay), tag
DAYS = 120


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    purpose=st.integers(1, 40),
    counter=st.integers(0, 2**31 - 1),
    ids=st.lists(st.integers(0, 2**40), min_size=1, max_size=30),
)
def test_the_kernels_hash_gives_the_streams_bits(seed, purpose, counter, ids):
    streams = Streams(np.random.default_rng(seed))
    ids = np.array(ids, dtype=np.int64)
    expected = streams.uniform(ids, purpose, counter)
    assert draws(streams.key, purpose, ids, counter).tobytes() == expected.tobytes()


def _twins(seed: int, market: Market) -> tuple[_Simulation, _Simulation, int, np.ndarray]:
    """Two simulations of the clinic in the same random mid-run state (consent, unsubscribes,
    control group, caps' rings, fatigue, pending responses), numpy's and the kernels', a day
    and a batch of customers; the batch holds the traced customer."""
    rng = np.random.default_rng(seed)
    n = 300
    d = int(rng.integers(20, DAYS))
    ids = np.flatnonzero(rng.random(n) < rng.uniform(0.05, 1.0))
    ids = ids if ids.size else np.array([0])
    sims = [
        _Simulation(CLINIC, market, n, DAYS, np.random.default_rng(1), int(ids[0]), logs=True)
        for _ in range(2)
    ]
    channels = len(CLINIC.channels)
    state = {
        "reachable": rng.integers(0, 2**channels, n).astype(np.uint64),
        "unsubscribed": (rng.integers(0, 2**channels, n) * (rng.random(n) < 0.1)).astype(np.uint64),
        "control": rng.random(n) < 0.1,
        "fatigue": (rng.random(n) * 6).astype(np.float32),
        "fatigue_t": rng.integers(0, d + 1, n).astype(np.float32),
        "messages_received": rng.integers(0, 30, n).astype(np.int32),
        "alive": rng.random(n) < 0.8,
        "response_t": np.where(rng.random(n) < 0.5, NEVER, d + rng.uniform(-5, 30, n)),
    }
    rings = sims[0].caps.rings
    days = (d - rng.integers(0, 35, rings.days.shape)).astype(np.float32)
    days[rng.random(rings.days.shape) < 0.3] = -np.inf
    ptr = (rng.integers(0, 2**16, rings.ptr.shape) % rings.limit).astype(np.uint16)
    for sim, compiled_path in zip(sims, (False, True), strict=True):
        sim.compiled = compiled_path
        for name, values in state.items():
            getattr(sim.state, name)[:] = values
        sim.caps.rings.days[:] = days
        sim.caps.rings.ptr[:] = ptr
    return sims[0], sims[1], d, ids


def _everything(sim: _Simulation) -> dict[str, bytes]:
    """Every byte the message phase can change: state, caps, recorder, calendar, trace."""
    rec = sim.recorder
    out = {f"state.{k}": v.tobytes() for k, v in vars(sim.state).items() if hasattr(v, "dtype")}
    out["rings"] = sim.caps.rings.days.tobytes() + sim.caps.rings.ptr.tobytes()
    out |= {f"daily.{k}": v.tobytes() for k, v in rec.daily.items()}
    out |= {f"arm.{k}": v.tobytes() for k, v in rec.arm_counters.items()}
    out["channels"] = rec.channel_messages.tobytes() + rec.channel_cost.tobytes()
    for name in ("unsent", "unsubscribes"):
        out |= {f"{name}.{k}": v.tobytes() for k, v in getattr(rec, name).arrays().items()}
    out |= {f"messages.{k}": v.tobytes() for k, v in rec.messages.arrays().items()}
    out |= {f"counts.{k}": v.tobytes() for k, v in rec.messages.counts().items()}
    for day, bucket in sorted(sim.calendar._buckets.items()):
        for key, parts in bucket.items():
            out[f"calendar.{day}.{key}"] = b"".join(p.tobytes() for p in parts)
    out["trace"] = repr(sim.trace.lines).encode()
    out["touched"] = b"".join(p.tobytes() for p in sim.today.touched)
    return out


fatigues = st.builds(
    Fatigue,
    per_message=st.floats(0, 3),
    irrelevant_extra=st.floats(0, 3),
    half_life_days=st.floats(0.5, 40),
    sensitivity=st.floats(0, 1),
    unsubscribe_growth=st.floats(0, 5),
    tolerance=st.floats(0, 4),
    churn_per_fatigue=st.floats(0, 0.5),
)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fatigue=fatigues)
def test_screening_and_delivery_kernels_match_numpy(seed, fatigue):
    """Every send step of the clinic (SMS with a delaying cap, calls, transactional ones) on a
    random state: the same customers sent, delayed to the same days, capped, counted, logged
    and traced, and the same fatigue, unsubscribes, burnout and responses."""
    plain, kernels, d, ids = _twins(seed, Market().model_copy(update={"fatigue": fatigue}))
    for site_id, site in enumerate(plain.steps.sites):
        arm = int(plain.steps.arm[site_id])
        sent = plain._screen(site_id, site, arm, ids, d)
        assert kernels._screen_compiled(site_id, site, arm, ids, d).tobytes() == sent.tobytes()
        if sent.size:  # as `_send` does
            plain._deliver(site, arm, sent, d)
            kernels._deliver(site, arm, sent, d)
    assert _everything(kernels) == _everything(plain)


def test_a_delayed_message_waits_for_the_first_day_the_caps_allow():
    """Independently of either path: an SMS of the clinic (capped 1 per 7 days, then delay)
    sent on day 10 and asked again on day 12 is delayed to day 17, the day the cap frees."""
    plain, kernels, _, _ = _twins(5, Market())
    sms = next(
        i
        for i, s in enumerate(plain.steps.sites)
        if CLINIC.channels[s.channel].name == "sms" and not s.send.transactional
    )
    site, arm = plain.steps.sites[sms], int(plain.steps.arm[sms])
    for sim in (plain, kernels):
        st, rings = sim.state, sim.caps.rings
        st.reachable[:] = np.uint64(0b11)
        st.unsubscribed[:] = st.control[:] = st.fatigue_t[:] = 0
        rings.days[:] = -np.inf
        rings.ptr[:] = 0
        screen = sim._screen_compiled if sim.compiled else sim._screen
        ids = np.array([4, 7])
        assert screen(sms, site, arm, ids, 10).tolist() == [4, 7]
        sim._deliver(site, arm, ids, 10)
        assert screen(sms, site, arm, ids, 12).size == 0
        assert sim.calendar.take(17)[("send", sms)].tolist() == [4, 7]
        assert sim.recorder.arm_counters["delayed"][arm] == 2
    assert _everything(kernels) == _everything(plain)


SPECS = ["clinic", "clinic_promotions", "ecommerce_rfm", "ecommerce_cdp", "car_dealer"]


def _run_bytes(run) -> dict[str, bytes]:
    rec = run.recorder
    out = {f"state.{k}": v.tobytes() for k, v in vars(run.state).items() if hasattr(v, "dtype")}
    out |= {f"daily.{k}": v.tobytes() for k, v in rec.daily.items()}
    out |= {f"arm.{k}": v.tobytes() for k, v in rec.arm_counters.items()}
    out |= {f"purchases.{k}": v.tobytes() for k, v in rec.purchases.arrays().items()}
    out |= {f"counts.{k}": v.tobytes() for k, v in rec.messages.counts().items()}
    out |= {f"unsubscribes.{k}": v.tobytes() for k, v in rec.unsubscribes.arrays().items()}
    out["channels"] = rec.channel_messages.tobytes() + rec.channel_backlog.tobytes()
    return out


@pytest.mark.parametrize("spec", SPECS)
def test_a_run_is_the_same_bytes_with_and_without_the_kernels(spec, monkeypatch):
    policy = clmlang.load(ROOT / "specs" / f"{spec}.clm")
    runs = []
    for switch in ("0", "1"):
        monkeypatch.setenv(compiled.SWITCH, switch)
        runs.append(
            simulate_policy(
                policy, Market(), customers=1000, days=90, rng=np.random.default_rng(11)
            )
        )
    assert runs[0].recorder.daily["messages"].sum() > 500  # the message phase has work
    assert _run_bytes(runs[1]) == _run_bytes(runs[0])


def test_blocks_sharing_a_call_centre_are_the_same_bytes_with_the_kernels(monkeypatch):
    """Three blocks in lockstep with the coordinator sharing 2 calls a day (blocks.py's
    `share` path: the capacity's uniforms drawn by the kernel), with and without kernels."""
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    channels = tuple(
        c.model_copy(update={"capacity_per_day": 2}) if c.name == "call" else c
        for c in policy.channels
    )
    policy = policy.model_copy(update={"channels": channels})
    files = []
    for switch in ("0", "1"):
        monkeypatch.setenv(compiled.SWITCH, switch)
        run = clmlang.simulate(policy, Market(), customers=450, days=60, rng=5, blocks=3)
        files.append(run.files())
    assert files[1] == files[0]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    day=st.integers(0, 400),
    window=st.sampled_from([0.5, 1.0, 7.0, 7.5, 30.0, float("inf")]),
)
def test_message_counts_of_a_range_and_of_ids_match_numpy_and_a_plain_count(seed, n, day, window):
    """`messages(D)` over a slice of rows (a rule read over everyone) and over an array of
    ids: the kernels (count_rows, count_recent) and numpy give the count of each customer's
    slots holding a message day in (day - D, day], counted here slot by slot."""
    from types import SimpleNamespace

    from clmlang.simulation.engine.columns import RING, MessageLog

    rng = np.random.default_rng(seed)
    log = MessageLog(SimpleNamespace(columns=["messages:7"]), n)
    days, _ = log.logs["*"]
    days[:] = rng.integers(0, day + 2, size=(n, RING))  # day + 1 per message, 0 for none
    days[rng.random((n, RING)) < 0.3] = 0
    start, stop = sorted(rng.integers(0, n + 1, size=2).tolist())
    expected = [
        sum(1 for v in days[c] if v != 0 and v - 1 > day - window) for c in range(start, stop)
    ]
    ids = np.arange(start, stop)
    for rows in (slice(start, stop), ids):
        for kernels in (False, True):
            got = log.count("*", rows, day, window, compiled=kernels)
            assert got.dtype == np.float64
            assert got.tolist() == expected
