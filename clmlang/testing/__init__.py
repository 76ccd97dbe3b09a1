"""Testing policies: `clm test`, `clm diff` and the pytest plugin.

`testfile` reads `NAME.test.toml`; examples (`example_checks`), invariants over generated
histories (`state_invariants`, with `generated_histories` and `counterexamples`, the seeded
hypothesis search) and over simulated traces (`trace_invariants`), and forecast expectations
(`forecast_expectations`) are run by `policytest`, with `coverage` of rules and branches.
`changes` diffs two policies by name, `impact` forecasts a change's KPI effect,
`diffview` renders both; `pytest_plugin` collects test files into pytest.
"""
