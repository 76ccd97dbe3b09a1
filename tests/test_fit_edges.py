"""Fits at their edge: a Beta(a, b) dropout whose a and b run off together (every customer
with the same dropout probability), said plainly in the report, and past what scipy's
Gauss-Jacobi rule can scale."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

from clmlang.forecasting.fitting import Fit, fit_bgnbd
from clmlang.forecasting.history import summarise
from clmlang.forecasting.identification import edge_notes, fit_lines
from clmlang.forecasting.reactivation_posterior import posterior
from clmlang.forecasting.reactivation_quadrature import dropout_nodes, jacobi_rule

from .conftest import ROOT, cdnow_days


def _history_with_one_dropout(p: float, seed: int = 1) -> pd.DataFrame:
    """BG/NBD's process with no spread in the dropout: rate ~ Gamma(2, 20) per week, every
    customer dropping out with probability `p` after each repeat purchase, first purchases
    spread over a year, observed two years."""
    rng = np.random.default_rng(seed)
    n = 2000
    first, rate = rng.uniform(0, 52, n), rng.gamma(2.0, 1 / 20.0, n)
    rows = []
    for c in range(n):
        t = first[c]
        rows.append((c, t))
        while True:
            t += rng.exponential(1 / rate[c])
            if t >= 104:
                break
            rows.append((c, t))
            if rng.random() < p:
                break
    frame = pd.DataFrame(rows, columns=["customer_id", "week"])
    days = pd.to_timedelta((frame.pop("week") * 7).astype(int), unit="D")
    frame["date"] = pd.Timestamp("2025-01-01") + days
    frame = frame.drop_duplicates()
    frame["amount"], frame["customer_id"] = 1.0, frame["customer_id"].astype(str)
    return frame


def test_a_history_with_one_dropout_probability_is_reported_at_the_edge():
    fit = fit_bgnbd(summarise(_history_with_one_dropout(0.2), "2026-12-29"))
    a, b = fit.params["a"], fit.params["b"]
    assert a + b > 1e3  # the likelihood rises toward the point mass
    # about 600 dropouts among some 3,000 repeat purchases: p's standard error near 0.007
    assert a / (a + b) == pytest.approx(0.2, abs=0.03)
    (note,) = edge_notes(fit)
    assert "a and b at their edge" in note and f"a / (a + b) = {a / (a + b):.4g}" in note
    lines = fit_lines([fit])
    assert len(lines) == 2 and lines[1].startswith("  bgnbd: a and b at their edge")


def test_identified_fits_carry_no_note():
    fit = fit_bgnbd(summarise(cdnow_days(), "1997-09-30"))
    assert edge_notes(fit) == [] and len(fit_lines([fit])) == 1
    # large but with a standard error below the value: identified, no note
    tight = Fit(
        "bgnbd",
        {"r": 0.2, "alpha": 4.0, "a": 3e3, "b": 9e3},
        {"r": 0.01, "alpha": 0.3, "a": 900.0, "b": 2e3},
        0.0,
        10,
    )
    assert edge_notes(tight) == []
    spread = Fit(
        "bgnbd",
        {"r": 5e4, "alpha": 1e6, "a": 0.8, "b": 3.0},
        {"r": np.nan, "alpha": np.nan, "a": 0.1, "b": 0.4},
        0.0,
        10,
    )
    (note,) = edge_notes(spread)
    assert "r and alpha at their edge" in note and "r / alpha = 0.05 per week" in note


@pytest.mark.parametrize("a, b", [(0.8, 2.4), (3.0, 7.0), (50.0, 400.0)])
def test_dropout_nodes_are_scipys_where_scipy_gives_them(a, b):
    z, w = special.roots_jacobi(12, b - 1.0, a - 1.0)
    p, weights = dropout_nodes(12, a, b)
    np.testing.assert_array_equal(p, (1.0 + z) / 2.0)
    np.testing.assert_allclose(weights, w / w.sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "a, b", [(1.818e6, 1.452e7), (2.0e3, 6.0e3), (1.0, 5.0e3), (1.47e48, 1.46e48)]
)
def test_dropout_nodes_keep_the_betas_mean_and_spread_past_scipys_range(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, w = dropout_nodes(12, a, b)
    assert np.isfinite(p).all() and np.isfinite(w).all() and abs(w.sum() - 1) < 1e-12
    mean = a / (a + b)  # the Beta's moments, in closed form
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert (p * w).sum() == pytest.approx(mean, rel=1e-9)
    spread = np.sqrt((w * (p - (p * w).sum()) ** 2).sum())
    assert spread == pytest.approx(sd, rel=1e-6, abs=1e-15)
    # a 12-node rule is exact for polynomials of degree 23: the third moment too
    third = a * (a + 1) * (a + 2) / ((a + b) * (a + b + 1) * (a + b + 2))
    assert (w * p**3).sum() == pytest.approx(third, rel=1e-6)


def test_past_1e150_scipy_raises_and_the_nodes_are_the_point_mass():
    """scipy's rule raised a ValueError (its Jacobi matrix's squares overflow) where a fit's
    trial point ran a and b that far: no rule (the likelihood goes by the recursion), and the
    posterior's nodes sit at the mean."""
    assert jacobi_rule(12, 3e200, 1e200) is None
    p, w = dropout_nodes(12, 3e200, 1e200)
    assert (p * w).sum() == pytest.approx(0.75, rel=1e-12) and abs(w.sum() - 1) < 1e-12


def test_the_posterior_at_a_point_mass_dropout_is_finite_and_silent():
    """BG/NBD with reactivation fitted to a simulated clinic ran a and b off to 1.5e48: the
    posterior then took scipy's NaN nodes (RuntimeWarnings, a NaN posterior)."""
    summary = summarise(cdnow_days(), "1997-09-30")
    common = {"r": 0.21, "alpha": 3.2, "omega": 0.017}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        edge = posterior(summary, {**common, "a": 1.0e48, "b": 3.0e48}).p_active
    assert np.isfinite(edge).all() and ((edge > -1e-12) & (edge < 1 + 1e-12)).all()
    # near the limit (p's sd 0.014 about 0.25), where scipy's rule still holds, nearly the same
    near = posterior(summary, {**common, "a": 250.0, "b": 750.0}).p_active
    np.testing.assert_allclose(edge, near, atol=1e-2)


def test_a_forecast_on_a_fit_at_its_edge_says_so(tmp_path):
    """`clm forecast` runs on the chosen buying model: when the history leaves its dropout's
    spread unknown, forecast.json, the command's output and the report say it, as
    `clm calibrate` does."""
    import json

    from .conftest import clm

    path = tmp_path / "h.csv"
    _history_with_one_dropout(0.2).to_csv(path, index=False)
    args = ("--calibration-end", "2026-12-29", "--until", "2027-06-30", "--model", "bgnbd")
    out = tmp_path / "o"
    result = clm(
        "forecast", "--history", str(path), *args, "--replications", "1", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    (note,) = json.loads((out / "forecast.json").read_text())["fit_notes"]
    assert note.startswith("bgnbd: a and b at their edge (not identified)")
    assert f"note: {note}" in result.stdout
    report = (out / "report.html").read_text()
    assert "The buying model&#39;s bgnbd: a and b at their edge" in report  # HTML-escaped
    identified = clm("forecast", "--history", str(ROOT / "tests" / "data" / "cdnow_sample.csv"),
                     "--calibration-end", "1997-09-30", "--until", "1998-06-30", "--model", "bgnbd",
                     "--replications", "1", "--out", str(tmp_path / "c"))  # fmt: skip
    assert identified.returncode == 0, identified.stderr
    assert "fit_notes" not in json.loads((tmp_path / "c" / "forecast.json").read_text())


def test_a_one_customer_spend_fit_is_at_its_edge_without_absurd_figures(tmp_path):
    """One customer, repeat checks of 120 and 90: the spend fit (Gamma-Gamma) cannot see a
    spread between customers, runs off to its edge (last session printed a log-likelihood
    of 5e71), and the report says so instead, with the mean check it does identify: the
    mean of the repeat checks, (120 + 90) / 2 = 105."""
    from .conftest import clm

    path = tmp_path / "one.csv"
    path.write_text(
        "customer_id,date,amount\n1,2025-01-05,100\n1,2025-03-01,120\n1,2025-06-01,90\n"
    )
    run = clm("calibrate", str(path), "--calibration-end", "2025-06-30")
    assert run.returncode == 0, run.stderr
    (line,) = [s for s in run.stdout.splitlines() if s.startswith("gamma_gamma ")]
    assert line.endswith("; log-likelihood and AIC not shown (at its edge)"), line
    note, *others = [s for s in run.stdout.splitlines() if s.startswith("  gamma_gamma: ")]
    assert note.startswith("  gamma_gamma: q and gamma at their edge (not identified)")
    # p ran off too (about 1e70): past 1e12, its finite standard error is noise
    assert [s.split(" (")[0] for s in others] == ["  gamma_gamma: p at its edge"]
    mean = float(note.split("p gamma / (q - 1) = ")[1].split(";")[0])
    assert mean == pytest.approx(105, rel=0.05)


def test_a_spend_fit_on_no_customer_says_its_values_are_not_estimates():
    start = Fit(
        "gamma_gamma",
        {"p": 1.0, "q": 2.0, "gamma": 10.0},
        dict.fromkeys("pq", np.nan) | {"gamma": np.nan},
        0.0,
        0,
    )
    line, note = fit_lines([start])
    assert line.endswith("log-likelihood and AIC not shown (no customer to fit)")
    assert "fitted on no customer" in note and "not estimates" in note
    identified = Fit(
        "gamma_gamma",
        {"p": 6.0, "q": 4.0, "gamma": 150.0},
        {"p": 0.5, "q": 0.4, "gamma": 20.0},
        -123.4,
        50,
    )
    assert fit_lines([identified]) == [
        "gamma_gamma        p 6 (0.5), q 4 (0.4), gamma 150 (20); log-likelihood -123.40, AIC 252.80"
    ]


def test_a_spend_fit_is_at_its_edge_when_q_runs_off_with_gamma_unknown():
    """As for r and alpha: q past 1,000 and no usable standard error for q or for gamma (a
    history with one repeat buyer, checks of 5: q 1.7e14 (se 2.1e8), gamma 0.55 (nan)); p
    past 1,000 without a standard error is a note of its own."""
    params = {"p": 1.5e15, "q": 1.5e14, "gamma": 0.5}
    fit = Fit("gamma_gamma", params, {"p": np.nan, "q": 2.1e8, "gamma": np.nan}, 24.0, 1)
    line, spread, within = fit_lines([fit])
    assert line.endswith("; log-likelihood and AIC not shown (at its edge)")
    # p gamma / (q - 1) = 1.5e15 * 0.5 / 1.5e14 = 5 (to 1e-14)
    assert "q and gamma at their edge" in spread and "p gamma / (q - 1) = 5;" in spread
    assert "p at its edge" in within
    # past 1,000 with usable standard errors: identified (below RUNAWAY, 1e12)
    known = Fit(
        "gamma_gamma",
        {"p": 1.5e6, "q": 1.5e5, "gamma": 0.5},
        {"p": 1e5, "q": 2.1e3, "gamma": 0.01},
        24.0,
        1,
    )
    assert fit_lines([known])[0].endswith("log-likelihood 24.00, AIC -42.00")
    # the same standard errors relative to values past 1e12 are noise: at the edge
    runaway = Fit("gamma_gamma", params, {"p": 1e14, "q": 2.1e8, "gamma": 0.01}, 24.0, 1)
    line, spread, within = fit_lines([runaway])
    assert line.endswith("(at its edge)") and "p at its edge" in within


def test_a_one_customer_spend_fit_with_a_finite_standard_error_is_at_its_edge(tmp_path):
    """review3's history: one customer buying 10, 10, 10 gave p 6.2e70 with a standard error
    of 1.8e35, which passed for identified; a value past 1e12 has run off whatever its
    standard error says."""
    from .conftest import clm

    history = tmp_path / "h.csv"
    history.write_text(
        "customer_id,date,amount\n1,2020-01-15,10\n1,2020-02-15,10\n1,2020-03-15,10\n"
    )
    done = clm("calibrate", history, "--calibration-end", "2020-06-01", "-o", tmp_path / "m.toml")
    assert done.returncode == 0, done.stderr
    assert "gamma_gamma: p at its edge" in done.stdout, done.stdout
