"""The HTML pages come from templates that escape every value: a name a user wrote can never
become markup in a report."""

from __future__ import annotations

from pathlib import Path

import clmlang

from .conftest import ROOT

CLINIC = ROOT / "specs" / "clinic.clm"


def test_what_if_report_escapes_names_from_the_scenario(tmp_path: Path):
    """A variant named like markup, in a file whose name has an ampersand, shows as text."""
    path = tmp_path / "a&b.toml"
    path.write_text(
        f'[simulation]\nspec = "{CLINIC}"\ncustomers = 200\ndays = 20\n'
        '[[variant]]\nname = "<i>cheap</i>"\nset = { "rule.keep_rhythm.holdout" = 0.2 }\n'
    )
    page = clmlang.run_scenario(path, replications=1, serial=True).files()["report.html"]
    assert "&lt;i&gt;cheap&lt;/i&gt;" in page and "<i>cheap</i>" not in page
    assert "a&amp;b.toml" in page and "a&b.toml" not in page
    assert page.count('<figure class="chart"') >= 4  # the charts stay markup
    assert page.endswith("</body></html>\n")


def test_forecast_report_of_a_given_market():
    """A given market is named, not fitted; the figures are a table of names and values."""
    result = clmlang.forecast_history(
        ROOT / "tests" / "data" / "cdnow_sample.csv",
        "1997-09-30",
        "1998-06-30",
        market=clmlang.Market.model_validate(
            {"buying": {"r": 0.5, "alpha": 14.0, "a": 0.3, "b": 3.0}}
        ),
        replications=1,
    )
    page = result.files()["report.html"]
    assert "The market was given, not fitted" in page
    assert "<td>Calibration end</td><td>1997-09-30</td>" in page


def test_what_if_report_without_holdouts_says_so(tmp_path: Path):
    """No rule has a holdout: no empty rules chart, a sentence naming the rules instead."""
    spec = tmp_path / "clinic.clm"
    spec.write_text(CLINIC.read_text().replace("  holdout 10%\n", ""))
    path = tmp_path / "s.toml"
    path.write_text(
        f'[simulation]\nspec = "{spec}"\ncustomers = 150\ndays = 30\nreplications = 1\n'
        '[[variant]]\nname = "cheap sms"\nset = { "channel.sms.cost" = 1 }\n'
    )
    result = clmlang.run_scenario(path, serial=True)
    assert (result.rules["holdout"] == 0).all()
    page = result.files()["report.html"]
    assert 'data-chart="rules"' not in page
    assert "No rule has a holdout in any variant" in page
    fired = result.rules.groupby("rule")["fired"].sum()
    assert all(name in page for name in fired[fired > 0].index)
