"""Bad market, scenario and history input: a diagnostic and exit 1 or 2, never exit 3."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import clmlang
from clmlang.market.model import Market, MarketError, market_from_mapping
from clmlang.market.scenario import load_scenario

from .conftest import ROOT, clm

SPEC = str(ROOT / "specs" / "clinic.clm")


def _scenario(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _simulate(tmp_path: Path, text: str, *flags: str):
    path = _scenario(tmp_path, text)
    out = tmp_path / "out"
    return clm("simulate", SPEC, "--scenario", str(path), "--out", str(out), *flags), out


# ---- start_date ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ['"2026-02-30"', '"not a date"'])
def test_bad_start_date_is_clm200_at_the_key(tmp_path: Path, value: str):
    """An impossible, unreadable or timed start date is a CLM200 on its line, not a crash."""
    result, _ = _simulate(tmp_path, f"[market]\nstart_date = {value}\n", "--days", "5")
    assert result.returncode == 1, result.stderr
    assert "s.toml:2:1: error[CLM200]: market.start_date:" in result.stderr
    assert "   2 | start_date" in result.stderr and "^" in result.stderr
    assert "internal error" not in result.stderr


def test_start_date_as_a_toml_date_literal_is_read(tmp_path: Path):
    """`start_date = 2026-03-01` (a TOML date, unquoted) is the same as the quoted string."""
    path = _scenario(tmp_path, "[market]\nstart_date = 2026-03-01\n")
    assert load_scenario(path)[1].start_date == "2026-03-01"


def test_start_date_far_in_the_future_is_refused():
    """Day 0 in year 9999 would overflow the calendar during the run."""
    with pytest.raises(MarketError, match=r"market\.start_date: a date from"):
        market_from_mapping({"start_date": "9999-12-01"})


# ---- every float of the market is finite ---------------------------------------------------


def _float_paths(model: type[BaseModel], prefix: tuple = ()) -> list[tuple]:
    """Every place in the market model a float can be written, as a key path."""
    found = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if annotation is float or (isinstance(annotation, types.UnionType) and args == [float]):
            found.append(path)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_float_paths(annotation, path))
        elif typing.get_origin(annotation) is dict:
            key_type, value_type = typing.get_args(annotation)
            key = 2 if key_type is int else "some_name"
            if value_type is float:
                found.append((*path, key))
            elif isinstance(value_type, type) and issubclass(value_type, BaseModel):
                found.extend(_float_paths(value_type, (*path, key)))
    return found


def _nest(path: tuple, value: object) -> dict:
    data: object = value
    for part in reversed(path):
        data = {part: data}
    return data  # type: ignore[return-value]


FLOAT_PATHS = _float_paths(Market)


def test_every_market_float_must_be_finite():
    """inf, -inf and nan are refused in every float of the market, each naming its key."""
    # the walk reaches plain, optional, dict and nested floats (else this test checks little)
    assert ("buying", "r") in FLOAT_PATHS
    assert ("products", "some_name", "weight") in FLOAT_PATHS  # float | None in a dict of models
    assert ("buying", "rate_after", 2) in FLOAT_PATHS  # dict[int, float]
    assert len(FLOAT_PATHS) > 40
    accepted = []
    for path in FLOAT_PATHS:
        for bad in (float("inf"), float("-inf"), float("nan")):
            try:
                market_from_mapping(_nest(path, bad))
            except MarketError as error:
                keys = [key for key, _ in error.problems]
                assert "market." + ".".join(map(str, path)) in keys, (path, keys)
            else:
                accepted.append((path, bad))
    assert accepted == []


def test_infinite_rate_under_simulate_is_clm200(tmp_path: Path):
    """`r = inf` used to simulate nonsense with exit 0."""
    result, out = _simulate(tmp_path, "[market.buying]\nr = inf\n", "--days", "5")
    assert result.returncode == 1
    assert "s.toml:2:1: error[CLM200]: market.buying.r: must be a finite number" in result.stderr
    assert not out.exists()


def test_infinite_gamma_under_run_is_clm200(tmp_path: Path):
    """`clm run` used to exit 3 with a raw pydantic ValidationError."""
    path = _scenario(
        tmp_path,
        f'[simulation]\nspec = "{SPEC}"\ncustomers = 20\ndays = 5\n[market.spend]\ngamma = inf\n',
    )
    result = clm("run", str(path), "--workers", "1", "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    assert "s.toml:6:1: error[CLM200]: market.spend.gamma: must be a finite number" in (
        result.stderr
    )


def test_infinite_value_in_forecast_market_is_clm200(tmp_path: Path):
    """`clm forecast --market` reads the market the same way."""
    path = _scenario(tmp_path, "[market.buying]\nalpha = -inf\n")
    result = clm(
        "forecast",
        "--history",
        str(ROOT / "tests" / "data" / "cdnow_sample.csv"),
        "--calibration-end",
        "1997-06-30",
        "--until",
        "1997-09-30",
        "--market",
        str(path),
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 1, result.stderr
    assert "error[CLM200]: market.buying.alpha: must be a finite number" in result.stderr


def test_infinite_value_through_the_python_api(tmp_path: Path):
    """`clmlang.simulate(spec, scenario_file)` raises MarketError naming the key."""
    path = _scenario(tmp_path, "[market.fatigue]\nsensitivity = nan\n")
    with pytest.raises(MarketError, match=r"market\.fatigue\.sensitivity: must be a finite"):
        clmlang.simulate(SPEC, path, customers=10, days=5)


def test_negative_product_audience_weight_is_refused():
    """A negative weight would make the product choice's probabilities negative."""
    with pytest.raises(MarketError, match="weights must not be negative"):
        market_from_mapping({"products": {"facial": {"audiences": {"premium": -1.0}}}})


# ---- sizes -----------------------------------------------------------------------------


def test_absurd_days_in_a_scenario_is_clm200(tmp_path: Path):
    """days = 2**63 - 1 used to run on or overflow; now a bound at the key."""
    result, _ = _simulate(tmp_path, "[simulation]\ndays = 9223372036854775807\n")
    assert result.returncode == 1
    assert "s.toml:2:1: error[CLM200]: simulation.days: Input should be less than" in (
        result.stderr
    )


def test_absurd_days_flag_is_a_usage_error(tmp_path: Path):
    """--days 100000000000 used to end in MemoryError (exit 3)."""
    result = clm("simulate", SPEC, "--days", "100000000000", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "--days" in result.stderr and "internal error" not in result.stderr


def test_huge_acquisition_is_refused_at_its_key_before_the_run(tmp_path: Path):
    """per_day = 1e9 used to end in MemoryError; now refused before anything is allocated."""
    result, out = _simulate(
        tmp_path, "[simulation]\ndays = 30\n[market.acquisition]\nper_day = 1e9\n"
    )
    assert result.returncode == 1
    assert "s.toml:4:1: error[CLM200]: market.acquisition.per_day:" in result.stderr
    assert "lower `market.acquisition.per_day`" in result.stderr
    assert not out.exists()


def test_too_many_customers_for_the_memory_is_refused(tmp_path: Path):
    """90 million customers need far more memory than a test machine has: refused up front."""
    result, out = _simulate(tmp_path, "[simulation]\ncustomers = 90000000\ndays = 3650\n")
    assert result.returncode == 1
    assert "s.toml:2:1: error[CLM200]: simulation.customers:" in result.stderr
    assert "of memory;" in result.stderr and "lower `simulation.customers`" in result.stderr
    assert not out.exists()


def test_too_many_customers_by_flag_is_a_usage_error(tmp_path: Path):
    """The same size given on the command line names the flags."""
    result = clm(
        "simulate", SPEC, "--customers", "90000000", "--days", "3650", "--out", str(tmp_path)
    )
    assert result.returncode == 2
    assert "lower `--customers` or `--days`" in result.stderr


def test_a_run_too_large_only_with_its_logs_names_logs(tmp_path: Path, monkeypatch):
    """1e6 customers x 365 days: the logs add 3 B per customer-day, 1.1e9 B before the 1.5
    margin; with the memory between the two estimates the error says to leave out --logs."""
    from clmlang.simulation.engine import memory

    policy = clmlang.load(SPEC)
    without = memory.run_bytes(policy, Market(), 10**6, 365)
    with_logs = memory.run_bytes(policy, Market(), 10**6, 365, logs=True)
    assert with_logs - without == pytest.approx(1.5 * 3 * 365 * 10**6, rel=0.01)
    monkeypatch.setattr(memory, "available_bytes", lambda: int((without + with_logs) / 2))
    flags = ("--customers", "1000000", "--days", "365", "--out", str(tmp_path / "o"))
    result = clm("simulate", SPEC, "--logs", *flags)
    assert result.returncode == 2
    assert "lower `--customers` or `--days` (or leave out `--logs`" in result.stderr
    assert not (tmp_path / "o").exists()


def test_size_problem_names_what_to_lower():
    """The estimate grows with customers, acquisitions and days; the message names them."""
    from clmlang.simulation.engine.memory import size_problem

    policy = clmlang.load(SPEC)
    market = market_from_mapping({"acquisition": {"per_day": 1000}})
    assert size_problem(policy, Market(), 1000, 30, available=10**12) is None
    problem = size_problem(policy, market, 1000, 365, available=10**6)
    assert problem is not None
    assert "1,000 customers (with ~365,000 acquired) over 365 days" in problem
    assert "lower `market.acquisition.per_day`, `customers` or `days`" in problem
    double = size_problem(policy, Market(), 10**6, 365, copies=2, available=1)
    single = size_problem(policy, Market(), 10**6, 365, available=1)
    assert double and single and "x 2 runs at once" in double and "runs" not in single


def test_python_api_refuses_absurd_sizes():
    """clmlang.simulate checks its sizes before allocating."""
    with pytest.raises(ValueError, match="customers: a whole number from 1"):
        clmlang.simulate(SPEC, customers=10**12, days=5)
    with pytest.raises(ValueError, match="days: a whole number from 1"):
        clmlang.simulate(SPEC, customers=5, days=0)


def test_run_refuses_replications_side_by_side_that_do_not_fit(tmp_path: Path):
    """clm run counts the runs working at once (one per worker)."""
    path = _scenario(
        tmp_path,
        f'[simulation]\nspec = "{SPEC}"\ncustomers = 60000000\ndays = 3650\nreplications = 4\n',
    )
    result = clm("run", str(path), "--workers", "2", "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    assert "x 2 runs at once" in result.stderr and "`--workers`" in result.stderr


def test_forecast_too_far_is_a_usage_error(tmp_path: Path):
    """--until two centuries later is refused before the run, not an allocation failure."""
    result = clm(
        "forecast",
        "--history",
        str(ROOT / "tests" / "data" / "cdnow_sample.csv"),
        "--calibration-end",
        "1997-06-30",
        "--until",
        "2200-01-01",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 2
    assert "more than 36,525 days after the calibration end" in result.stderr


def test_a_scenario_and_a_test_file_saved_with_a_byte_order_mark_are_read(tmp_path: Path):
    """A BOM (Windows Notepad) was `(syntax): Invalid statement` at 1:1 of any TOML file; a
    problem in such a file is still placed on its line and column."""
    bom = b"\xef\xbb\xbf"
    path, out = tmp_path / "s.toml", tmp_path / "out"
    path.write_bytes(bom + b"[simulation]\ncustomers = 50\ndays = 5\n")
    result = clm("simulate", SPEC, "--scenario", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    path.write_bytes(bom + b"[market.buying]\nr = -1\n")
    result = clm("simulate", SPEC, "--scenario", str(path), "--out", str(out))
    assert result.returncode == 1
    assert "s.toml:2:1: error[CLM200]: market.buying.r" in result.stderr
    tests = tmp_path / "clinic.test.toml"
    tests.write_bytes(
        bom + b'spec = "%s"\n[[example]]\nname = "new"\ncustomer = "purchases=1"\n'
        b'stage = "newcomer"\n' % SPEC.encode()
    )
    assert clm("test", str(tests)).returncode == 0


# ---- histories ---------------------------------------------------------------------------

HEADER = "customer_id,date,amount\n"
REPEATS = "1,1997-01-01,10\n1,1997-02-01,12\n2,1997-01-05,20\n2,1997-03-01,25\n"


def _history(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "h.csv"
    path.write_bytes((header + REPEATS + rows).encode("utf-8", "surrogateescape"))
    return path


def _calibrate(path: Path):
    return clm("calibrate", str(path), "--calibration-end", "1997-06-30")


def test_time_zone_offsets_are_dropped_keeping_the_local_date(tmp_path: Path):
    """Offsets, even different ones, are accepted: the date is the local date as written."""
    from clmlang.forecasting.history import load_history

    path = _history(
        tmp_path, "3,1997-01-01T23:30:00-05:00,10\n3,1997-01-02T01:00:00+05:00,10\n3,1997-01-03,5\n"
    )
    frame = load_history(path)
    mine = frame[frame["customer_id"] == "3"]
    assert [d.isoformat()[:10] for d in mine["date"]] == ["1997-01-01", "1997-01-02", "1997-01-03"]


def test_time_zone_dates_calibrate(tmp_path: Path):
    """`1997-01-01T12:00:00+05:00` used to exit 3 (mixed time zones) under clm calibrate."""
    result = _calibrate(_history(tmp_path, "3,1997-01-01T12:00:00+05:00,10\n"))
    assert result.returncode == 0, result.stderr
    assert "calibrated on 3 customers" in result.stdout


def test_time_zone_aware_dataframe_column_is_read():
    """A timestamptz column (as pandas reads one from a database) is accepted."""
    import pandas as pd

    from clmlang.forecasting.calibration import fit_history
    from clmlang.forecasting.history import load_history

    frame = pd.read_csv(ROOT / "tests" / "data" / "cdnow_sample.csv").head(300)
    frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize("Asia/Karachi")
    loaded = load_history(frame)
    assert str(loaded["date"].iloc[0].date()) == "1997-01-01"
    assert fit_history(loaded, "1997-06-30").summary.x.size == loaded["customer_id"].nunique()


def test_timestamptz_from_postgresql(tmp_path: Path):
    """A PostgreSQL timestamptz column read through SQLAlchemy comes as UTC dates."""
    from tests import postgres

    if not postgres.available():
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    import sqlalchemy

    from clmlang.forecasting.history import load_history, summarise

    with postgres.server(port=54341) as url:
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("create table orders (client text, at timestamptz, amount float)")
            )
            connection.execute(
                sqlalchemy.text(
                    "insert into orders values ('a', '1997-01-01 23:30:00-05', 10),"
                    " ('a', '1997-01-10 12:00:00+05', 20)"
                )
            )
        engine.dispose()
        loaded = load_history(
            url, query="select client, at, amount from orders", customer_col="client", date_col="at"
        )
    assert [str(d.date()) for d in loaded["date"]] == ["1997-01-02", "1997-01-10"]
    assert summarise(loaded, "1997-06-30").x.tolist() == [1]  # used to fail comparing dates


@pytest.mark.parametrize(
    ("amount", "what"),
    [("-10", "a negative amount"), ("inf", "not a finite number"), ("-inf", "not a finite")],
)
def test_bad_amounts_are_refused_with_the_row(tmp_path: Path, amount: str, what: str):
    """Negative and infinite amounts used to be fitted; now the row is named."""
    result = _calibrate(_history(tmp_path, f"3,1997-01-01,{amount}\n"))
    assert result.returncode == 1
    assert f"h.csv: row 6, column `amount`: {what}" in result.stderr


def test_bad_amount_in_a_dataframe_given_to_calibrate():
    """clmlang.calibrate on a DataFrame (not read by load_history) checks amounts too."""
    import pandas as pd

    from clmlang.forecasting.history import HistoryError

    frame = pd.DataFrame(
        {"customer_id": ["a", "a"], "date": ["1997-01-01", "1997-02-01"], "amount": [5, -1.0]}
    )
    with pytest.raises(HistoryError, match="index 1, column `amount`: a negative amount"):
        clmlang.calibrate(frame, "1997-06-30")


@pytest.mark.parametrize("command", ["calibrate", "forecast"])
def test_an_empty_history_file_says_it_is_empty(tmp_path: Path, command: str):
    """An empty file was pandas' `No columns to parse from file`: now what it is and what a
    history looks like."""
    path = tmp_path / "h.csv"
    path.write_bytes(b"")
    flags = ("--calibration-end", "1997-06-30")
    if command == "calibrate":
        result = clm(command, str(path), *flags)
    else:
        result = clm(command, "--history", str(path), *flags, "--until", "1997-12-31")
    assert result.returncode == 1
    assert "h.csv: the file is empty\n  hint: a purchase history is a CSV file with a header" in (
        result.stderr
    )
    assert "No columns" not in result.stderr


def test_a_history_without_purchases_is_named(tmp_path: Path):
    """A header and no rows: the message names the file it found nothing in."""
    path = tmp_path / "h.csv"
    path.write_text(HEADER, encoding="utf-8")
    result = _calibrate(path)
    assert result.returncode == 1
    assert f"error: {path}: no purchase on or before 1997-06-30" in result.stderr


def test_a_calibration_end_long_after_the_history_is_warned(tmp_path: Path):
    """The last purchase is on 1997-03-01; a calibration end in 2030 (a mistyped year) counts
    33 years of silence for everyone: warned, with what the option means."""
    fit = ("--model", "bgnbd")
    result = clm("calibrate", str(_history(tmp_path, "")), "--calibration-end", "2030-06-30", *fit)
    assert "warning: the history's last purchase is on 1997-03-01, long before" in result.stderr
    assert "hint: --calibration-end is the last day the history covers" in result.stderr
    quiet = clm("calibrate", str(_history(tmp_path, "")), "--calibration-end", "1997-03-29", *fit)
    assert "warning" not in quiet.stderr  # 28 days: a base may be quiet that long


@pytest.mark.parametrize(
    ("end", "until", "said"),
    [
        ("1997-03-31", "1997-09-30", "the history ends on 1997-03-01, before the forecast starts"),
        ("1997-02-15", "1997-09-30", "the history ends on 1997-03-01, long before 1997-09-30"),
        ("1997-02-15", "1997-03-20", None),
    ],
)
def test_a_forecast_past_the_history_is_warned(tmp_path: Path, end: str, until: str, said):
    """Actual figures of 0 (or of a part of the period) are not what the forecast missed:
    warned, and the forecast is not compared with them (forecast.json says why, and holds no
    actual figures, errors or "outside the range" to mislead a reader)."""
    args = ("--calibration-end", end, "--until", until, "--model", "bgnbd", "--replications", "1")
    path = _history(tmp_path, "")
    result = clm("forecast", "--history", str(path), *args, "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "o" / "forecast.json").read_text())
    if said is None:
        assert "warning" not in result.stderr
        assert "not_compared" not in summary
        assert summary["actual_repeat_transactions"] is not None
    else:
        assert f"warning: {said}" in result.stderr
        assert "actual_repeat_transactions" not in summary and "mae" not in summary
        assert summary["not_compared"].startswith("the history ends on 1997-03-01")
        report = (tmp_path / "o" / "report.html").read_text()
        assert "In fact they made" not in report
        assert "It is not compared with what happened" in report


def test_non_utf8_byte_is_reported_by_line(tmp_path: Path):
    """The decoder's buffer offset said nothing; the line and column do."""
    result = _calibrate(_history(tmp_path, "3\udcff,1997-01-01,10\n"))
    assert result.returncode == 1
    assert "h.csv: line 6, column 2: not UTF-8 text (byte 0xff)" in result.stderr


def test_nul_inside_a_date_is_refused(tmp_path: Path):
    """A NUL used to be dropped silently, reading `1997-01\\x00-01` as 1 January."""
    result = _calibrate(_history(tmp_path, "3,1997-01\x00-01,10\n"))
    assert result.returncode == 1
    assert "h.csv: row 6, column `date`: a NUL byte" in result.stderr


def test_all_zero_amounts_cannot_fit_a_spend_model(tmp_path: Path):
    """Amounts of 0 everywhere used to fit a made-up spend model silently."""
    path = tmp_path / "zero.csv"
    path.write_text(
        HEADER
        + REPEATS.replace(",10\n", ",0\n")
        .replace(",12\n", ",0\n")
        .replace(",20\n", ",0\n")
        .replace(",25\n", ",0\n")
    )
    result = _calibrate(path)
    assert result.returncode == 1
    assert "no spend model (Gamma-Gamma) can be fitted" in result.stderr


def test_absurdly_large_finite_value_is_refused(tmp_path: Path):
    """spend.p = 1e308 is finite but overflowed the spend draws (numpy warnings, exit 0)."""
    result, out = _simulate(tmp_path, "[market.spend]\np = 1e308\n", "--days", "5")
    assert result.returncode == 1
    assert "s.toml:2:1: error[CLM200]: market.spend.p: at most 1e+100 in size" in result.stderr
    assert not out.exists()


def test_a_missing_customer_id_in_a_dataframe_is_refused_with_its_index():
    """A null id (from Parquet or SQL) is not one customer called "None"."""
    import pandas as pd

    from clmlang.forecasting.history import HistoryError, load_history

    frame = pd.DataFrame(
        {
            "customer_id": ["a", None, "b"],
            "date": ["1997-01-01", "1997-01-02", "1997-01-03"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    with pytest.raises(HistoryError, match="index 1, column `customer_id`: an empty customer id"):
        load_history(frame)


# ---- variant overrides -------------------------------------------------------------------

_OVERRIDE_KEYS = {
    "control": "share",
    "rule.keep_rhythm.holdout": "share",
    "rule.keep_rhythm.discount": "share",
    "rule.keep_rhythm.reentry": "duration",
    "rule.second_visit.delay": "duration",
    "cap.global.window": "duration",
    "channel.call.capacity": "count",
    "cap.sms.limit": "count",
    "rule.keep_rhythm.priority": "count",
    "channel.sms.cost": "money",
    "product.facial.price": "money",
    "product.facial.cost": "money",
    "rule.keep_rhythm.bonus": "money",
}
_BAD_VALUES = {
    "share": [float("inf"), float("nan"), -0.2, 5.0, "nan%", "inf%", "500%", "-20%"],
    "duration": [float("inf"), float("nan"), -5, 1e300, "99999999 years"],
    "count": [float("inf"), float("nan"), -1, 1e300, 2.5, 10**400],
    "money": [float("inf"), float("nan"), -1, 1e300, 10**400],
}


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, value) for key, kind in _OVERRIDE_KEYS.items() for value in _BAD_VALUES[kind]],
    ids=str,
)
def test_every_override_value_is_checked(key: str, value: object):
    """inf, nan, negative and huge override values used to run (exit 0) or overflow (exit 3)."""
    from clmlang.market.overrides import OverrideError, apply_overrides

    with pytest.raises(OverrideError) as info:
        apply_overrides(ROOT / "specs" / "clinic.clm", {key: value}, Market())
    assert info.value.key == key


def test_bad_override_through_the_python_api_is_a_market_error(tmp_path: Path):
    """run_scenario reports the override at the variant's key, before any run."""
    from clmlang.market.scenario import load_scenario_file

    path = _scenario(
        tmp_path,
        f'[simulation]\nspec = "{SPEC}"\ncustomers = 100\ndays = 10\n'
        '[[variant]]\nname = "odd"\nset = { "rule.keep_rhythm.holdout" = "nan%" }\n',
    )
    with pytest.raises(MarketError) as info:
        clmlang.run_scenario(load_scenario_file(path), replications=1, serial=True)
    assert "odd: rule.keep_rhythm.holdout: a share is from 0% to 100%" in str(info.value)


@pytest.mark.parametrize(
    ("command", "setting", "message"),
    [
        ("run", '"cap.sms.limit" = 1e300', "a whole number from 1 to 1,000,000,000"),
        ("simulate", '"channel.sms.cost" = inf', "expected a finite number, not inf"),
        ("run", '"rule.keep_rhythm.reentry" = -5', "a duration is from 0 to 36,525 days"),
    ],
)
def test_bad_override_on_the_command_line_is_clm200(
    tmp_path: Path, command: str, setting: str, message: str
):
    """`clm run` and `clm simulate --variant` show the override at its line, exit 1."""
    path = _scenario(
        tmp_path,
        f'[simulation]\nspec = "{SPEC}"\ncustomers = 100\ndays = 10\n'
        f'[[variant]]\nname = "odd"\nset = {{ {setting} }}\n',
    )
    out = tmp_path / "out"
    if command == "run":
        result = clm("run", str(path), "--out", str(out))
    else:
        result = clm(
            "simulate", SPEC, "--scenario", str(path), "--variant", "odd", "--out", str(out)
        )
    assert result.returncode == 1, result.stderr
    assert f"{path}:7:" in result.stderr and "CLM200" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


# ---- clm diff --simulate and [[forecast]] sizes ------------------------------------------


def _two_specs(tmp_path: Path) -> tuple[str, str]:
    old, new = tmp_path / "old.clm", tmp_path / "new.clm"
    text = (ROOT / "specs" / "clinic.clm").read_text()
    old.write_text(text)
    new.write_text(text.replace("channel sms cost 3", "channel sms cost 4"))
    return str(old), str(new)


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--days", "100000000000"), ("--customers", "1000000000"), ("--replications", "100000")],
)
def test_absurd_diff_simulate_size_is_a_usage_error(tmp_path: Path, flag: str, value: str):
    """--days 1e11 used to exit 3 (MemoryError); now the option's bound refuses it (exit 1)."""
    result = clm("diff", *_two_specs(tmp_path), "--simulate", flag, value)
    assert result.returncode == 1
    assert f"Invalid value for '{flag}'" in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_simulate_too_large_for_the_memory_is_refused_first(tmp_path: Path):
    """--customers 100M --days 3650 passes the hard bounds but not the memory: refused
    before any run (it used to be OOM-killed)."""
    flags = ("--simulate", "--customers", "100000000", "--days", "3650")
    result = clm("diff", *_two_specs(tmp_path), *flags)
    assert result.returncode == 1
    assert "of memory" in result.stderr and "lower `--customers`" in result.stderr
    assert "Traceback" not in result.stderr


def _policy_test(tmp_path: Path, table: str) -> Path:
    spec = tmp_path / "shop.clm"
    spec.write_text((ROOT / "specs" / "clinic.clm").read_text())
    path = tmp_path / "shop.test.toml"
    path.write_text(table)
    return path


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("customers = 0", "greater than or equal to 1"),
        ("customers = -5", "greater than or equal to 1"),
        ("customers = 1000000000", "less than or equal to 100000000"),
        ("days = 100000000000", "less than or equal to 36525"),
        ("replications = 1000000", "less than or equal to 10000"),
    ],
)
def test_forecast_expectation_sizes_are_clm200(tmp_path: Path, setting: str, message: str):
    """customers = 0 silently became 5000 and -5 failed with numpy's words; now each is
    refused at its key."""
    table = f'[[forecast]]\nkpi = "revenue"\nat_least = 0\n{setting}\n'
    path = _policy_test(tmp_path, table)
    result = clm("test", str(path))
    assert result.returncode == 2, result.stderr
    assert f"{path}:4:1: error[CLM200]: forecast.0." in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_sizes_are_clm200(tmp_path: Path):
    """A [[replay]] had no upper bound on its customers or days."""
    table = (
        '[[replay]]\nname = "r"\ncustomers = 1000000000\ndays = 100000000\n'
        '[replay.invariant]\nkind = "one_stage"\n'
    )
    path = _policy_test(tmp_path, table)
    result = clm("test", str(path))
    assert result.returncode == 2, result.stderr
    assert "replay.0.customers" in result.stderr and "replay.0.days" in result.stderr


def test_forecast_expectation_too_large_for_the_memory_is_refused_first(tmp_path: Path):
    """Within the hard bounds but beyond the memory: the test fails before any run."""
    table = '[[forecast]]\nkpi = "revenue"\nat_least = 0\ncustomers = 100000000\ndays = 36000\n'
    path = _policy_test(tmp_path, table)
    result = clm("test", str(path))
    assert result.returncode == 1, result.stderr
    assert "FAIL" in result.stdout and "cannot run:" in result.stdout
    assert "of memory" in result.stdout
    assert "Traceback" not in result.stderr


# ---- purchase counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        (
            '[market.population]\nstart = "existing"\npurchases = {"3000000000" = 1.0}\n',
            "market.population.purchases",
            "counts are at most 10,000, not 3,000,000,000",
        ),
        (
            '[market.population]\nstart = "existing"\n'
            'purchases = {"100000000000000000000" = 1.0}\n',
            "market.population.purchases",
            "counts are at most 10,000",
        ),
        (
            '[market.buying]\nr = 1.0\nrate_after = {"3" = 0.8, "50000" = 0.5}\n',
            "market.buying.rate_after",
            "purchase numbers are at most 10,000, not 50,000",
        ),
    ],
)
def test_purchase_counts_have_an_upper_bound(tmp_path: Path, table: str, key: str, message: str):
    """3,000,000,000 purchases overflowed the engine's int32 counters (exit 3); a rate_after
    key of any size was accepted. Now both are CLM200 at the key's line (line 3)."""
    result, out = _simulate(tmp_path, table, "--days", "5")
    assert result.returncode == 1, result.stderr
    assert f"s.toml:3:1: error[CLM200]: {key}: {message}" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not out.exists()
