"""The purchases' fused kernels against their numpy twins: scipy's normal quantile ported
bit for bit (gamma_kernels.py), and a day's purchases settled in one pass (checkout_kernels.py,
`buying_kernels.next_purchases`) giving the numpy path's state and logs under any market."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

import clmlang
from clmlang.core import compiled
from clmlang.market.model import Market
from clmlang.simulation.engine.buying import _gamma_quantile
from clmlang.simulation.engine.gamma_kernels import cube_roots, ndtris
from clmlang.simulation.engine.simulation import simulate_policy

from .conftest import ROOT

_EDGES = [
    0.0, 1.0, -0.0, -1e-300, 1.0 + 2**-52, -1.0, 2.0, np.nan, np.inf, -np.inf, 5e-324, 1e-300,
    1e-100, 1e-20, np.exp(-32), np.nextafter(np.exp(-32), 0), np.nextafter(np.exp(-32), 1),
    0.13533528323661269189, np.nextafter(0.13533528323661269189, 1),
    np.nextafter(0.13533528323661269189, 0), 1 - 0.13533528323661269189,
    np.nextafter(1 - 0.13533528323661269189, 1), np.nextafter(1 - 0.13533528323661269189, 0),
    0.5, np.nextafter(0.5, 0), np.nextafter(0.5, 1), np.nextafter(1.0, 0), 1 - 1e-16, 0.125,
    0.875,
]  # fmt: skip


def test_ndtri_kernel_gives_scipys_bits():
    """The port of Cephes ndtri equals scipy.special.ndtri exactly: at the edges of its
    three approximations and of its domain, on a grid and on a million uniforms (both
    tails stretched over many orders of magnitude)."""
    rng = np.random.default_rng(7)
    u = np.concatenate(
        [
            np.array(_EDGES),
            (np.arange(100_000) + 0.5) / 100_000,
            rng.random(600_000),
            np.exp(-rng.uniform(0, 745, 200_000)),  # the lower tail down to subnormals
            -np.expm1(-rng.uniform(0, 37, 200_000)),  # the upper tail up to 1 - 2**-53
        ]
    )
    np.testing.assert_array_equal(ndtris(u), ndtri(u))
    assert ndtris(np.array([0.0, 1.0, 0.5]))[[0, 1]].tolist() == [-np.inf, np.inf]


@settings(max_examples=200, deadline=None)
@given(u=st.floats(0.0, 1.0, allow_subnormal=True), shape=st.floats(1.0, 1e4))
def test_gamma_quantile_compiled_gives_the_numpy_bits(u, shape):
    """The Wilson-Hilferty Gamma quantile, normal quantile and arithmetic compiled and the
    power by numpy, equals the numpy path's."""
    x = np.array([u, 1.0 - u, u / 3])
    np.testing.assert_array_equal(ndtris(x), ndtri(x))
    want = _gamma_quantile(shape, x)
    np.testing.assert_array_equal(shape * cube_roots(shape, x) ** 3, want)
    np.testing.assert_array_equal(_gamma_quantile(shape, x, compiled=True), want)


def _run(policy, market, seed: int, switch: str, monkeypatch) -> dict[str, bytes]:
    monkeypatch.setenv(compiled.SWITCH, switch)
    run = simulate_policy(policy, market, customers=200, days=60, rng=np.random.default_rng(seed))
    rec, s = run.recorder, run.state
    out = {f"purchases.{k}": v.tobytes() for k, v in rec.purchases.arrays().items()}
    out |= {f"items.{k}": v.tobytes() for k, v in rec.items.arrays().items()}
    out |= {f"daily.{k}": v.tobytes() for k, v in rec.daily.items()}
    out |= {f"arm.{k}": v.tobytes() for k, v in rec.arm_counters.items()}
    names = "purchases first_t last_t spent owned owned_lines members subscribed alive next_t"
    out |= {f"state.{k}": getattr(s, k).tobytes() for k in names.split()}
    return out


_SPECS = {
    name: clmlang.load(ROOT / "specs" / f"{name}.clm") for name in ("clinic", "it_integrator")
}


@pytest.mark.parametrize("spec", sorted(_SPECS))
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    spend_p=st.sampled_from([0.6, 1.0, 6.0]),
    cycle_shape=st.sampled_from([0.7, 1.0, 4.0]),
    rates=st.tuples(*[st.floats(0.0, 1.0)] * 4),
    reactivation=st.sampled_from([0.0, 0.02]),
    rate_after=st.sampled_from([{}, {2: 1.5, 5: 0.8}]),
    kept=st.booleans(),
)
def test_fused_purchases_give_the_numpy_paths_state_and_logs(
    spec, seed, spend_p, cycle_shape, rates, reactivation, rate_after, kept, monkeypatch
):
    """The products chosen (leads, offers of a product or a line, second picks, owned
    durables blocked for good or kept for a while), checks, add-ons, memberships,
    subscriptions, dropouts and next purchases (cycles, reactivation, rate multipliers, an
    order value's Gamma shape on either side of 1) come out of the kernels as out of numpy,
    bit for bit."""
    attach, join, take_up, follow = rates
    keep = {"products": {"implant": {"keep_days": 20}}, "lines": {"cosmetology": {"keep_days": 30}}}
    market = Market.model_validate(
        {
            **(keep if kept else {}),
            "spend": {"p": spend_p},
            "roles": {
                "upsell_attach": attach,
                "repeat_join": join,
                "lifetime_take_up": take_up,
                "cycle_follow": follow,
                "cycle_shape": cycle_shape,
            },
            "buying": {"reactivation": reactivation, "rate_after": rate_after, "alpha": 20.0},
        }
    )
    policy = _SPECS[spec]
    numpy_path = _run(policy, market, seed, "0", monkeypatch)
    kernels = _run(policy, market, seed, "1", monkeypatch)
    assert len(numpy_path["purchases.time"]) > 0
    assert kernels == numpy_path


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 200), kept=st.booleans())
def test_choice_kernel_chooses_as_numpy(seed, size, kept):
    """What a batch of buyers buys, and whether they buy: random holdings, purchase counts,
    skipped purchases and answers to every send step of the clinic (offers of a product and
    of a line), durables blocked for good or for a while; the kernel's picks are numpy's."""
    from clmlang.simulation.engine.simulation import _Simulation

    keep = {"products": {"implant": {"keep_days": 20}}, "lines": {"cosmetology": {"keep_days": 30}}}
    market = Market.model_validate(keep if kept else {})
    sim = _Simulation(_SPECS["clinic"], market, 500, 100, np.random.default_rng(seed), None)
    rng, st_ = np.random.default_rng(seed), sim.state
    st_.owned[:] = rng.integers(0, 2**10, st_.owned.size).astype(np.uint64)
    st_.audience[:] = rng.integers(-1, 2, st_.audience.size)
    sim.skips[:] = rng.integers(0, 3, sim.skips.size)
    for times in sim.ownership.bought_t.values():
        times[:] = rng.uniform(-40, 50, times.size)
    ids = np.sort(rng.choice(500, size, replace=False)).astype(np.int64)
    k = rng.integers(0, 4, size)
    t = rng.uniform(40, 50, size)
    responding = rng.random(size) < 0.6
    site = rng.integers(0, len(sim.steps.sites), size)
    site = np.where(responding, site, 0)
    choices = []
    for compiled_path in (False, True):
        sim.compiled = compiled_path
        product, buys = sim._choose_products(ids, k, t, k == 0, responding, site)
        choices.append((product.astype(np.int16).tobytes(), buys.astype(bool).tobytes()))
    assert choices[1] == choices[0]
    assert len(sim.steps.sites) > 1 and sim.steps.offers["offer_line"].max() >= 0
