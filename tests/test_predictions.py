"""The buying model's predictions as conditions: `p_alive`, `expected_purchases(D)`,
`predicted_value(D)`.

The closed forms are checked against numerical integration over the BG/NBD and Gamma-Gamma
priors (written out here, not taken from the module) and against the published CDNOW figure;
the simulator's rules in test_prediction_simulation.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special

from clmlang.api import analyse_text, explain
from clmlang.compile.explanation import CustomerError
from clmlang.core import predictions
from clmlang.language.formatter import format_text
from clmlang.lsp.completion import complete
from clmlang.lsp.document import Document
from clmlang.lsp.hover import describe
from clmlang.market.model import Market

from .conftest import clm

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW, in weeks.
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
HEADER = """program "Store" currency USD
channel email kind email
stage visitor when purchases == 0
stage buyer when purchases >= 1
"""


# ---- the closed forms, against integration over the priors ---------------------------


def _posterior_moments(x, t_x, T, r, alpha, a, b, t):
    """By quadrature over lambda ~ Gamma(r, alpha) and p ~ Beta(a, b) of the BG/NBD
    likelihood (Gauss-Laguerre in lambda, Gauss-Jacobi in p): P(alive | history) and
    E[purchases in (T, T + t] | history] (alive at T: (1 - exp(-lambda p t)) / p each; a
    dropout buys nothing more). The priors' constants cancel in the ratios."""
    z, wp = special.roots_jacobi(200, b - 1, a - 1)  # weight (1 - z)^(b-1) (1 + z)^(a-1)
    p = (1 + z) / 2

    def over_rate(end: float, f):
        # lambda^(r+x-1) exp(-lambda (alpha + end)): u = lambda (alpha + end)
        u, wl = special.roots_genlaguerre(200, r + x - 1)
        lam = u / (alpha + end)
        scale = (alpha + end) ** -(r + x)
        return scale * np.einsum("i,j,ij->", wl, wp, f(lam[:, None], p[None, :]))

    alive = over_rate(T, lambda lam, p: (1 - p) ** x)
    dropped = over_rate(t_x, lambda lam, p: p * (1 - p) ** (x - 1)) if x > 0 else 0.0
    more = over_rate(T, lambda lam, p: (1 - p) ** x * -np.expm1(-lam * p * t) / p)
    total = alive + dropped
    return alive / total, more / total


HISTORIES = [
    (0, 0.0, 20.0),
    (1, 5.0, 30.0),
    (2, 30.43, 38.86),
    (6, 20.0, 52.0),
    (3, 2.0, 40.0),
    (40, 75.0, 78.0),
]


@pytest.mark.parametrize(("x", "t_x", "T"), HISTORIES)
def test_bgnbd_forms_equal_integration(x, t_x, T):
    """P(alive) and E[Y(39 weeks)] from the closed forms equal integration over the priors."""
    want_alive, want_more = _posterior_moments(x, t_x, T, **CDNOW, t=39.0)
    got_alive = predictions.p_alive(x, t_x, T, **CDNOW)
    got_more = predictions.expected_purchases(39.0, x, t_x, T, **CDNOW)
    assert float(got_alive) == pytest.approx(want_alive, rel=1e-8)
    assert float(got_more) == pytest.approx(want_more, rel=1e-8)


def test_published_cdnow_customer():
    """FHL 2005: a customer with x=2, t_x=30.43, T=38.86 weeks expects 1.226 purchases in the
    next 39 weeks; P(alive) is the published formula (eq. 13) written out here."""
    r, alpha, a, b = CDNOW.values()
    x, t_x, T = 2, 30.43, 38.86
    assert float(predictions.expected_purchases(39, x, t_x, T, **CDNOW)) == pytest.approx(
        1.226, abs=5e-4
    )
    odds = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    assert float(predictions.p_alive(x, t_x, T, **CDNOW)) == pytest.approx(1 / (1 + odds))


def test_no_repeat_purchase_is_alive_and_a_equal_to_one_is_a_limit():
    """x = 0 gives P(alive) 1 (BG/NBD: a dropout comes only after a repeat purchase); at
    a = 1, where eq. 10 is 0/0, the value sits between its neighbours'."""
    assert float(predictions.p_alive(0, 0, 100, **CDNOW)) == 1.0
    args = (39.0, 3, 20.0, 40.0, 0.243, 4.414)
    below, at, above = (predictions.expected_purchases(*args, a, 2.4) for a in (0.99, 1, 1.01))
    assert min(below, above) < at < max(below, above)
    assert np.isfinite(at)


def test_long_histories_and_long_windows_stay_finite():
    """Hundreds of purchases, a century's window: numbers, no overflow into NaN."""
    model = Market().buying_model()
    for key in ("p_alive", "expected_purchases:36525", "predicted_value:36525"):
        with np.errstate(all="raise"):
            value = predictions.prediction(
                key, [1, 500, 10_000], [0, 3000, 36_000], [0, 0, 36_000], [0, 1e6, 1e9], model
            )
        assert np.isfinite(value).all() and (value >= 0).all()


def test_gamma_gamma_spend_equals_integration():
    """E[order value | n orders averaging m] = E[p / nu | data], integrated over nu's
    posterior (prior Gamma(q, gamma), likelihood of n Gamma(p, nu) orders)."""
    p, q, gamma, n, m = 6.0, 4.0, 150.0, 3, 80.0

    shape, scale = p * n + q, 1 / (gamma + n * m)
    peak = (shape - 1) * scale

    def weight(nu):  # scaled to 1 at its peak, so that quadrature sees it
        return math.exp((shape - 1) * math.log(nu / peak) - (nu - peak) / scale)

    top = integrate.quad(lambda nu: p / nu * weight(nu), 0, 20 * peak)[0]
    want = top / integrate.quad(weight, 0, 20 * peak)[0]
    assert float(predictions.expected_spend(n, m, p, q, gamma)) == pytest.approx(want, rel=1e-6)
    prior_mean = p * gamma / (q - 1)
    assert float(predictions.expected_spend(0, 0, p, q, gamma)) == pytest.approx(prior_mean)


def test_clm_forecast_says_the_same_of_a_plain_history():
    """For a history with no message log, `clm forecast`'s per-customer p_alive and expected
    purchases (weeks) are the conditions' (days), under the same market."""
    from clmlang.forecasting.history import Summary
    from clmlang.forecasting.posterior import Latent

    x, t_x, T = np.array([0, 1, 3, 7]), np.array([0, 4.0, 20.0, 30.0]), np.full(4, 40.0)
    summary = Summary(
        customers=np.arange(4),
        x=x,
        t_x=t_x,
        T=T,
        monetary=np.zeros(4),
        first=np.zeros(4, dtype="datetime64[D]"),
        times=[np.zeros(0)] * 4,
    )
    market = Market()
    latent = Latent(summary, market.buying)
    model = market.buying_model()
    per_day = (model.r, model.alpha, model.a, model.b)
    days = predictions.prediction("p_alive", x + 1, T * 7, (T - t_x) * 7, np.zeros(4), model)
    assert latent.p_alive == pytest.approx(days)
    assert latent.p_alive == pytest.approx(predictions.p_alive(x, t_x * 7, T * 7, *per_day))
    ahead = predictions.prediction("expected_purchases:91", x + 1, T * 7, (T - t_x) * 7, 0, model)
    assert latent.expected(summary, 13.0) == pytest.approx(ahead)


def test_a_customer_without_purchases_has_no_prediction():
    """The model starts at the first purchase: before it, every prediction is unknown."""
    model = Market().buying_model()
    for key in ("p_alive", "expected_purchases:90", "predicted_value:365"):
        value = predictions.prediction(key, [0, 2], [np.nan, 50], [np.nan, 10], [0, 90], model)
        assert np.isnan(value[0]) and np.isfinite(value[1])


# ---- the language: types, checks, formatting, editor ---------------------------------


def _diagnostics(condition: str):
    text = HEADER + f'rule r {{\n  when {condition}\n  send email "x"\n}}\n'
    return analyse_text(text, "t.clm").diagnostics


@pytest.mark.parametrize(
    "condition",
    [
        "p_alive < 30%",
        "p_alive in 10%..50%",
        "expected_purchases(90 days) >= 1",
        "predicted_value(1 year) > 500",
        "predicted_value(365 days) > 500 USD and p_alive >= 20%",
    ],
)
def test_predictions_are_typed_conditions(condition):
    """A share written as a percentage, a count and money, each with its window."""
    assert [d.code for d in _diagnostics(condition)] == []


@pytest.mark.parametrize(
    ("condition", "says", "hint"),
    [
        ("p_alive < 0.3", "compares a percentage with a number", "write `p_alive < 30%`"),
        ("p_alive > 45", "compares a percentage with a number", "write `p_alive > 45%`"),
        ("expected_purchases(90) > 1", "needs a window like `30 days`", None),
        ("predicted_value(365 days) > 3 days", "compares money with a duration", None),
        ("expected_purchases() > 1", "takes 1 argument", "expected_purchases(90 days)"),
        ("p_alive", "must be a condition", None),
    ],
)
def test_prediction_mistakes_are_clm110_with_the_fix(condition, says, hint):
    """Wrong units and missing windows are reported with a fix where there is one."""
    found = _diagnostics(condition)
    assert found and found[0].code in ("CLM103", "CLM110")
    assert says in found[0].message
    if hint:
        assert hint in (found[0].hint or "")


def test_predictions_format_back_unchanged():
    """The formatter prints predictions as written."""
    text = HEADER + (
        "rule r {\n  when p_alive < 30% and expected_purchases(90 days) >= 1.5\n"
        '  send email "x"\n}\n'
    )
    once = format_text(text)
    assert "p_alive < 30%" in once and "expected_purchases(90 days) >= 1.5" in once
    assert format_text(once) == once


def test_editor_completes_and_describes_predictions(tmp_path: Path):
    """Completion offers the predictions in a condition; hover says what they are."""
    text = HEADER + 'rule r {\n  when p_alive < 30%\n  send email "x"\n}\n'
    path = tmp_path / "t.clm"
    doc = Document.open(path.as_uri(), str(path), text)
    prefix = HEADER + "rule r {\n  when "
    offered = [c.label for c in complete(doc.index, prefix, len(prefix))]
    assert {"p_alive", "expected_purchases", "predicted_value"} <= set(offered)
    ref = doc.index.reference_at(doc.name, text.index("p_alive") + 2)
    assert ref is not None and "probability" in (describe(doc.index, ref, {}) or "")


# ---- clm explain -----------------------------------------------------------------------


SPEC = (
    HEADER
    + """rule winback {
  when p_alive < 30%
  send email "We miss you"
}
rule vip {
  on purchase
  when predicted_value(365 days) > 400
  send email "VIP line"
}
"""
)


def test_explain_shows_the_predictions_under_the_default_market():
    """The values come from the customer's history under the default market, which is named."""
    analysis = analyse_text(SPEC, "t.clm")
    customer = "purchases=5, days_since_purchase=200, days_since_first_purchase=400"
    result = explain(analysis, customer + ", total_spent=1000")
    values = dict(result.predictions)
    b = Market().buying
    x, T, t_x = 4, 400.0, 200.0
    odds = b.a / (b.b + x - 1) * ((b.alpha + T) / (b.alpha + t_x)) ** (b.r + x)
    assert values["p_alive"] == pytest.approx(1 / (1 + odds))
    assert "default market" in (result.model or "")
    verdicts = {v.rule: v for v in result.rules}
    assert verdicts["winback"].eligible == (values["p_alive"] < 0.3)
    assert "p_alive" in result.predictions_text()
    assert "predicted_value(365 days)" in result.to_dict()["predictions"]


def test_explain_uses_a_given_market():
    """Another market's parameters give another p_alive, and the explanation says whose."""
    analysis = analyse_text(SPEC, "t.clm")
    customer = "purchases=5, days_since_purchase=200, days_since_first_purchase=400"
    other = Market.model_validate({"buying": {"a": 0.2, "b": 5.0}})
    default = dict(explain(analysis, customer).predictions)["p_alive"]
    result = explain(analysis, customer, other)
    assert dict(result.predictions)["p_alive"] > default
    assert "a=0.2" in (result.model or "") and "given market" in (result.model or "")


def test_explain_refuses_a_given_prediction():
    """A prediction is computed from the history, never given."""
    with pytest.raises(CustomerError, match="prediction"):
        explain(analyse_text(SPEC, "t.clm"), "purchases=3, p_alive=20")


def test_clm_explain_names_the_market_and_refuses_a_missing_scenario(tmp_path: Path):
    """`clm explain` prints the predictions and whose parameters; `--scenario` changes them;
    a missing or broken scenario file is an error without a traceback."""
    spec = tmp_path / "t.clm"
    spec.write_text(SPEC)
    customer = "purchases=4, days_since_purchase=90, days_since_first_purchase=200"
    plain = clm("explain", str(spec), "--customer", customer)
    assert plain.returncode == 0 and "p_alive=" in plain.stdout
    assert "under the default market: BG/NBD r=0.9" in plain.stdout
    scenario = tmp_path / "s.toml"
    scenario.write_text("[market.buying]\nr = 0.5\nalpha = 30.0\n")
    other = clm("explain", str(spec), "--customer", customer, "--scenario", str(scenario))
    assert other.returncode == 0 and "r=0.5, alpha=30 days" in other.stdout
    for bad in ("[market.buying]\nr = -1\n", None):
        path = tmp_path / "missing.toml"
        if bad is not None:
            path = tmp_path / "bad.toml"
            path.write_text(bad)
        run = clm("explain", str(spec), "--customer", customer, "--scenario", str(path))
        assert run.returncode != 0 and "Traceback" not in run.stderr
        assert str(path.name) in run.stderr
