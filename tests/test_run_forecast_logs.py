"""Event logs from what-if runs (`clm run --logs`, `run_scenario(logs=True)`) and from
forecasts of a real base (`clm forecast --logs`, `forecast_history(logs=True)`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clmlang

from .conftest import ROOT, clm

CLINIC = ROOT / "specs" / "clinic.clm"


def _scenario(tmp_path: Path, shards: int = 1) -> Path:
    path = tmp_path / "what_if.toml"
    path.write_text(
        f'[simulation]\nspec = "{CLINIC}"\ncustomers = 400\ndays = 40\nseed = 4\n'
        f"replications = 2\nshards = {shards}\n\n"
        '[market.population]\nstart = "existing"\npurchases = { 1 = 0.5, 4 = 0.5 }\n\n'
        '[[variant]]\nname = "no holdout"\nset = { "rule.keep_rhythm.holdout" = 0 }\n'
    )
    return path


@pytest.mark.parametrize("shards", [1, 2])
def test_run_scenario_logs_the_first_replication_of_each_variant(tmp_path, shards) -> None:
    """One table per log, the scenario's variant first; each variant's purchases are its
    first replication's (the runs table's count), split populations merged."""
    result = clmlang.run_scenario(_scenario(tmp_path, shards), serial=True, logs=True)
    logs = result.logs()
    purchases, messages = logs["purchases"], logs["messages"]
    assert list(purchases.columns[:2]) == ["variant", "customer_id"]
    assert list(dict.fromkeys(purchases["variant"])) == ["base", "no holdout"]
    first = result.runs[result.runs.replication == 0].set_index("variant")["purchases"]
    assert purchases.groupby("variant").size().to_dict() == first.to_dict()
    # no holdout in the variant: its keep_rhythm rows are never held out
    variant = messages[(messages.variant == "no holdout") & (messages.rule == "keep_rhythm")]
    assert len(variant) and "held_out" not in set(variant.status)
    assert purchases.customer_id.max() < 400


def test_run_scenario_without_logs_has_none(tmp_path: Path) -> None:
    result = clmlang.run_scenario(_scenario(tmp_path), serial=True, replications=1)
    with pytest.raises(ValueError, match="no logs"):
        result.logs()


def test_cli_run_writes_the_logs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = clm("run", str(_scenario(tmp_path)), "--out", str(out), "--workers", "1", "--logs")
    assert result.returncode == 0, result.stderr
    assert "purchases.csv, messages.csv" in result.stdout
    messages = pd.read_csv(out / "messages.csv")
    assert set(messages.variant) == {"base", "no holdout"}


HISTORY = pd.DataFrame(
    {
        "customer_id": [f"c{i % 60:02d}" for i in range(150)],
        "date": [
            (pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d))).date().isoformat()
            for d in np.random.default_rng(3).integers(0, 360, 150)
        ],
        "amount": np.round(np.random.default_rng(4).gamma(2, 3000, 150), 2),
    }
)
MARKET = clmlang.Market.model_validate({"buying": {"r": 0.5, "alpha": 30, "a": 0.5, "b": 2}})


def _forecast(**options):
    return clmlang.forecast_history(
        HISTORY, "2024-12-31", "2025-03-31", CLINIC, market=MARKET, seed=5, **options
    )


def test_forecast_history_logs_the_first_replication_by_history_id() -> None:
    """With one replication the log is the whole simulation: its purchase days are the
    simulated transactions; every row is a history customer's, after the calibration end."""
    result = _forecast(replications=1, logs=True)
    purchases, messages = result.logs()["purchases"], result.logs()["messages"]
    assert set(purchases.customer_id) <= set(HISTORY.customer_id)
    assert set(messages.customer_id) <= set(HISTORY.customer_id)
    assert purchases.date.min() >= pd.Timestamp("2025-01-01")
    days = purchases.drop_duplicates(["customer_id", "date"])
    assert len(days) == pytest.approx(result.summary["simulated_repeat_transactions"])
    again = _forecast(replications=1, logs=True)
    for name in ("purchases", "messages"):
        assert result.logs()[name].to_csv() == again.logs()[name].to_csv()  # same bytes


def test_forecast_logs_change_nothing_else_and_mark_the_policies() -> None:
    """Logs are kept, not drawn: the same forecast with them; with `current` both policies'
    first replications, told apart by `policy`."""
    plain = _forecast(replications=2)
    alone = _forecast(replications=2, logs=True)
    assert plain.customers.equals(alone.customers)
    both = _forecast(replications=2, logs=True, current=CLINIC)
    for name in ("purchases", "messages"):
        table = both.logs()[name]
        assert set(table["policy"]) == {"new", "current"}
        new = table[table.policy == "new"].drop(columns="policy").reset_index(drop=True)
        assert new.to_csv() == alone.logs()[name].to_csv()  # common random numbers
    with pytest.raises(ValueError, match="no logs"):
        plain.logs()
