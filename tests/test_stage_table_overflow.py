"""Past the stage table: a purchase count of 1,023 or more is not in `purchase_stage_table`
(COUNTS entries), and the batch that holds one takes the stage conditions instead
(`Stages._restage_buyers`). Customers made to buy about 1.4 times a day for 800 days pass
it; their stages are the ones the spec's conditions give for their counts, by both paths."""

from __future__ import annotations

import numpy as np
import pandas as pd

import clmlang
from clmlang.core import compiled
from clmlang.market.model import Market
from clmlang.simulation.engine.stages import COUNTS

LEGEND = 1050  # past the table's last count (COUNTS - 1 = 1023)
SPEC = (
    'program "p"\nproduct a role profit price 10 every 1 days\n'
    "stage new when purchases == 0\n"
    f"stage regular when purchases in 1..{LEGEND - 1}\n"
    f"stage legend when purchases >= {LEGEND}\n"
)
# a drawn rate of about 4 a day (Gamma(400, 100)) and no dropout to speak of: about 1.4
# purchases a day come of it here, so the 1,050th comes between days 700 and 770, on a
# different day for most customers
MARKET = {"buying": {"r": 400.0, "alpha": 100.0, "a": 0.01, "b": 1000.0}}
DAYS = 800


def _run(switch: str, monkeypatch) -> clmlang.Forecast:
    monkeypatch.setenv(compiled.SWITCH, switch)
    market = Market.model_validate(MARKET)
    return clmlang.simulate(clmlang.loads(SPEC), market, customers=20, days=DAYS, rng=7, logs=True)


def test_counts_past_the_table_take_the_conditions(monkeypatch):
    kernels, numpy_path = _run("1", monkeypatch), _run("0", monkeypatch)
    # the kernels' path has a stage table for this spec, and the counts went past it
    assert COUNTS - 1 < LEGEND
    purchases = kernels.logs()["purchases"]  # a row per purchase (one item per check here)
    assert kernels.summary["items_per_check"] == 1.0
    days = pd.to_datetime(purchases["date"]).dt.normalize()
    dated = purchases.assign(day=(days - days.min()).dt.days).sort_values("day", kind="stable")
    crossing = dated.groupby("customer_id")["day"].nth(LEGEND - 1)  # the 1,050th's day
    assert len(crossing) == 20 and crossing.nunique() > 5 and crossing.max() < DAYS
    # independently of the engine: on day d, legend holds those whose 1,050th purchase
    # came on or before d; regular the rest (all bought on day 0)
    expected = np.array([(crossing.to_numpy() <= d).sum() for d in range(DAYS)])
    stages = kernels.stages
    np.testing.assert_array_equal(stages["legend"].to_numpy(), expected)
    np.testing.assert_array_equal(stages["regular"].to_numpy(), 20 - expected)
    # and the same bytes by the numpy path (conditions for every count)
    for name in ("stages", "transitions", "daily"):
        pd.testing.assert_frame_equal(getattr(kernels, name), getattr(numpy_path, name))
    assert kernels.summary == numpy_path.summary
