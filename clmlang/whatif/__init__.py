"""What-if runs: a scenario's variants, with replications, compared with its base.

`experiment` runs every variant (locally or on a Dask cluster) on common random numbers and
computes differences with intervals; `report` renders the comparison as a self-contained
HTML page. Takes a `Scenario`; hands a `Comparison` to the facade and the command line.
"""
