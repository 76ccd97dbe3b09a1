"""The simulator: the market model against its closed forms, the policy's guarantees (caps,
capacities, holdouts), determinism, common random numbers, and the shape of its effects."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import clmlang
import clmlang.simulation.metrics
from clmlang.market.model import Market, MarketError, market_from_mapping
from clmlang.simulation.engine import simulate_policy

from .conftest import ROOT, clm

EMPTY = """program "Empty"
stage everyone when purchases >= 0
"""


def run(spec: str, market: Market | None = None, customers=2000, days=120, seed=7, **kw):
    policy = clmlang.loads(spec)
    return simulate_policy(
        policy,
        market or Market(),
        customers=customers,
        days=days,
        rng=np.random.default_rng(seed),
        **kw,
    )


def bgnbd_expected(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """E[X(t)], the BG/NBD expected number of repeat purchases by t (Fader, Hardie, Lee 2005)."""
    z = t / (alpha + t)
    hyp = special.hyp2f1(r, b, a + b - 1, z)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def bgnbd_alive(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """P(alive at t): dropout comes at rate lambda * p, so E[(alpha / (alpha + p t))^r] over p."""
    density = stats.beta(a, b).pdf
    value, _ = integrate.quad(lambda p: (alpha / (alpha + p * t)) ** r * density(p), 0, 1)
    return value


def test_empty_policy_matches_bgnbd_closed_form():
    """100,000 customers with no marketing buy as BG/NBD says, within 2%."""
    market = market_from_mapping({"buying": {"r": 0.8, "alpha": 60.0, "a": 1.4, "b": 3.0}})
    n, days = 100_000, 365
    result = run(EMPTY, market, customers=n, days=days, seed=11)
    purchases = result.state.purchases
    repeat = purchases - 1  # the first purchase is the trial at arrival
    # arrival is uniform in day 0, so each customer's window is days - arrival
    b = market.buying
    expected = np.mean(
        [bgnbd_expected(days - u, b.r, b.alpha, b.a, b.b) for u in np.linspace(0, 1, 11)]
    )
    observed = repeat.mean()
    standard_error = repeat.std() / math.sqrt(n)
    assert abs(observed - expected) < 3 * standard_error + 0.005 * expected
    assert abs(observed - expected) / expected < 0.02
    alive = result.state.alive.mean()
    p_alive = bgnbd_alive(days - 0.5, b.r, b.alpha, b.a, b.b)
    assert abs(alive - p_alive) < 4 * math.sqrt(p_alive * (1 - p_alive) / n)


CAPPED = """program "Capped"
channel sms cost 1
channel call cost 50 capacity 30 per day
cap 2 per 7 days
stage everyone when purchases >= 0
rule daily_sms { on schedule daily send sms "Hi" }
rule daily_call { on schedule daily priority 5 send call "Hello" }
rule receipt { on purchase send sms "Receipt" transactional }
rule held { on schedule weekly on monday holdout 50% send sms "Weekly" }
"""


def test_caps_and_capacities_are_never_exceeded():
    result = run(CAPPED, customers=1500, days=60, logs=True)
    log = result.recorder.messages.arrays()
    transactional = np.array([s.send.transactional for s in result.sites])[log["site"]]
    marketing = ~transactional
    cust, day = log["customer"][marketing], log["day"][marketing]
    assert cust.size > 0
    # at most 2 non-transactional messages in any 7 consecutive days, per customer
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    same = cust[2:] == cust[:-2]
    assert not np.any(same & (day[2:] - day[:-2] < 7))
    # at most 30 calls a day
    calls = log["day"][log["channel"] == 1]
    assert np.bincount(calls).max() <= 30
    # transactional receipts were sent though the cap was full
    assert transactional.sum() > 0
    assert result.recorder.daily["capped"].sum() > 0


def test_blocks_each_have_the_whole_capacity():
    """Blocks are independent populations in one calendar: each gets 30 calls a day, so the
    day's total goes past 30."""
    result = run(CAPPED, customers=1500, days=60, blocks=3, logs=True)
    log = result.recorder.messages.arrays()
    calls = log["channel"] == 1
    block, day = log["customer"][calls] // 500, log["day"][calls]
    per_block_day = np.bincount(block * 60 + day, minlength=180).reshape(3, 60)
    assert per_block_day.max() == 30 and per_block_day.sum(axis=0).max() == 90
    assert result.recorder.daily["over_capacity"].sum() > 0  # and it binds
    with pytest.raises(ValueError, match="blocks"):
        run(CAPPED, customers=1501, days=10, blocks=3)


def test_holdout_customers_never_get_their_rules_messages():
    result = run(CAPPED, customers=1500, days=60, logs=True)
    rec = result.recorder
    held_rule = next(i for i, r in enumerate(result.policy.rules) if r.name == "held")
    holdout_arm = next(
        i for i, (r, label) in enumerate(result.arms) if r == held_rule and label == "holdout"
    )
    events = rec.rule_events.arrays()
    held = np.unique(events["customer"][events["arm"] == holdout_arm])
    treated_arms = [
        i for i, (r, label) in enumerate(result.arms) if r == held_rule and label != "holdout"
    ]
    log = rec.messages.arrays()
    got = np.unique(log["customer"][np.isin(log["arm"], treated_arms)])
    assert held.size > 300  # about half of those eligible
    assert not np.intersect1d(held, got).size


def test_same_seed_same_files(tmp_path):
    spec = ROOT / "specs" / "clinic.clm"
    a = clmlang.simulate(spec, customers=1500, days=90, rng=3)
    b = clmlang.simulate(spec, customers=1500, days=90, rng=3)
    c = clmlang.simulate(spec, customers=1500, days=90, rng=4)
    assert a.files() == b.files()
    assert a.files()["daily.csv"] != c.files()["daily.csv"]


def test_common_random_numbers_across_policies():
    """Customers a policy never reaches behave exactly as under the empty policy."""
    base = """program "CRN"
channel sms cost 1
audience premium
audience budget
stage everyone when purchases >= 0
"""
    treat = (
        base
        + 'rule premium_only { for audience is premium on 20 days after purchase send sms "Come back" }\n'
    )
    market = market_from_mapping(
        {
            "population": {"audiences": {"premium": 0.5, "budget": 0.5}},
            "channels": {"sms": {"response": 0.3}},
        }
    )
    plain = run(base, market, customers=3000, days=150, seed=5)
    policy = run(treat, market, customers=3000, days=150, seed=5)
    assert np.array_equal(plain.state.rate, policy.state.rate)
    budget = plain.state.audience == 1
    assert np.array_equal(plain.state.purchases[budget], policy.state.purchases[budget])
    assert np.array_equal(plain.state.spent[budget], policy.state.spent[budget])
    premium = plain.state.audience == 0
    assert policy.state.purchases[premium].sum() > plain.state.purchases[premium].sum()


WINBACK = """program "Shop"
channel sms cost 1
stage prospect when purchases == 0
stage active when days_since_purchase < 60 days
stage lapsed when days_since_purchase >= 60 days
rule winback { on enter lapsed holdout 20% send sms "We miss you" offer discount 20% success purchase within 14 days }
"""


def test_a_responsive_policy_beats_the_empty_one_and_its_holdout():
    market = market_from_mapping({"channels": {"sms": {"response": 0.25}}})
    empty = run(EMPTY, market, customers=20_000, days=240, seed=9)
    policy = run(WINBACK, market, customers=20_000, days=240, seed=9)
    assert policy.recorder.daily["revenue"].sum() > empty.recorder.daily["revenue"].sum()
    forecast = clmlang.simulation.metrics.forecast(policy)
    row = forecast.rules.iloc[0]
    assert row["sent"] > 0 and row["holdout"] > 0
    assert row["incremental_low"] > 0  # significantly better than its holdout


def _profit_with_cap(limit: int) -> float:
    """Revenue less message cost with at most `limit` promotional SMS a week (0: none)."""
    spec = f"""program "Burnout"
channel sms cost 2
cap sms {max(limit, 1)} per 7 days
stage everyone when purchases >= 0
"""
    if limit:
        spec += 'rule promo { on schedule daily send sms "Sale" offer discount 10% }\n'

    market = market_from_mapping(
        {
            "channels": {"sms": {"response": 0.04, "unsubscribe": 0.0}},
            "spend": {"p": 6.0, "q": 4.0, "gamma": 60.0},
        }
    )
    result = run(spec, market, customers=8000, days=180, seed=21)
    d = result.recorder.daily
    return float((d["revenue"] - d["message_cost"]).sum())


def test_message_frequency_sweep_shows_burnout():
    """Some messages earn more than none; past a point, fatigue and burnout lose money."""
    profits = [_profit_with_cap(k) for k in (0, 1, 3, 7)]
    best = int(np.argmax(profits))
    assert 0 < best < 3  # the peak is neither silence nor daily messaging
    assert profits[3] < profits[0]  # messaging every day is worse than not at all


def test_clinic_moves_customers_through_stages_and_loyal_return_sooner():
    market = market_from_mapping(
        {
            "buying": {"r": 2.0, "alpha": 60.0, "a": 1.0, "b": 6.0},
            "stages": {"loyal": {"rate": 1.5, "dropout": 0.3}, "devoted": {"rate": 1.8}},
        }
    )
    result = run((ROOT / "specs" / "clinic.clm").read_text(), market, customers=4000, days=730)
    transitions = result.recorder.transitions
    names = ["(none)"] + [s.name for s in result.policy.stages]
    assert transitions[names.index("newcomer"), names.index("forming")] > 0
    assert transitions[names.index("forming"), names.index("loyal")] > 0
    log = result.recorder.purchases.arrays()
    order = np.lexsort((log["time"], log["customer"]))
    cust, t = log["customer"][order], log["time"][order]
    same = cust[1:] == cust[:-1]
    number = np.ones(cust.size, dtype=int)
    for i in range(1, cust.size):
        number[i] = number[i - 1] + 1 if same[i - 1] else 1
    gap = np.diff(t)[same]
    after = number[1:][same]  # the purchase number that ends each gap
    forming = gap[(after >= 4) & (after <= 8)].mean()
    loyal = gap[(after >= 9) & (after <= 22)].mean()
    assert loyal < forming


TRIGGERS = """program "Triggers"
channel email cost 0
product a role profit price 10 cost 1 line main every 30 days
attribute birthday date
stage new when purchases <= 1
stage repeat when purchases >= 2
rule t_purchase { on purchase of a send email "1" }
rule t_first { on first purchase send email "2" }
rule t_enter { on enter repeat send email "3" }
rule t_leave { on leave new send email "4" }
rule t_after { on 10 days after purchase send email "5" }
rule t_after_stage { on 5 days after enter repeat send email "6" }
rule t_attr { on 30 days after birthday send email "7" }
rule t_before { on 3 days before anniversary of birthday send email "8" }
rule t_anniversary { on anniversary of birthday send email "9" }
rule t_every { in stage repeat on every 14 days send email "10" }
rule t_inactive { on 40 days of inactivity send email "11" }
rule t_daily { on schedule daily when days_since_purchase == 3 days send email "12" }
rule t_weekly { on schedule weekly on friday send email "13" }
rule t_monthly { on schedule monthly on day 1 send email "14" }
rule t_yearly { on schedule yearly on 03-15 send email "15" }
rule t_date { on schedule on 2026-02-02 send email "16" }
rule t_condition { when total_spent >= 30 send email "17" }
rule t_variants {
  on first purchase
  variant a 70% { send email "18a" }
  variant b 30% { send email "18b" }
}
rule t_flow {
  on first purchase
  send email "19"
  success purchase within 20 days
  on success send email "19s"
  on failure { wait 2 days send email "19f" }
}
"""


def test_every_trigger_kind_fires():
    market = market_from_mapping({"buying": {"r": 2.0, "alpha": 40.0}})
    result = run(TRIGGERS, market, customers=3000, days=400)
    fired = result.recorder.arm_counters["fired"]
    by_rule: dict[str, float] = {}
    for (r, _), count in zip(result.arms, fired, strict=True):
        name = result.policy.rules[r].name
        by_rule[name] = by_rule.get(name, 0) + count
    silent = [name for name, count in by_rule.items() if count == 0]
    assert not silent
    # variants split about 70/30
    arms = {
        label: fired[i]
        for i, (r, label) in enumerate(result.arms)
        if result.policy.rules[r].name == "t_variants" and label in ("a", "b")
    }
    share = arms["a"] / (arms["a"] + arms["b"])
    assert abs(share - 0.7) < 4 * math.sqrt(0.21 / 3000)
    # both branches of the flow ran
    flow = next(
        i
        for i, (r, label) in enumerate(result.arms)
        if result.policy.rules[r].name == "t_flow" and label == ""
    )
    counters = result.recorder.arm_counters
    assert counters["converted"][flow] > 0 and counters["failed"][flow] > 0
    assert counters["sent"][flow] > counters["fired"][flow]


def test_trace_tells_one_customers_journey():
    result = clmlang.simulate(
        ROOT / "specs" / "clinic.clm", customers=500, days=120, rng=2, trace=3
    )
    kinds = {kind for _, kind, _ in result.trace}
    assert {"purchase", "stage", "rule", "message"} <= kinds
    assert any("welcome" in detail for _, _, detail in result.trace)


def test_market_errors_name_the_key_and_suggest():
    with pytest.raises(MarketError) as info:
        market_from_mapping({"buying": {"alhpa": 3}})
    assert ("market.buying.alhpa", "unknown key (did you mean `alpha`?)") in info.value.problems
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    market = market_from_mapping({"stages": {"loyl": {"rate": 2}}})
    (problem,) = market.problems(policy)
    assert problem[0] == "market.stages.loyl" and "did you mean `loyal`" in problem[1]
    with pytest.raises(MarketError):
        clmlang.simulate(policy, market, customers=10, days=5)


def test_cli_simulate_writes_every_output(tmp_path):
    done = clm(
        "simulate", "specs/clinic.clm", "--customers", "800", "--days", "60", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "summary.json",
        "daily.csv",
        "stages.csv",
        "segments.csv",
        "transitions.csv",
        "cohorts.csv",
        "rules.csv",
        "goals.csv",
        "products.csv",
    }
    assert "revenue" in done.stdout


def test_cli_simulate_bad_scenario_points_at_the_line(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text("[simulation]\ncustomers = 100\n\n[market.buying]\nr = 1\nalhpa = 3\n")
    done = clm(
        "simulate", "specs/clinic.clm", "--scenario", str(scenario), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 1
    assert f"{scenario}:6:1: error[CLM200]: market.buying.alhpa: unknown key" in done.stderr
    assert "did you mean `alpha`" in done.stderr
    assert not (tmp_path / "o").exists()


def test_stage_counts_match_the_customers_stages():
    """Daily counts kept from transitions agree with a direct count of the final state."""
    result = run((ROOT / "specs" / "clinic.clm").read_text(), customers=3000, days=200)
    final = np.bincount(result.state.stage + 1, minlength=len(result.policy.stages) + 1)
    assert np.array_equal(result.recorder.stage_counts[-1], final)
    assert result.recorder.stage_counts[-1].sum() == result.state.n


def test_clinic_scenario_reproduces_the_domain_rhythm():
    """simulations/clinic.toml: forming patients return about every 74 days, loyal ones every
    47-60 (domain.md, section 1); the loyal check is bigger."""
    from clmlang.market.scenario import load_scenario

    _, market = load_scenario(ROOT / "simulations" / "clinic.toml")
    result = run(
        (ROOT / "specs" / "clinic.clm").read_text(), market, customers=10_000, days=730, seed=1
    )
    log = result.recorder.purchases.arrays()
    order = np.lexsort((log["time"], log["customer"]))
    cust, t = log["customer"][order], log["time"][order]
    same = cust[1:] == cust[:-1]
    starts = np.r_[True, ~same]
    index = np.arange(cust.size)
    number = index - np.maximum.accumulate(np.where(starts, index, 0)) + 1
    gap, after = np.diff(t)[same], number[1:][same]
    forming = gap[(after >= 4) & (after <= 8)]
    loyal = gap[(after >= 9) & (after <= 22)]
    assert 60 <= forming.mean() <= 95
    assert 40 <= loyal.mean() <= 60
    assert loyal.size > 1000


def test_priority_decides_who_wins_a_cap():
    spec = """program "Priority"
channel sms cost 1
cap 1 per 7 days
stage everyone when purchases >= 0
rule low { on first purchase priority 1 send sms "low" }
rule high { on first purchase priority 9 send sms "high" }
"""
    no_unsubscribes = market_from_mapping({"default_channel": {"unsubscribe": 0.0}})
    result = run(spec, no_unsubscribes, customers=1000, days=5)
    counters = result.recorder.arm_counters
    arm = {
        result.policy.rules[r].name: i for i, (r, label) in enumerate(result.arms) if label == ""
    }
    assert counters["sent"][arm["high"]] > 800
    assert counters["sent"][arm["low"]] == 0
    assert counters["capped"][arm["low"]] == counters["sent"][arm["high"]]


def test_reentry_once_and_exit_condition():
    spec = """program "Flows"
channel email cost 0
channel sms cost 1
stage everyone when purchases >= 0
rule thanks { on purchase reentry once send email "Thanks" }
rule nudge {
  on first purchase
  exit when purchases >= 2
  wait 30 days
  send sms "Come back"
}
"""
    market = market_from_mapping({"buying": {"alpha": 20.0}, "default_channel": {"reach": 1.0}})
    result = run(spec, market, customers=2000, days=60, logs=True)
    log = result.recorder.messages.arrays()
    emails = log["customer"][log["channel"] == 0]
    assert emails.size == np.unique(emails).size == 2000  # once each, though many bought again
    assert (result.state.purchases > 1).sum() > 500
    # the nudge goes out on day 30, after that day's purchases: to exactly those who had not
    # bought again by the end of day 30
    sms = log["customer"][log["channel"] == 1]
    purchases = result.recorder.purchases.arrays()
    second = np.full(2000, np.inf)
    order = np.lexsort((purchases["time"], purchases["customer"]))
    cust, time = purchases["customer"][order], purchases["time"][order]
    repeat = np.r_[False, cust[1:] == cust[:-1]]
    np.minimum.at(second, cust[repeat], time[repeat])
    assert sms.size > 0
    assert np.all(second[sms] >= 31)
    assert sms.size == np.count_nonzero(second >= 31)


def test_existing_base_starts_with_its_history():
    market = market_from_mapping(
        {
            "population": {
                "start": "existing",
                "purchases": {1: 0.5, 3: 0.3, 10: 0.2},
                "recency_days": 200,
            }
        }
    )
    result = run((ROOT / "specs" / "clinic.clm").read_text(), market, customers=6000, days=30)
    counts = result.recorder.stage_counts[0]
    names = [s.name for s in result.policy.stages]
    share = counts[1:] / counts.sum()
    tolerance = 4 * math.sqrt(0.25 / 6000) + 0.02  # day 0's own purchases move a few
    assert abs(share[names.index("newcomer")] - 0.5) < tolerance
    assert abs(share[names.index("forming")] - 0.3) < tolerance
    assert abs(share[names.index("loyal")] - 0.2) < tolerance
    assert result.recorder.daily["purchases"].sum() > 0


def test_a_new_channel_or_attribute_does_not_change_the_customers():
    """Common random numbers hold between specs: traits are drawn per trait and per name."""
    base = 'program "A"\nchannel sms cost 1\nstage all when purchases >= 0\n'
    more = base + "channel email cost 0\nattribute birthday date\n"
    a = run(base, customers=500, days=30, seed=3)
    b = run(more, customers=500, days=30, seed=3)
    assert np.array_equal(a.state.rate, b.state.rate)
    assert np.array_equal(a.state.spend, b.state.spend)
    sms = np.uint64(1)
    assert np.array_equal(a.state.reachable & sms, b.state.reachable & sms)


def test_reactivation_and_rate_multipliers_change_purchases_as_they_say():
    """With the same customers (common random numbers): dormant customers who wake up add
    purchases, and they come back as active customers; a rate x0.5 from the 3rd purchase
    lowers the count of those who reached it; both off is plain BG/NBD."""
    buying = {"r": 0.8, "alpha": 30.0, "a": 1.0, "b": 2.0}
    plain = run(EMPTY, market_from_mapping({"buying": buying}), customers=5000, days=365)
    waking = run(
        EMPTY,
        market_from_mapping({"buying": {**buying, "reactivation": 0.02}}),
        customers=5000,
        days=365,
    )
    slower = run(
        EMPTY,
        market_from_mapping({"buying": {**buying, "rate_after": {3: 0.5}}}),
        customers=5000,
        days=365,
    )
    base = plain.state.purchases
    more = waking.state.purchases
    assert np.all(more >= base)  # waking only adds purchases after a dropout
    assert more.sum() > base.sum() * 1.1
    assert waking.state.alive.sum() > plain.state.alive.sum()
    # before the 3rd purchase nothing changes; after it, fewer purchases
    assert np.array_equal(np.minimum(slower.state.purchases, 3), np.minimum(base, 3))
    reached = base >= 3
    assert slower.state.purchases[reached].sum() < 0.9 * base[reached].sum()


# ---- activity windows ---------------------------------------------------------------------

WINDOWED = """program "Shop" currency USD
channel email cost 0.1
stage all when purchases >= 0
rule thanks_old {
  on purchase
  holdout 20%
  active until 2026-02-15
  send email "Thanks"
}
rule thanks_new {
  on purchase
  active from 2026-02-16
  send email "Thank you"
}
rule winback {
  when days_since_purchase >= 30 days
  active until 2026-03-31
  send email "We miss you" offer discount 20%
}
rule winback_new {
  when days_since_purchase >= 45 days
  active from 2026-04-01
  send email "Come back" offer discount 30%
}
rule check_in {
  on 20 days after purchase
  active until 2026-03-31
  send email "How is it going?"
}
"""
# A base that has bought before (so the win-backs have someone to win back from the start)
EXISTING = {
    "start_date": "2026-01-01",
    "population": {"start": "existing", "purchases": {1: 0.5, 3: 0.5}, "recency_days": 90},
}


def _messages(spec: str, days=200, seed=3, **kw):
    market = market_from_mapping(EXISTING)
    forecast = clmlang.simulate(
        clmlang.loads(spec), market, customers=2000, days=days, rng=seed, logs=True, **kw
    )
    return forecast.logs()["messages"]


def _dates(messages, rule: str) -> tuple[str, str, int]:
    dates = messages.loc[messages["rule"] == rule, "date"].astype(str)
    return dates.min(), dates.max(), len(dates)


def test_a_rule_fires_only_inside_its_window():
    """`active until D`: nothing after D (holdout rows included), D itself included;
    `active from D`: nothing before D, D itself included."""
    messages = _messages(WINDOWED)
    first, last, count = _dates(messages, "thanks_old")
    assert count > 0 and first == "2026-01-01" and last == "2026-02-15"
    held = messages[(messages["rule"] == "thanks_old") & (messages["status"] == "held_out")]
    assert len(held) > 0 and held["date"].astype(str).max() <= "2026-02-15"
    first, last, count = _dates(messages, "thanks_new")
    assert count > 0 and first == "2026-02-16"
    first, last, count = _dates(messages, "winback")
    assert count > 0 and last <= "2026-03-31"
    first, last, count = _dates(messages, "winback_new")
    assert count > 0 and first >= "2026-04-01"
    first, last, count = _dates(messages, "check_in")
    assert count > 0 and last <= "2026-03-31"


def test_a_window_over_the_whole_run_changes_nothing():
    """Windows from the first to the last simulated day (or wider) give the same messages, one
    for one, as the spec without windows."""
    bare = WINDOWED
    for clause in (
        "active until 2026-02-15",
        "active from 2026-02-16",
        "active until 2026-03-31",
        "active from 2026-04-01",
    ):
        bare = bare.replace(f"  {clause}\n", "")
    assert "active" not in bare
    exact = bare.replace("  send", "  active from 2026-01-01 until 2026-04-10\n  send")  # 100 days
    wide = bare.replace("  send", "  active from 2020-01-01 until 2030-12-31\n  send")
    expected = _messages(bare, days=100)
    assert len(expected) > 0
    for spec in (exact, wide):
        assert _messages(spec, days=100).equals(expected)


def test_until_a_date_is_the_same_run_up_to_that_date():
    """Before its window closes a rule does what it would do without one: up to D the messages
    are the same, one for one (timers, including "N days after purchase" ones, as well)."""
    bare = WINDOWED.replace("  active until 2026-02-15\n", "").replace(
        "  active until 2026-03-31\n", ""
    )
    until = bare.replace("  send", "  active until 2026-03-01\n  send", 1)  # thanks_old only
    until = until.replace(
        "  on 20 days after purchase\n", "  on 20 days after purchase\n  active until 2026-03-01\n"
    )
    without, windowed = _messages(bare, days=120), _messages(until, days=120)

    def cut(m):  # `converted` looks past D (a purchase after the message), so it may differ
        return m[m["date"].astype(str) <= "2026-03-01"].drop(columns="converted")

    assert len(cut(without)) > 0 and cut(windowed).equals(cut(without))
    for rule in ("thanks_old", "check_in"):
        assert _dates(windowed, rule)[1] == "2026-03-01"
        assert _dates(without, rule)[1] > "2026-03-01"


def test_a_condition_rule_opening_late_looks_at_everyone_on_its_first_day():
    """`when purchases >= 2` is not driven by time, yet on the window's first day every customer
    who meets it enters (here all: each has bought three times), once; never before."""
    spec = """program "Shop" currency USD
channel email cost 0.1
stage all when purchases >= 0
rule regulars {
  when purchases >= 2
  active from 2026-02-01
  send email "Thanks for coming back"
}
"""
    market = market_from_mapping(
        {**EXISTING, "population": {"start": "existing", "purchases": {3: 1.0}}}
    )
    forecast = clmlang.simulate(
        clmlang.loads(spec), market, customers=2000, days=60, rng=4, logs=True
    )
    messages = forecast.logs()["messages"]
    assert _dates(messages, "regulars") == ("2026-02-01", "2026-02-01", 2000)
    assert messages["customer_id"].nunique() == 2000


def test_no_trace_line_outside_the_window():
    """Outside its window a rule is not even considered: no "triggered, but ..." trace line."""
    spec = """program "Shop" currency USD
channel email cost 0.1
stage all when purchases >= 0
rule never_eligible {
  on purchase
  for purchases > 100000
  active from 2026-03-01
  send email "x"
}
"""
    forecast = clmlang.simulate(
        clmlang.loads(spec), market_from_mapping(EXISTING), customers=300, days=120, rng=5, trace=14
    )
    purchase_days = {math.floor(day) for day, kind, _ in forecast.trace if kind == "purchase"}
    rule_days = {
        math.floor(day) for day, kind, detail in forecast.trace if "never_eligible" in detail
    }
    assert min(purchase_days) < 59  # 2026-03-01 is day 59: customer 14 buys before and after
    assert rule_days == {d for d in purchase_days if d >= 59} != set()
