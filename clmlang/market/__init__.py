"""Market: the assumptions a policy is simulated under.

`model` is the market (population, buying, spend, response, burnout), validated against a
policy's names; `errors` turns its problems into diagnostics at their TOML lines; `scenario`
reads scenario files (settings, market, variants, sweeps); `overrides` applies a variant's
changes to a spec or a market. Hands a `Market` and `Scenario` to the simulator.
"""
