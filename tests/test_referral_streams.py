"""Common random numbers with referrals: everyone who comes during a run is keyed by who they
are (their place in the plan of arrivals, or a referral's day and number), not by the row
they take, so a policy that changes how many prospects are referred on a day does not
reshuffle the customers who come after them."""

from __future__ import annotations

import numpy as np

import clmlang
from clmlang.market.model import Market
from clmlang.simulation.engine.prospects import poisson_quantile
from clmlang.simulation.engine.simulation import _Simulation as Simulation

QUIET = """program "Funnel"
channel email cost 0.1
stage potential when purchases == 0
stage new when purchases >= 1
"""
# a rule that never fires: changes nothing
IDLE = (
    QUIET
    + """rule never {
  when purchases >= 100000
  send email "Never sent" tag promo
}
"""
)
# on day 15, every buyer is asked to bring a friend: more referrals for the next 10 days
ASKING = (
    QUIET
    + """rule ask_friends {
  on schedule on 2026-01-16
  when purchases >= 1
  send email "Bring a friend" tag referral
}
"""
)
MARKET = {
    "start_date": "2026-01-01",
    "buying": {"r": 2.0, "alpha": 20.0},
    "channels": {"email": {"reach": 1.0, "response": 0.0, "unsubscribe": 0.0}},
    "prospects": {
        "sources": {"web": {"per_day": 6.0, "convert": 0.05, "dropout": 0.03}},
        "referrals": {"per_day": 0.01, "lift": 8.0, "window_days": 10, "convert": 0.05},
    },
}
CUSTOMERS, DAYS = 300, 40


def _run(spec: str) -> Simulation:
    return _simulated(MARKET, CUSTOMERS, DAYS, spec)[0]


def _newcomers(sim: Simulation) -> dict[int, tuple]:
    """Each newcomer by identity: its arrival, traits, source and first purchase (-1: none)."""
    st = sim.state
    first = np.nan_to_num(st.first_t, nan=-1.0)
    rows = np.arange(CUSTOMERS, sim.next_row)
    return {
        int(sim.identities[r]): (
            st.arrival[r],
            st.rate[r],
            st.spend[r],
            st.dropout[r],
            int(sim.source[r]),
            first[r],
        )
        for r in rows
    }


def test_a_rule_that_does_nothing_sees_the_same_newcomers():
    """An idle rule against none: the same referred customers, in the same rows, with the
    same traits, arrivals and first purchases."""
    a, b = _run(QUIET), _run(IDLE)
    assert a.next_row == b.next_row > CUSTOMERS
    assert _newcomers(a) == _newcomers(b)
    referred = a.source[CUSTOMERS : a.next_row] == a.referral_source
    assert referred.sum() > 0


def test_more_referrals_on_a_day_do_not_reshuffle_later_arrivals():
    """Asking buyers for friends brings more referrals on some days; every planned newcomer
    (the web's prospects) is the same person in both runs, with the same arrival, traits and
    first purchase, though they take other rows; so are the referred prospects of the days
    whose count did not change."""
    a, b = _run(QUIET), _run(ASKING)
    ra = a.recorder.funnel["referrals"]
    rb = b.recorder.funnel["referrals"]
    changed = np.flatnonzero(ra != rb)
    assert changed.size  # the case: the days' counts differ, so later rows shift
    first = int(changed[0])
    assert (a.identities[CUSTOMERS : a.next_row] != np.arange(CUSTOMERS, a.next_row)).any() or (
        b.identities[CUSTOMERS : b.next_row] != np.arange(CUSTOMERS, b.next_row)
    ).any()
    na, nb = _newcomers(a), _newcomers(b)
    web = [k for k, v in na.items() if v[4] == 0]
    assert len(web) > 100 and all(k in nb for k in web)
    late = [k for k in web if na[k][0] >= first + 1]
    assert late and all(na[k] == nb[k] for k in web)  # the same, before and after the change
    room = a.plan.referral_room
    before = [k for k, v in na.items() if v[4] == a.referral_source and v[0] < first]
    assert before and all(na[k] == nb[k] for k in before)
    same_days = [d for d in range(DAYS) if ra[d] == rb[d] and ra[d] > 0]
    for d in same_days:  # a day with the same count: the same referred prospects' traits
        ids = [a.referral_first + d * room + j for j in range(int(ra[d]))]
        assert all(na[k][:5] == nb[k][:5] for k in ids)


def test_the_days_count_is_the_poisson_quantile():
    """poisson_quantile: the smallest k with P(N <= k) >= u, against the pmf summed by hand,
    and monotone in the rate for a fixed u."""
    for rate in (0.3, 4.0, 55.0):
        pmf = [np.exp(-rate)]
        for k in range(1, 400):
            pmf.append(pmf[-1] * rate / k)
        cdf = np.cumsum(pmf)
        for u in (0.01, 0.3, 0.5, 0.77, 0.999):
            assert poisson_quantile(u, rate) == int(np.argmax(cdf >= u))
    counts = [poisson_quantile(0.6, r) for r in np.linspace(0.0, 30.0, 61)]
    assert counts == sorted(counts) and counts[0] == 0


def test_referrals_beyond_the_days_room_are_counted_and_warned():
    """Referred customers who refer in turn (0.3 referrals a buyer a day, 30% of the referred
    convert a day): the rate compounds past the room kept for each day's referrals. No day
    takes more than its room,
    the days the room was full are counted (each took exactly its room), and the forecast
    warns with the number left out. The gentle market of the tests above stays silent."""
    from clmlang.simulation.metrics import forecast

    referrals = {"per_day": 0.3, "convert": 0.3}
    steep = {**MARKET, "prospects": {**MARKET["prospects"], "referrals": referrals}}
    sim, run = _simulated(steep, 100, 60)
    rec, room = sim.recorder, sim.plan.referral_room
    referred = rec.funnel["referrals"]
    assert referred.max() <= room
    assert 1 <= rec.referral_room_full_days <= int((referred == room).sum())
    assert rec.referrals_beyond_room >= rec.referral_room_full_days
    warnings = forecast(run).summary["warnings"]
    assert any(f"{rec.referrals_beyond_room:,} referred prospects" in w for w in warnings)
    gentle, run = _simulated(MARKET, CUSTOMERS, DAYS)
    assert gentle.recorder.referrals_beyond_room == 0
    assert not any("referred" in w for w in forecast(run).summary["warnings"])


def _simulated(market: dict, customers: int, days: int, spec: str = QUIET):
    sim = Simulation(
        clmlang.loads(spec),
        Market.model_validate(market),
        customers,
        days,
        np.random.default_rng(5),
        None,
    )
    return sim, sim.run()
