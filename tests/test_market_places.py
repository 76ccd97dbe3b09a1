"""Market file problems placed where they are written and shown all at once (issue 19 §5):
an undeclared name in a table header has its caret under the name, not under `[market`; a
file with unknown keys also has its undeclared names reported, when the spec is known."""

from __future__ import annotations

import pytest

from clmlang.market.errors import MarketError
from clmlang.market.scenario import load_scenario_file

SPEC = """program "Paws" currency EUR
channel sms cost 0.05
product kibble role profit price 35 cost 20 every 30 days
stage regular when purchases >= 0
"""


@pytest.fixture
def policy(tmp_path):
    import clmlang

    path = tmp_path / "paws.clm"
    path.write_text(SPEC)
    return clmlang.load(path)


def test_an_undeclared_name_in_a_header_is_marked_under_the_name(tmp_path, policy) -> None:
    """`[market.stages.regulr]`: `regulr` starts at column 16 (1-based: 15 characters before
    it); `[market.channels.smss]`: `smss` at 18; `[ market.products."kible" ]`: `kible` at 20
    (after a space and a quote)."""
    path = tmp_path / "m.toml"
    path.write_text(
        "[market.stages.regulr]\nrate = 1.2\n[market.channels.smss]\nresponse = 0.05\n"
        '[ market.products."kible" ]\nweight = 3\n'
    )
    with pytest.raises(MarketError) as error:
        load_scenario_file(path).check_names(load_scenario_file(path).market, policy)
    rendered = _rendered(error.value)
    assert "m.toml:1:16: error[CLM200]: market.stages.regulr" in rendered, rendered
    assert "m.toml:3:18: error[CLM200]: market.channels.smss" in rendered
    assert "m.toml:5:20: error[CLM200]: market.products.kible" in rendered


def _rendered(error: MarketError) -> str:
    from clmlang.core.diagnostics import render_text

    found, sources = error.diagnostics()
    return render_text(found, sources, color=False)


def test_unknown_keys_and_undeclared_names_come_together(tmp_path, policy) -> None:
    """Two unknown keys and two undeclared names: all four at once when the spec is known
    (before, the names waited until the keys were fixed); without the spec, the keys."""
    path = tmp_path / "m.toml"
    path.write_text(
        "[market.buying]\nr = 0.2\nalpah = 20\nbb = 2\n"
        "[market.stages.regulr]\nrate = 1.2\n[market.channels.smss]\nresponse = 0.05\n"
    )
    with pytest.raises(MarketError) as error:
        load_scenario_file(path, policy)
    keys = [k for k, _ in error.value.problems]
    assert keys == [
        "market.buying.alpah",
        "market.buying.bb",
        "market.stages.regulr",
        "market.channels.smss",
    ]
    assert "did you mean `regular`?" in dict(error.value.problems)["market.stages.regulr"]
    with pytest.raises(MarketError) as error:
        load_scenario_file(path)
    assert [k for k, _ in error.value.problems] == ["market.buying.alpah", "market.buying.bb"]
