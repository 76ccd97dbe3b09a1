"""customers.csv is written by `report.customers_csv`, which must give pandas'
`to_csv(index=False, float_format="%.6g")` text exactly (forecast files are compared byte
for byte between versions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clmlang.forecasting.report import customers_csv

EDGES = [
    np.nan,
    np.inf,
    -np.inf,
    -0.0,
    0.0,
    1e16,
    1e-5,
    123456.5,
    1234567.0,
    0.1,
    2.5e-300,
    5e-324,
    1.7976931348623157e308,
    -1e-7,
    999999.5,
    9999995.0,
    1e-4,
    1.0,
]


def _frame(seed: int, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    # what the csv module must quote, and what it must not
    ids[:9] = ["a,b", 'q"uote', "new\nline", "cr\rx", "", " sp ", "ü", "x;y", "'s"]
    scale = 10.0 ** rng.integers(-12, 12, n)
    values = rng.standard_normal(n) * scale
    values[: len(EDGES)] = EDGES
    return pd.DataFrame(
        {
            "customer_id": ids,
            "predicted_transactions": values,
            "predicted_revenue": rng.permutation(values),
            "p_alive": rng.random(n),
        }
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_same_text_as_pandas(seed: int):
    frame = _frame(seed)
    for ids in ("str", object, "string"):
        typed = frame.astype({"customer_id": ids})
        assert customers_csv(typed) == typed.to_csv(index=False, float_format="%.6g")


def test_other_columns_go_to_pandas():
    """Ids that are not strings (numbers, a missing one) and integer columns: pandas' text."""
    frame = _frame(9, 50)
    numbered = frame.assign(customer_id=np.arange(50))
    missing = frame.astype({"customer_id": object})
    missing.loc[3, "customer_id"] = None
    counts = frame.assign(predicted_transactions=np.arange(50))
    for other in (numbered, missing, counts):
        assert customers_csv(other) == other.to_csv(index=False, float_format="%.6g")
