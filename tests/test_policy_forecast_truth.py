"""Forecasts checked against worlds whose truth is known (tests/worlds.py): the fast cases of
the validation suite; benchmarks/validate_policy_forecast.py runs the full table (more
customers, several seeds) that docs/calibration.md reports.

Each world is simulated, its purchase and message logs go through calibration and the
forecast as a real base's would, and the forecast is compared with what the world did. The
tolerances are the acceptance targets of the policy-forecast work (issue 15 §5); on 6,000
customers the worlds' own sampling noise is a few per cent of a total and under 10% of an
effect, so a forecast that counted the policy twice (+15-20% before this work) fails them.
"""

from __future__ import annotations

from . import worlds

CUSTOMERS = 6_000


def test_no_marketing_parameters_and_total():
    """A world with no marketing: every BG/NBD parameter within 3 standard errors of the
    truth, the next year's repeat purchases within 5%."""
    out = worlds.no_marketing(CUSTOMERS, seed=3)
    for name in worlds.TRUTH:
        assert abs(out[f"z_{name}"]) < 3.0, out
    assert abs(out["error"]) < 0.05, out


def test_a_new_policy_after_a_campaign_with_a_holdout():
    """A rule never run before, its response taken from an earlier campaign's holdout (the
    channel's response, the new offer's lift): its effect within 10% of the true one."""
    out = worlds.campaign_then_new_policy(CUSTOMERS, seed=3, replications=2)
    assert out["truth_effect"] > 0
    assert abs(out["effect_error"]) < 0.10, out


def test_a_new_policy_replacing_the_policy_in_force():
    """The policy in force ran through the whole calibration period: the new policy's total
    within 5% of the truth, the change from the policy in force within 15%, and keeping the
    policy within 5% (it was +15-20% when the history's policy was fitted as buying)."""
    out = worlds.policy_in_force_then_new(CUSTOMERS, seed=3, replications=2)
    assert abs(out["error"]) < 0.05, out
    assert abs(out["kept_error"]) < 0.05, out
    assert out["truth_change"] > 0
    assert abs(out["change_error"]) < 0.15, out


def test_without_the_log_the_policy_is_counted_twice():
    """The same history forecast without the message log, the true response given: keeping
    the policy in force comes out well above what the world did (the history's policy is
    fitted as buying, then simulated again), which is why the log is read."""
    import clmlang

    end = worlds.calibration_end()
    current = worlds.spec("In force", (worlds.WINBACK, None, None))
    world = worlds.simulate(current, CUSTOMERS, 1)
    fit = clmlang.fit_history(world.purchases, end.date().isoformat(), model="bgnbd")
    market = fit.market.model_copy(update={"channels": worlds.market().channels})
    result = clmlang.forecast_history(
        world.purchases,
        end.date().isoformat(),
        worlds.until().date().isoformat(),
        clmlang.loads(current),
        market=market,
        replications=2,
    )
    truth = world.repeat_transactions_after(end)
    error = result.summary["holdout_repeat_transactions"] / truth - 1
    assert error > 0.10, error
