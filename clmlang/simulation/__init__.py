"""Simulation: a policy and a market in, a forecast out.

`engine` runs the policy over a population on one event calendar (SimPy drives the days,
numpy holds the customers); `metrics` turns a run's records into the forecast: KPIs, stage
flows, cohorts and each rule's effect against its holdout, as pandas DataFrames.
"""
