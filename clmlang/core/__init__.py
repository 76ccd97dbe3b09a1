"""Core: what every stage shares, and nothing of the domain.

Source text and spans (`source`), diagnostics with their codes and rendering
(`diagnostics`), atomic output files that keep the user's modes (`files`), the optional
extras and the message naming a missing one (`extras`), "did you mean" hints (`names`),
the intervals reports and forecasts share (`statistics`), and the pieces every HTML page
shares (`page`). Takes in nothing from the rest of clmlang; every other stage builds on it.
"""
