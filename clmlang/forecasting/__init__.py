"""Forecasting the real base: a purchase history in, a calibrated market and a forecast out.

`history` reads and checks purchase histories (CSV, Parquet, SQL); `fitting`,
`stage_multipliers` and `reactivation` fit buying models (BG/NBD and its extensions);
`calibration` chooses one and writes the market; `reactivation_posterior` and `holdout`
forecast each customer of the base from the calibration end, with a policy's simulated
effect; `report` renders that forecast as HTML.
"""
