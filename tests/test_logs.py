"""The purchases and messages logs of `clm simulate --logs` and `Forecast.logs()`."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import clmlang
from clmlang.core.extras import MissingExtra
from clmlang.simulation import logs as logs_module

from .conftest import ROOT, clm

NO_POLICY = 'program "No policy"\nstage everyone when purchases >= 0\n'
# a BG/NBD world: the rate per day ~ Gamma(r, alpha days), dropout ~ Beta(a, b)
TRUTH = {"r": 0.25, "alpha": 28.0, "a": 0.8, "b": 2.4}


@pytest.fixture(scope="module")
def clinic() -> clmlang.simulation.metrics.Forecast:
    """The clinic (holdouts, consent, caps) simulated with its logs."""
    return clmlang.simulate(ROOT / "specs/clinic.clm", customers=3000, days=200, rng=7, logs=True)


@pytest.fixture(scope="module")
def ecommerce() -> clmlang.simulation.metrics.Forecast:
    """The e-commerce spec (a global control group, variants) simulated with its logs."""
    return clmlang.simulate(
        ROOT / "specs/ecommerce_rfm.clm", customers=3000, days=200, rng=11, logs=True
    )


def test_simulated_purchases_calibrate_back_to_the_truth(tmp_path: Path) -> None:
    """A plain BG/NBD world's purchases.csv goes into `clm calibrate` as it is, and the fit
    finds the buying parameters within 3 of its standard errors."""
    spec = tmp_path / "none.clm"
    spec.write_text(NO_POLICY)
    scenario = tmp_path / "world.toml"
    scenario.write_text("[market.buying]\n" + "".join(f"{k} = {v}\n" for k, v in TRUTH.items()))
    days = 546
    done = clm(
        "simulate", str(spec), "--scenario", str(scenario), "--customers", "10000",
        "--days", str(days), "--seed", "2024", "--logs", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    start = dt.date.fromisoformat(clmlang.market.model.Market().start_date)
    end = (start + dt.timedelta(days=days - 1)).isoformat()
    market = tmp_path / "market.toml"
    done = clm(
        "calibrate", str(tmp_path / "out/purchases.csv"), "--calibration-end", end,
        "--model", "bgnbd", "-o", str(market),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "calibrated on 10,000 customers" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("bgnbd "))
    errors = {k: float(se) for k, se in re.findall(r"(\w+) [\d.]+ \(([\d.]+)\)", line)}
    fitted = tomllib.loads(market.read_text())["market"]["buying"]
    # the report is in weeks, the market (like the truth) in days
    weeks = {"r": 1.0, "alpha": 7.0, "a": 1.0, "b": 1.0}
    for name, truth in TRUTH.items():
        gap = abs(fitted[name] - truth) / weeks[name]
        assert gap < 3 * errors[name], (name, fitted[name], truth, errors[name])


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    """Two runs with one seed write the same log files; another seed writes others."""
    written = {}
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        done = clm(
            "simulate", "specs/clinic.clm", "--customers", "800", "--days", "90",
            "--seed", seed, "--logs", "--out", str(tmp_path / name),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "purchases.csv, messages.csv" in done.stdout
        written[name] = [(tmp_path / name / f).read_bytes() for f in LOG_FILES]
    assert written["a"] == written["b"]
    assert written["a"][0] != written["c"][0] and written["a"][1] != written["c"][1]


LOG_FILES = ("purchases.csv", "messages.csv")


def test_no_logs_unless_asked(tmp_path: Path) -> None:
    """Without --logs nothing is logged to files, and Forecast.logs() says how to get them."""
    done = clm("simulate", "specs/clinic.clm", "--customers", "300", "--days", "30",
               "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not any((tmp_path / f).exists() for f in LOG_FILES)
    forecast = clmlang.simulate(ROOT / "specs/clinic.clm", customers=300, days=30, rng=1)
    with pytest.raises(ValueError, match="logs=True"):
        forecast.logs()


def test_purchases_add_up_to_the_forecast(clinic) -> None:
    """One row per purchase: the count, the revenue and each rule's credited revenue are the
    forecast's; amounts and dates are a history's."""
    purchases = clinic.logs()["purchases"]
    assert list(purchases.columns[:3]) == ["customer_id", "date", "amount"]
    assert len(purchases) == clinic.summary["purchases"]
    daily = clinic.daily
    bought = daily["revenue"].sum() - daily["subscription_revenue"].sum()
    assert purchases["amount"].sum() == pytest.approx(bought)
    assert purchases["date"].min() == pd.Timestamp(daily["date"].iloc[0])
    assert purchases["date"].max() <= pd.Timestamp(daily["date"].iloc[-1])
    assert purchases["date"].is_monotonic_increasing
    per_day = purchases.groupby("date").size()  # both dates are datetimes
    assert (per_day == daily.set_index("date")["purchases"][per_day.index]).all()
    credited = purchases.dropna(subset=["rule"]).groupby("rule", observed=True)["amount"].sum()
    assert len(credited) > 0
    # rules.csv's revenue is before the offers' discounts (the rule's cost holds them): a
    # rule's cost less its delivered messages' (specs/clinic.clm's channel costs) is its
    # offers' cost, all discount but for the two rules whose offer is a bonus
    delivered = clinic.logs()["messages"].query("status == 'delivered'")
    price = {"email": 0.5, "sms": 3.0, "call": 120.0}
    sent = delivered.groupby("rule", observed=True)["channel"].agg(lambda c: sum(map(price.get, c)))
    bonus_only = {"club_invite", "birthday_gift"}
    rules = clinic.rules.groupby("rule")[["revenue", "cost"]].sum()
    assert (rules["revenue"] > credited.reindex(rules.index, fill_value=0) + 1).any()
    for rule, row in rules.iterrows():
        discounts = 0.0 if rule in bonus_only else row["cost"] - sent.get(rule, 0.0)
        assert credited.get(rule, 0.0) == pytest.approx(row["revenue"] - discounts), rule
    assert purchases["product"].notna().all()  # the clinic's purchases are of its products


def test_purchases_products_and_lines_agree_with_the_spec(clinic) -> None:
    """Each purchase's line is the line the spec gives its product."""
    policy = clmlang.load(ROOT / "specs/clinic.clm")
    line_of = {p.name: p.line for p in policy.products}
    purchases = clinic.logs()["purchases"]
    for product, line in purchases[["product", "line"]].drop_duplicates().itertuples(index=False):
        assert (line if isinstance(line, str) else None) == line_of[product]


STATUS_COUNTERS = {
    "delivered": "sent",
    "held_out": "holdout",
    "control": "control",
    "capped": "capped",
    "delayed": "delayed",
    "over_capacity": "over_capacity",
    "not_reachable": "not_reachable",
}


@pytest.mark.parametrize(
    ("name", "present"),
    [("clinic", {"delivered", "held_out", "not_reachable"}), ("ecommerce", {"control"})],
)
def test_messages_agree_with_the_rule_counters(name: str, present: set, request) -> None:
    """Per rule and arm, the rows of each status are what rules.csv counts (the clinic
    has holdouts and customers without consent, the e-commerce spec a control group)."""
    forecast = request.getfixturevalue(name)
    messages = forecast.logs()["messages"]
    rows = messages.assign(arm=messages["arm"].astype(object).fillna("-"))
    counts = rows.groupby(["rule", "arm", "status"], observed=True).size()
    seen = set()
    for row in forecast.rules.itertuples(index=False):
        for status, counter in STATUS_COUNTERS.items():
            if status == "held_out":  # rules.csv gives the holdout on its variants' rows
                got = counts.get((row.rule, "-", status), 0)
                want = forecast.rules.loc[forecast.rules["rule"] == row.rule, "holdout"].iloc[0]
            else:
                got = counts.get((row.rule, row.arm, status), 0)
                want = getattr(row, counter)
            assert got == want, (row.rule, row.arm, status)
            if want:
                seen.add(status)
    assert present <= seen
    assert messages["unsubscribed"].sum() == forecast.summary["unsubscribes"]
    assert not messages.loc[messages["status"] != "delivered", "unsubscribed"].any()


def test_converted_is_a_purchase_in_the_rule_window(clinic) -> None:
    """`converted` holds exactly when the customer bought within the rule's window (its
    success window, else 30 days) after the message's day."""
    logs = clinic.logs()
    messages, purchases = logs["messages"], logs["purchases"]
    policy = clmlang.load(ROOT / "specs/clinic.clm")
    window = {
        r.name: (r.flow.success.within_days if r.flow.success else 30.0) for r in policy.rules
    }
    bought = purchases.groupby("customer_id")["date"].apply(lambda s: s.to_numpy())
    sample = messages.sample(n=min(2000, len(messages)), random_state=0)
    for row in sample.itertuples(index=False):
        days = bought.get(row.customer_id)
        if days is None:
            assert not row.converted
            continue
        gap = (days - row.date.to_datetime64()) / pd.Timedelta(days=1)
        expected = bool(((gap >= 1) & (gap <= window[row.rule])).any())
        assert row.converted == expected, row


def test_write_parquet_reads_back(clinic, tmp_path: Path) -> None:
    """log_format="parquet" writes tables that read back equal to the logs."""
    pytest.importorskip("pyarrow")
    written = clinic.write(tmp_path, logs=True, log_format="parquet")
    assert {p.name for p in written} >= {"purchases.parquet", "messages.parquet"}
    for name, frame in clinic.logs().items():
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        # a category with no values at all (no variants) reads back as None, not NaN
        pd.testing.assert_frame_equal(
            back.astype(object).fillna(""), frame.astype(object).fillna(""), check_dtype=False
        )


def test_long_logs_are_parquet_or_csv_with_a_note(monkeypatch) -> None:
    """Past PARQUET_ROWS, auto picks Parquet; without pyarrow it keeps CSV and says why."""
    monkeypatch.setattr(logs_module, "PARQUET_ROWS", 10)
    assert logs_module.log_format(10) == ("csv", None)
    if _has_pyarrow():
        assert logs_module.log_format(11) == ("parquet", None)

    def missing(module: str, purpose: str):
        raise MissingExtra(module, purpose)

    monkeypatch.setattr(logs_module, "require", missing)
    fmt, note = logs_module.log_format(11)
    assert fmt == "csv" and "clmlang[parquet]" in note
    with pytest.raises(MissingExtra):
        logs_module.log_format(5, "parquet")
    with pytest.raises(ValueError, match="one of auto, csv, parquet"):
        logs_module.log_format(5, "xlsx")


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_logs_change_no_output(tmp_path: Path) -> None:
    """The other outputs of a run are byte for byte the same with and without --logs."""
    args = ("simulate", "specs/clinic.clm", "--customers", "800", "--days", "90", "--seed", "3")
    assert clm(*args, "--out", str(tmp_path / "plain")).returncode == 0
    assert clm(*args, "--logs", "--out", str(tmp_path / "logged")).returncode == 0
    for path in sorted((tmp_path / "plain").iterdir()):
        assert path.read_bytes() == (tmp_path / "logged" / path.name).read_bytes(), path.name
    summary = json.loads((tmp_path / "logged/summary.json").read_text())
    assert summary["purchases"] == len(pd.read_csv(tmp_path / "logged/purchases.csv"))
