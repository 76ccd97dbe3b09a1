"""Which of a fit's parameters the history identifies, and the fits' report lines.

A Gamma or Beta mixing distribution whose two parameters run off together (r and alpha, a
and b: r or a + b past a thousand, with no standard error or one larger than the value) is a
fit at its edge: the likelihood keeps rising toward a point mass, every customer with the
same rate or dropout probability. The maximum is then the limit, its mean (r / alpha,
a / (a + b)) is identified and the spread between customers is not: the history shows none
(too few repeat buyers to see it, or purchases driven by something else than BG/NBD's
dropout: a simulated clinic's rules and product rhythms). docs/calibration.md, "Fits at their
edge".
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .fitting import Fit

__all__ = ["edge_notes", "fit_lines", "spend_notes"]

CONCENTRATION = 1e3  # a Gamma's shape r, a Beta's a + b, past this without a usable standard error
# a parameter past this has run off: the log-likelihood's differences there keep about 4 of
# float64's 16 digits, so its curvature, and a standard error read from it, is noise (a
# one-customer spend fit: p 6.2e70 with a "standard error" of 1.8e35)
RUNAWAY = 1e12
# each mixing distribution's pair, what it spreads, its mean, and what a point mass means
PAIRS = (
    (
        "r",
        "alpha",
        "purchase rate",
        "r / alpha",
        "per week",
        "customers with the same history get the same forecast, however they differ",
    ),
    (
        "a",
        "b",
        "dropout probability",
        "a / (a + b)",
        "after each repeat purchase",
        "past the history's span the forecast loses buyers faster than it would if their"
        " dropout did differ (no loyal core outlasts the rest)",
    ),
)


def _loose(fit: Fit, name: str) -> bool:
    """Whether the fit gives `name` no usable standard error: none, one above its value, or
    one of a value past RUNAWAY."""
    se = fit.std_errors.get(name, math.nan)
    return not math.isfinite(se) or se > fit.params[name] or fit.params[name] > RUNAWAY


def edge_notes(fit: Fit) -> list[str]:
    """A sentence for each of `fit`'s mixing distributions at its edge (none: identified)."""
    notes = []
    for first, second, what, formula, unit, meaning in PAIRS:
        if first not in fit.params or second not in fit.params:
            continue
        x, y = fit.params[first], fit.params[second]
        beta = second == "b"
        # the concentration: a + b for Beta(a, b), the shape r for Gamma(r, alpha)
        if (x + y if beta else x) <= CONCENTRATION or not (
            _loose(fit, first) or _loose(fit, second)
        ):
            continue
        mean = x / (x + y) if beta else x / y
        notes.append(
            f"{first} and {second} at their edge (not identified): the history shows no spread"
            f" in the {what} between customers, so the fit gives every customer the same,"
            f" {formula} = {mean:.4g} {unit}: {meaning}"
        )
    return notes


def _at_edge(fit: Fit, name: str) -> bool:
    return fit.params.get(name, 0.0) > CONCENTRATION and _loose(fit, name)


def _spread_at_edge(fit: Fit) -> bool:
    """Whether a spend fit's Gamma(q, gamma) of the customers' spend rates ran off toward a
    point mass: q past CONCENTRATION with no usable standard error for q or gamma (as for
    r and alpha above)."""
    return fit.params["q"] > CONCENTRATION and (_loose(fit, "q") or _loose(fit, "gamma"))


def spend_notes(fit: Fit) -> list[str]:
    """Sentences on a Gamma-Gamma (spend) fit that the history cannot make: none fitted, or
    a shape run off to its edge (the checks' spread between customers or around each
    customer's own mean not identified; the mean check p gamma / (q - 1) still is)."""
    if fit.model != "gamma_gamma":
        return []
    if fit.n == 0:
        return [
            "fitted on no customer (none made a repeat purchase of positive value): p, q and"
            " gamma are the fit's starting values, not estimates"
        ]
    p, q, gamma = (fit.params[k] for k in ("p", "q", "gamma"))
    notes = []
    if _spread_at_edge(fit):
        mean = p * gamma / (q - 1)
        notes.append(
            "q and gamma at their edge (not identified): the history shows no spread in the"
            " mean check between customers, so the fit gives every customer the same,"
            f" p gamma / (q - 1) = {mean:.4g}; at the edge its log-likelihood does not"
            " converge (the figures are not shown)"
        )
    if _at_edge(fit, "p"):
        notes.append(
            "p at its edge (not identified): the history shows no spread of a customer's"
            " checks around their own mean (too few repeat purchases per customer to see one)"
        )
    return notes


def fit_lines(fits: Iterable[Fit]) -> list[str]:
    """Each fit's parameters (standard errors in brackets), log-likelihood and AIC, and
    under it a note on each parameter pair at its edge. A spend fit at its edge (q run off)
    shows no log-likelihood: there the likelihood rises toward a point mass without converging
    and float64 loses it (a one-customer history printed 5e71)."""
    lines = []
    for fit in fits:
        params = ", ".join(f"{k} {v:.4g} ({fit.std_errors[k]:.2g})" for k, v in fit.params.items())
        unbounded = fit.model == "gamma_gamma" and _spread_at_edge(fit)
        figures = f"log-likelihood {fit.log_likelihood:,.2f}, AIC {fit.aic:,.2f}"
        if unbounded or fit.n == 0:
            why = "no customer to fit" if fit.n == 0 else "at its edge"
            figures = f"log-likelihood and AIC not shown ({why})"
        lines.append(f"{fit.model:<18} {params}; {figures}")
        notes = [*edge_notes(fit), *spend_notes(fit)]
        lines.extend(f"  {fit.model}: {note}" for note in notes)
    return lines
