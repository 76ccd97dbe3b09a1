"""Simulation: a policy and a market in, a forecast out.

`engine` runs the policy over a population on one event calendar (SimPy drives the days,
numpy holds the customers); `metrics` turns a run's records into the forecast: KPIs, stage
flows and cohorts as pandas DataFrames, with each rule's effect against its holdout from
`rule_effects`; `logs` turns the recorded events into purchase and message tables.
"""
