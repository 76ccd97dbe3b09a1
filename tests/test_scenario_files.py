"""One scenario file serves `clm simulate --scenario` and `clm run`; a market can live in a
file of its own that scenario files include (`[market] include = "..."`)."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest
import tomli_w

import clmlang
from clmlang.market.model import MarketError
from clmlang.market.scenario import load_scenario, load_scenario_file

from .conftest import ROOT, clm, clm_here

SIMULATIONS = sorted((ROOT / "simulations").glob("*.toml"))
CLINIC = ROOT / "specs" / "clinic.clm"
HINT = "hint: see docs/scenarios.md"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _line(path: Path, text: str) -> int:
    """The 1-based number of the line of `path` that contains `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


# --- every shipped scenario file under both commands ---------------------------------------


@pytest.mark.parametrize("path", SIMULATIONS, ids=lambda p: p.stem)
def test_every_shipped_file_simulates(path: Path, tmp_path: Path):
    """`clm simulate --scenario FILE` runs the base of every shipped file, with its own spec."""
    out = tmp_path / "out"
    done = clm_here(
        "simulate", "--scenario", str(path), "--customers", "200", "--days", "20", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["days"] == 20
    scenario = load_scenario_file(path)
    spec = scenario.spec_path(scenario.variant("base"))
    assert clmlang.load(spec).program in done.stdout  # the file's spec, by its program name
    if scenario.variants or scenario.sweeps or scenario.settings.replications > 1:
        notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
        assert len(notes) == 1 and f"clm run {path}" in notes[0]


@pytest.mark.parametrize("path", SIMULATIONS, ids=lambda p: p.stem)
def test_every_shipped_file_runs(path: Path, tmp_path: Path):
    """`clm run` takes every shipped file (a small copy: 1 replication, few customers)."""
    copy = tmp_path / "simulations"
    shutil.copytree(ROOT / "simulations", copy)
    os.symlink(ROOT / "specs", tmp_path / "specs")  # the files name ../specs/...
    small = copy / path.name
    data = tomllib.loads(small.read_text(encoding="utf-8"))
    data["simulation"].update(customers=150, days=15, replications=1)
    small.write_text(tomli_w.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    done = clm_here("run", str(small), "--workers", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    expected = [v.name for v in load_scenario_file(path).all_variants()]
    assert list(summary["variants"]) == expected
    assert summary["replications"] == 1


def test_one_file_serves_both_commands(tmp_path: Path):
    """The same file (spec, replications, no variants) runs under both commands; `clm run`
    makes it a what-if of the base alone."""
    path = _write(
        tmp_path / "s.toml",
        f'[simulation]\nspec = "{CLINIC}"\ncustomers = 100\ndays = 10\nreplications = 2\n'
        "[market.channels.sms]\nresponse = 0.1\n",
    )
    simulated = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "s"))
    assert simulated.returncode == 0, simulated.stderr
    assert "2 replications" in simulated.stderr
    done = clm("run", str(path), "--workers", "1", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert list(summary["variants"]) == ["base"] and summary["replications"] == 2


def test_run_takes_a_spec_for_a_file_that_names_none(tmp_path: Path):
    path = _write(tmp_path / "s.toml", "[simulation]\ncustomers = 100\ndays = 10\n")
    missing = clm("run", str(path), "--out", str(tmp_path / "o"))
    assert missing.returncode == 1
    assert f"{path}:1:" in missing.stderr and "simulation.spec: no spec" in missing.stderr
    done = clm(
        "run", str(path), "--spec", str(CLINIC), "--workers", "1", "--out", str(tmp_path / "o")
    )
    assert done.returncode == 0, done.stderr


# --- clm simulate and a scenario's spec ----------------------------------------------------


def test_an_explicit_spec_overrides_the_files_spec(tmp_path: Path):
    other = _write(
        tmp_path / "other.clm", 'program "Someone else"\nstage all when purchases >= 0\n'
    )
    path = _write(
        tmp_path / "s.toml", f'[simulation]\nspec = "{CLINIC}"\ncustomers = 50\ndays = 5\n'
    )
    done = clm("simulate", str(other), "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert "Someone else" in done.stdout and "Clinic" not in done.stdout


def test_the_files_spec_is_relative_to_the_file(tmp_path: Path):
    _write(tmp_path / "specs" / "tiny.clm", 'program "Tiny shop"\nstage all when purchases >= 0\n')
    path = _write(
        tmp_path / "sims" / "s.toml",
        '[simulation]\nspec = "../specs/tiny.clm"\ncustomers = 50\ndays = 5\n',
    )
    done = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert "Tiny shop" in done.stdout


def test_a_files_missing_spec_is_a_diagnostic_at_its_line(tmp_path: Path):
    path = _write(tmp_path / "s.toml", '[simulation]\ncustomers = 5\nspec = "nowhere.clm"\n')
    done = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 1
    assert f"{path}:3:1: error[CLM200]: simulation.spec: no such file" in done.stderr
    assert HINT in done.stderr and "Traceback" not in done.stderr


def test_simulate_without_any_spec_is_a_usage_error(tmp_path: Path):
    path = _write(tmp_path / "s.toml", "[simulation]\ncustomers = 5\n")
    done = clm("simulate", "--scenario", str(path))
    assert done.returncode == 2 and "names no spec" in done.stderr
    assert clm("simulate").returncode == 2


def test_variant_simulates_that_variant_once(tmp_path: Path):
    """--variant applies the variant's overrides: the same as a spec edited by hand."""
    path = _write(
        tmp_path / "s.toml",
        f'[simulation]\nspec = "{CLINIC}"\ncustomers = 400\ndays = 120\nseed = 4\n'
        "replications = 5\n"
        '[market.population]\nstart = "existing"\npurchases = { 4 = 1.0 }\n'
        '[[variant]]\nname = "late"\n'
        'set = { "rule.keep_rhythm.when" = "days_since_purchase >= 20 days" }\n',
    )
    edited = CLINIC.read_text().replace(
        "when days_since_purchase >= 60 days", "when days_since_purchase >= 20 days", 1
    )
    assert edited != CLINIC.read_text()
    by_hand = _write(tmp_path / "edited.clm", edited)
    variant = clm(
        "simulate", "--scenario", str(path), "--variant", "late", "--out", str(tmp_path / "v")
    )
    assert variant.returncode == 0, variant.stderr
    hand = clm("simulate", str(by_hand), "--scenario", str(path), "--out", str(tmp_path / "h"))
    base = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "b"))
    assert hand.returncode == 0 and base.returncode == 0, hand.stderr + base.stderr
    read = lambda name: (tmp_path / name / "summary.json").read_text()  # noqa: E731
    assert read("v") == read("h")
    assert read("v") != read("b")  # the variant changed something
    assert "5 replications" in variant.stderr and "variant(s)" not in variant.stderr
    typo = clm("simulate", "--scenario", str(path), "--variant", "lte")
    assert typo.returncode == 2 and "did you mean `late`?" in typo.stderr


def test_python_simulate_takes_a_scenario_file():
    """clmlang.simulate(market=FILE) uses the file's spec and seed, like `clm simulate`."""
    path = ROOT / "simulations" / "clinic_rhythm.toml"
    scenario = load_scenario_file(path)
    from_file = clmlang.simulate(market=path, customers=200, days=20)
    by_hand = clmlang.simulate(CLINIC, scenario.market, customers=200, days=20, rng=3)
    assert scenario.settings.seed == 3
    assert from_file.summary == by_hand.summary
    variant = clmlang.simulate(market=path, customers=200, days=20, variant="remind at 45 days")
    assert variant.summary["days"] == 20
    with pytest.raises(ValueError, match="did you mean"):
        clmlang.simulate(market=path, variant="remind at 46 day")


def test_load_scenario_accepts_every_what_if_file():
    settings, market = load_scenario(ROOT / "simulations" / "clinic_sms_sweep.toml")
    assert (settings.customers, settings.days, settings.seed) == (20000, 365, 7)
    assert market.channels["sms"].response == 0.03


# --- market files and include ---------------------------------------------------------------

MARKET = """\
[market.buying]
r = 0.5
alpha = 80.0

[market.channels.sms]
reach = 0.6
response = 0.07

[market.population]
purchases = { 1 = 0.5, 3 = 0.5 }
recency_days = 90
"""


def test_include_merges_table_by_table_and_the_including_file_wins(tmp_path: Path):
    _write(tmp_path / "markets" / "m.toml", MARKET)
    path = _write(
        tmp_path / "s.toml",
        '[market]\ninclude = "markets/m.toml"\n'
        "[market.buying]\nr = 0.9\n"
        "[market.channels.sms]\nresponse = 0.01\n"
        "[market.population]\npurchases = { 2 = 1.0 }\n",
    )
    market = load_scenario_file(path).market
    assert (market.buying.r, market.buying.alpha) == (0.9, 80.0)
    assert (market.channels["sms"].reach, market.channels["sms"].response) == (0.6, 0.01)
    assert market.population.purchases == {2: 1.0}  # a distribution is replaced whole
    assert market.population.recency_days == 90


def test_includes_nest_relative_to_each_file(tmp_path: Path):
    _write(tmp_path / "markets" / "shared" / "base.toml", MARKET)
    _write(
        tmp_path / "markets" / "clinic.toml",
        '[market]\ninclude = "shared/base.toml"\n[market.buying]\nalpha = 50.0\n',
    )
    path = _write(tmp_path / "s.toml", '[market]\ninclude = "markets/clinic.toml"\n')
    market = load_scenario_file(path).market
    assert (market.buying.r, market.buying.alpha) == (0.5, 50.0)


def test_a_calibrated_market_can_be_included(tmp_path: Path):
    calibrated = tmp_path / "markets" / "shop.toml"
    calibrated.parent.mkdir()
    done = clm(
        "calibrate",
        str(ROOT / "tests" / "data" / "cdnow_sample.csv"),
        "--calibration-end",
        "1997-09-30",
        "--model",
        "bgnbd_reactivation",
        "-o",
        str(calibrated),
    )
    assert done.returncode == 0, done.stderr
    alone = load_scenario_file(calibrated)
    path = _write(
        tmp_path / "s.toml",
        '[simulation]\ncustomers = 300\n[market]\ninclude = "markets/shop.toml"\n'
        "[market.spend]\np = 2.0\n",
    )
    scenario = load_scenario_file(path)
    assert scenario.settings.customers == 300  # the included [simulation] is not the scenario's
    assert scenario.market.buying == alone.market.buying
    assert scenario.market.population == alone.market.population
    assert scenario.market.spend.p == 2.0 and scenario.market.spend.q == alone.market.spend.q


def test_an_error_in_an_included_file_points_at_its_line(tmp_path: Path):
    market = _write(
        tmp_path / "markets" / "m.toml",
        "[market.buying]\nr = 0.5\nalpha = -3\n\n[market.channels.sms]\nrespones = 0.1\n",
    )
    path = _write(
        tmp_path / "s.toml",
        f'[simulation]\nspec = "{CLINIC}"\nbogus = 1\n[market]\ninclude = "markets/m.toml"\n',
    )
    done = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 1
    assert f"{market}:3:1: error[CLM200]: market.buying.alpha:" in done.stderr
    assert f"{market}:6:1: error[CLM200]: market.channels.sms.respones: unknown key" in done.stderr
    assert f"{path}:3:1: error[CLM200]: simulation.bogus: unknown key" in done.stderr
    assert "   3 | alpha = -3" in done.stderr and HINT in done.stderr


def test_an_overriding_key_is_reported_in_the_including_file(tmp_path: Path):
    _write(tmp_path / "m.toml", MARKET)
    path = _write(tmp_path / "s.toml", '[market]\ninclude = "m.toml"\n[market.buying]\nr = -1\n')
    with pytest.raises(MarketError) as info:
        load_scenario_file(path)
    found, _ = info.value.diagnostics()
    assert [(d.span.file, d.span.line) for d in found] == [(str(path), 4)]


def test_a_name_the_spec_lacks_points_into_the_included_file(tmp_path: Path):
    market = _write(
        tmp_path / "m.toml", "[market.channels.sms]\nreach = 0.5\n\n[market.channels.fax]\n"
    )
    path = _write(
        tmp_path / "s.toml", f'[simulation]\nspec = "{CLINIC}"\n[market]\ninclude = "m.toml"\n'
    )
    done = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 1
    assert f"{market}:4:18: error[CLM200]: market.channels.fax: the spec declares" in done.stderr
    ran = clm("run", str(path), "--out", str(tmp_path / "o"))
    assert ran.returncode == 1 and f"{market}:4:18:" in ran.stderr


def test_a_syntax_error_in_an_included_file_points_into_it(tmp_path: Path):
    market = _write(tmp_path / "m.toml", "[market.buying]\nr = = 1\n")
    path = _write(
        tmp_path / "s.toml", f'[simulation]\nspec = "{CLINIC}"\n[market]\ninclude = "m.toml"\n'
    )
    done = clm("simulate", "--scenario", str(path))
    assert done.returncode == 1 and f"{market}:2:" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("scenario", "line", "message"),
    [
        ('[market]\ninclude = "missing.toml"\n', 2, "market.include: no such market file"),
        ("[market]\ninclude = 3\n", 2, "market.include: expected a market file's name"),
        ('market = "m.toml"\n', 1, '`[market]` and then `include = "m.toml"`'),
        ('[market]\ninclude = "self.toml"\n', 2, "market.include: an include cycle"),
    ],
    ids=["missing", "not-text", "not-a-table", "self-cycle"],
)
def test_include_problems_are_diagnostics_at_the_include(
    tmp_path: Path, scenario: str, line: int, message: str
):
    path = _write(tmp_path / "self.toml", scenario)
    done = clm("simulate", str(CLINIC), "--scenario", str(path))
    assert done.returncode == 1, done.stderr
    assert f"{path}:{line}:" in done.stderr and message in done.stderr
    assert HINT in done.stderr and "Traceback" not in done.stderr


def test_an_include_cycle_through_two_files_is_reported(tmp_path: Path):
    a = _write(tmp_path / "a.toml", '[market]\ninclude = "b.toml"\n')
    b = _write(tmp_path / "b.toml", '[market]\ninclude = "a.toml"\n')
    path = _write(tmp_path / "s.toml", '[market]\ninclude = "a.toml"\n')
    with pytest.raises(MarketError) as info:
        load_scenario_file(path)
    assert info.value.source == str(b)
    assert "an include cycle" in str(info.value) and str(a.resolve()) in str(info.value)
    done = clm("run", str(path))
    assert done.returncode == 1 and f"{b}:2:" in done.stderr


def test_a_market_file_holds_only_market_tables(tmp_path: Path):
    market = _write(tmp_path / "m.toml", "[buying]\nr = 0.5\n")
    path = _write(tmp_path / "s.toml", '[market]\ninclude = "m.toml"\n')
    done = clm("simulate", str(CLINIC), "--scenario", str(path))
    assert done.returncode == 1
    assert f"{market}:1:1:" in done.stderr and "write `[market.buying]`" in done.stderr


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ('"a\\u0000b"', "cannot use"),
        ('"' + "m" * 300 + '.toml"', "cannot use"),
        ('"."', "is a folder"),
    ],
    ids=["nul", "too-long", "folder"],
)
def test_include_names_the_file_system_refuses_are_diagnostics(tmp_path, include, message):
    """A NUL byte, a name too long for the file system, or a folder: CLM200 at the include."""
    path = _write(
        tmp_path / "s.toml",
        f'[simulation]\nspec = "{CLINIC}"\ncustomers = 10\ndays = 3\n'
        f"[market]\ninclude = {include}\n",
    )
    done = clm("simulate", "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 1, done.stderr
    assert f"{path}:6:1: error[CLM200]: market.include" in done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_spec_name_too_long_is_a_diagnostic_at_the_key(tmp_path: Path):
    path = _write(
        tmp_path / "s.toml", '[simulation]\nspec = "' + "s" * 300 + '.clm"\ncustomers = 10\n'
    )
    for command in (["simulate", "--scenario"], ["run"]):
        done = clm(*command, str(path), "--out", str(tmp_path / "o"))
        assert done.returncode == 1, done.stderr
        assert f"{path}:2:1: error[CLM200]: simulation.spec: no such file" in done.stderr


def test_a_missing_spec_on_the_command_line_is_a_usage_error(tmp_path: Path):
    """The scenario file is not blamed for a SPEC argument that does not exist."""
    done = clm("simulate", str(tmp_path / "nosuch.clm"), "--scenario", str(SIMULATIONS[0]))
    assert done.returncode == 2
    assert "nosuch.clm: no such file" in done.stderr and "CLM200" not in done.stderr


def test_names_from_an_included_market_are_placed_in_it_everywhere(tmp_path: Path):
    """clm forecast --market and clm diff --scenario point at the included file's line, as
    clm simulate does."""
    _write(tmp_path / "m2.toml", "[market.stages.formng]\nrate = 1.2\n")
    m1 = _write(tmp_path / "m1.toml", '[market]\ninclude = "m2.toml"\n')
    done = clm(
        "forecast",
        str(CLINIC),
        "--history",
        str(ROOT / "tests" / "data" / "cdnow_sample.csv"),
        "--calibration-end",
        "1997-09-30",
        "--until",
        "1997-12-31",
        "--market",
        str(m1),
        "--out",
        str(tmp_path / "fc"),
    )
    assert done.returncode == 1, done.stderr
    assert f"{tmp_path / 'm2.toml'}:1:16: error[CLM200]: market.stages.formng" in done.stderr
    assert "did you mean `forming`" in done.stderr
    new = _write(tmp_path / "new.clm", CLINIC.read_text().replace("cap 3 per 7", "cap 4 per 7"))
    assert new.read_text() != CLINIC.read_text()
    diff = clm("diff", str(CLINIC), str(new), "--simulate", "--scenario", str(m1))
    assert diff.returncode == 1, diff.stderr
    assert f"{tmp_path / 'm2.toml'}:1:16: error[CLM200]: market.stages.formng" in diff.stderr
