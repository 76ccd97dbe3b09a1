"""Prospects (`[market.prospects]`): contacts who have not bought arrive from sources and by
referral, wait in the `purchases == 0` stage, and convert to a first purchase or leave.
Expectations come from the model's closed forms, not from the simulator's output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import clmlang
from clmlang.market.model import Market, MarketError
from clmlang.market.scenario import load_scenario, load_scenario_file
from clmlang.whatif.experiment import plan

from .conftest import clm

ROOT = Path(__file__).resolve().parents[1]

# no rules: prospects convert on their own or leave
QUIET = """program "Funnel"
stage potential when purchases == 0
stage new when purchases == 1
stage repeat when purchases >= 2
"""

# a data_for_offer-style rule: every prospect is asked, half held out
ASKING = """program "Asking"
channel email cost 0.5
stage potential when purchases == 0
stage new when purchases >= 1
rule data_for_offer {
  on enter potential
  holdout 50%
  send email "Tell us what you need: we prepare your offer"
  success purchase within 14 days
}
"""

# customers who practically never buy again, so they stay alive and refer at a steady rate
STILL = {"r": 1.0, "alpha": 10000.0}
EMAIL = {"reach": 1.0, "response": 0.3, "unsubscribe": 0.0, "window_days": 14}


def market(**prospects) -> Market:
    return Market.model_validate({"prospects": prospects, "buying": STILL})


def test_conversions_and_losses_follow_the_closed_form():
    """Prospects arriving at 200 a day over 60 days, converting at 0.02 and leaving at 0.05
    a day (competing exponentials): conversions, losses and those still waiting at the end are
    Poisson (thinned Poisson arrivals), with means lam*share*(T - (1 - e^-kT)/k), k = c + d."""
    lam, c, d, days = 200.0, 0.02, 0.05, 60
    source = {"per_day": lam, "convert": c, "dropout": d}
    f = clmlang.simulate(
        clmlang.loads(QUIET), market(sources={"web": source}), customers=1, days=days, rng=7
    )
    k = c + d
    exposure = days - (1 - math.exp(-k * days)) / k
    expected = {
        "conversions": lam * c / k * exposure,
        "prospects_lost": lam * d / k * exposure,
        "prospects_at_end": lam * (1 - math.exp(-k * days)) / k,
        "prospects": lam * days,
    }
    for key, mean in expected.items():
        assert abs(f.summary[key] - mean) < 4 * math.sqrt(mean), (key, f.summary[key], mean)
    assert f.daily["conversions"].sum() == f.summary["conversions"]
    assert f.daily["prospects"].iloc[-1] == f.summary["prospects_at_end"]
    # the starting customer plus every prospect who converted
    assert f.daily["customers"].iloc[-1] == 1 + f.summary["conversions"]
    assert f.summary["acquired_customers"] == f.summary["conversions"]


def test_potential_stage_fills_and_empties():
    """The `purchases == 0` stage holds the prospects waiting: it fills from empty towards
    lam / (c + d), loses each conversion to `new`, and the lost ones leave every stage."""
    lam, c, d, days = 100.0, 0.02, 0.08, 80
    f = clmlang.simulate(
        clmlang.loads(QUIET),
        market(sources={"web": {"per_day": lam, "convert": c, "dropout": d}}),
        customers=1,
        days=days,
        rng=11,
    )
    potential = f.stages["potential"].to_numpy()
    for day in (0, 5, 20, days - 1):
        mean = lam * (1 - math.exp(-(c + d) * (day + 1))) / (c + d)
        assert abs(potential[day] - mean) < 4 * math.sqrt(mean) + 1, (day, potential[day], mean)
    assert (potential == f.daily["prospects"].to_numpy()).all()
    moved = f.transitions.loc["potential", "new"]
    assert moved == f.summary["conversions"]
    assert f.stages["(none)"].iloc[-1] == f.summary["prospects_lost"]


def test_a_list_on_day_zero_converts_as_a_binomial():
    """800 prospects on the list on day 0, none later: by day T, each has converted with
    probability c/(c+d) (1 - e^-(c+d)T) (arrival within day 0 moves it by under 1%)."""
    n, c, d, days = 4000, 0.01, 0.03, 50
    f = clmlang.simulate(
        clmlang.loads(QUIET),
        market(sources={"show": {"at_start": n, "convert": c, "dropout": d, "cost": 9.0}}),
        customers=1,
        days=days,
        rng=5,
    )
    p = c / (c + d) * (1 - math.exp(-(c + d) * (days - 0.5)))
    assert f.summary["prospects"] == n
    assert abs(f.summary["conversions"] - n * p) < 4 * math.sqrt(n * p * (1 - p))
    assert f.summary["acquisition_cost"] == 0.0  # a list already held costs nothing
    assert f.summary["cac"] == 0.0


def test_a_rule_fires_on_prospects_and_raises_conversion_over_its_holdout():
    """`on enter potential` fires for every prospect; a message answered with chance p makes
    the treated convert within the window at p + (1 - p) A, the holdout at A, where A is the
    chance of a purchase of their own in days 1..W after the day they came."""
    n, c, w, p, days = 6000, 0.01, 14, 0.3, 30
    m = Market.model_validate(
        {
            "prospects": {"sources": {"web": {"at_start": n, "convert": c, "dropout": 0.0}}},
            "buying": STILL,
            "channels": {"email": EMAIL},
        }
    )
    f = clmlang.simulate(clmlang.loads(ASKING), m, customers=1, days=days, rng=3)
    row = f.rules.set_index("rule").loc["data_for_offer"]
    assert row["fired"] + row["holdout"] == n
    a = (1 - math.exp(-c)) / c * (1 - math.exp(-c * w))
    treated = p + (1 - p) * a
    for rate, mean, size in (
        (row["conversion"], treated, row["fired"]),
        (row["holdout_conversion"], a, row["holdout"]),
    ):
        se = math.sqrt(mean * (1 - mean) / size)
        assert abs(rate - mean) < 4 * se, (rate, mean)


def test_cac_is_the_acquisition_cost_per_acquired_customer():
    """Sources cost per prospect; CAC is their cost over the customers they brought, and the
    cost is in marketing cost."""
    source = {"per_day": 50.0, "convert": 0.05, "dropout": 0.05, "cost": 20.0}
    f = clmlang.simulate(
        clmlang.loads(QUIET), market(sources={"web": source}), customers=1, days=40, rng=2
    )
    s = f.summary
    assert s["acquisition_cost"] == pytest.approx(20.0 * s["prospects"])
    assert s["cac"] == pytest.approx(20.0 * s["prospects"] / s["conversions"], rel=1e-5)
    assert f.daily["marketing_cost"].sum() == pytest.approx(s["acquisition_cost"])


REFERRING = """program "Referring"
channel email cost 0.1
stage potential when purchases == 0
stage new when purchases >= 1
rule ask_friends {
  on first purchase
  send email "Bring a friend" tag referral
}
"""


@pytest.mark.parametrize("asked", [False, True])
def test_referrals_follow_the_rate_and_the_referral_offer(asked: bool):
    """N customers, alive and not buying again, bring prospects at rate q a day from day 1:
    Poisson with mean N q (T - 1); a referral-tagged message on day 0 multiplies the rate by
    `lift` for `window_days` days (days 1..W): mean N q (lift W + T - 1 - W)."""
    n, q, lift, w, days = 2000, 0.002, 4.0, 10, 40
    spec = REFERRING if asked else QUIET
    m = Market.model_validate(
        {
            "prospects": {
                "referrals": {
                    "per_day": q,
                    "lift": lift,
                    "window_days": w,
                    "convert": 0.0,
                    "reward": 50.0,
                }
            },
            "buying": STILL,
            **({"channels": {"email": {**EMAIL, "response": 0.0}}} if asked else {}),
        }
    )
    f = clmlang.simulate(clmlang.loads(spec), m, customers=n, days=days, rng=9)
    days_lifted = w if asked else 0
    mean = n * q * (lift * days_lifted + days - 1 - days_lifted)
    assert abs(f.summary["referrals"] - mean) < 4 * math.sqrt(mean), (f.summary["referrals"], mean)
    assert f.summary["prospects"] == f.summary["referrals"]
    assert f.summary["conversions"] == 0 and f.summary["acquisition_cost"] == 0.0


def test_no_prospects_leaves_outputs_unchanged(tmp_path: Path):
    """A prospects table with nothing in it (no rate, no list) is no prospects: the same files
    as a market without the table."""
    policy = clmlang.load(ROOT / "specs" / "clinic.clm")
    empty = Market.model_validate({"prospects": {"sources": {"web": {"cost": 5.0}}}})
    a = clmlang.simulate(policy, Market(), customers=300, days=60, rng=4).files()
    b = clmlang.simulate(policy, empty, customers=300, days=60, rng=4).files()
    assert a == b
    assert "prospects" not in json.loads(a["summary.json"])
    assert "conversions" not in a["daily.csv"].splitlines()[0]


def test_same_seed_same_bytes():
    """Prospects draw from the run's generator only: one seed, one set of files."""
    m = market(sources={"web": {"per_day": 30.0}}, referrals={"per_day": 0.001, "reward": 10.0})
    policy = clmlang.loads(ASKING)
    a = clmlang.simulate(policy, m, customers=200, days=50, rng=8).files()
    b = clmlang.simulate(policy, m, customers=200, days=50, rng=8).files()
    assert a == b


def test_bad_keys_are_diagnostics_at_their_line(tmp_path: Path):
    """A misspelt or out-of-range prospects key is a CLM200 at its line, with a did-you-mean."""
    path = tmp_path / "s.toml"
    path.write_text(
        "[market.prospects.sources.site]\nper_day = 20\nconvrt = 0.02\ndropout = -1\n"
        "[market.prospects.referrals]\nper_dya = 1\n"
    )
    with pytest.raises(MarketError) as info:
        load_scenario(path)
    found, _ = info.value.diagnostics()
    where = {d.message.split(":")[0]: d.span.line for d in found}
    assert where == {
        "market.prospects.sources.site.convrt": 3,
        "market.prospects.sources.site.dropout": 4,
        "market.prospects.referrals.per_dya": 6,
    }
    assert any("did you mean `per_day`" in d.message for d in found)


def test_the_car_dealer_example_runs_its_funnel():
    """simulations/car_dealer_signups.toml: sign-ups fill the potential stage, some take a
    test drive (the lead product), data_for_offer fires on them, and CAC is computed."""
    f = clmlang.simulate(
        market=ROOT / "simulations" / "car_dealer_signups.toml", customers=500, days=90
    )
    s = f.summary
    assert s["prospects"] > 800 and 0 < s["conversions"] < s["prospects"]
    assert s["cac"] is not None and s["cac"] > 0
    potential = f.stages["potential"]
    assert potential.max() > potential.iloc[0] / 2 and potential.iloc[-1] > 0
    rules = f.rules.set_index("rule")
    assert rules.loc["data_for_offer", "fired"] + rules.loc["data_for_offer", "holdout"] > 800


def test_shards_are_refused_with_prospects(tmp_path: Path):
    """A market with prospects runs as one shard: split, each shard would get every source."""
    path = tmp_path / "s.toml"
    path.write_text(
        f'[simulation]\nspec = "{ROOT / "specs" / "clinic.clm"}"\ncustomers = 100\n'
        "days = 10\nshards = 2\n[market.prospects.sources.web]\nper_day = 5\n"
    )
    with pytest.raises(MarketError, match="one shard"):
        plan(load_scenario_file(path), replications=1)


def test_a_run_too_large_names_the_source(tmp_path: Path):
    """Prospects past what one run can hold: a CLM200 at the source that brings them."""
    path = tmp_path / "s.toml"
    path.write_text(
        f'[simulation]\nspec = "{ROOT / "specs" / "clinic.clm"}"\ncustomers = 100\n'
        "days = 365\n[market.prospects.sources.web]\nper_day = 1e9\n"
    )
    done = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{path}:6:" in done.stderr
    assert "lower `market.prospects.sources.web.per_day`" in done.stderr
