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

__all__ = ["edge_notes", "fit_lines"]

CONCENTRATION = 1e3  # a Gamma's shape r, a Beta's a + b, past this without a usable standard error
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
    """Whether the fit gives `name` no usable standard error: none, or one above its value."""
    se = fit.std_errors.get(name, math.nan)
    return not math.isfinite(se) or se > fit.params[name]


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


def fit_lines(fits: Iterable[Fit]) -> list[str]:
    """Each fit's parameters (standard errors in brackets), log-likelihood and AIC, and
    under it a note on each parameter pair at its edge."""
    lines = []
    for fit in fits:
        params = ", ".join(f"{k} {v:.4g} ({fit.std_errors[k]:.2g})" for k, v in fit.params.items())
        lines.append(
            f"{fit.model:<18} {params}; log-likelihood {fit.log_likelihood:,.2f}, "
            f"AIC {fit.aic:,.2f}"
        )
        lines.extend(f"  {fit.model}: {note}" for note in edge_notes(fit))
    return lines
