"""Grid rules: one rule written over stages and segments, one rule per cell after expansion."""

from __future__ import annotations

import json

import clmlang
from clmlang.language.formatter import format_text
from clmlang.language.loader import load_text
from clmlang.language.parser import parse_text

HEAD = """program "Shop" currency USD
channel email cost 0.02
channel sms cost 0.05
product everyday role profit price 28 cost 12 every 45 days
product refill role profit price 19 cost 6 every 30 days
stage active when purchases >= 1 and days_since_purchase < 60 days
stage lapsing when purchases >= 1 and days_since_purchase in 60..119 days
stage lost when purchases >= 1 and days_since_purchase >= 120 days
stage prospect when purchases == 0
segment big when total_spent >= 100
segment small when total_spent < 100
"""

GRID = """rule winback "{stage}: {segment}" for each stage in lapsing, lost and each segment in big, small {
  holdout 10%
  send {channel} "{discount} off for {segment}" offer {product} discount {discount}
  success purchase within 14 days
  where discount {
    lapsing: 10%, 5%
    lost: 25%, -
  }
  where product {
    lapsing: everyday, refill
    lost: everyday, refill
  }
  where channel {
    lapsing: email, email
    lost: sms, email
  }
}
"""


def _policy(text: str) -> clmlang.Policy:
    return clmlang.loads(text)


def test_a_grid_rule_expands_to_one_named_rule_per_cell_without_the_empty_ones():
    """2 stages x 2 segments with one `-`: three rules, named `rule[stage,segment]`, in order."""
    policy = _policy(HEAD + GRID)
    names = [r.name for r in policy.rules]
    assert names == ["winback[lapsing,big]", "winback[lapsing,small]", "winback[lost,big]"]


def test_each_cell_gets_its_stage_segment_and_table_values():
    """The cell's stage filter, segment, channel, product, discount and texts are its own."""
    rules = {r.name: r for r in _policy(HEAD + GRID).rules}
    lost_big = rules["winback[lost,big]"]
    assert lost_big.stages == ("lost",)
    assert lost_big.title == "lost: big"
    send = lost_big.flow.steps[0]
    assert send.channel == "sms"
    assert send.content == "25% off for big"
    assert send.offer.product == "everyday"
    assert send.offer.discount_share == 0.25
    small = rules["winback[lapsing,small]"].flow.steps[0]
    assert (small.channel, small.offer.product, small.offer.discount_share) == (
        "email",
        "refill",
        0.05,
    )
    assert lost_big.holdout == 0.1  # what is not in a table is the same in every cell


def test_the_compiled_policy_says_which_grid_rule_and_cell_each_rule_came_from():
    """`clm compile` JSON: a `cell` with the grid rule's name and the cell's values."""
    data = json.loads(_policy(HEAD + GRID).model_dump_json())
    cell = next(r["cell"] for r in data["rules"] if r["name"] == "winback[lapsing,small]")
    assert cell == {
        "rule": "winback",
        "values": {
            "stage": "lapsing",
            "segment": "small",
            "discount": "5%",
            "product": "refill",
            "channel": "email",
        },
    }


def test_explain_lists_each_cell_and_a_cell_reaches_only_its_customers(tmp_path):
    """`explain`: every cell is a rule of its own; a lapsing big spender gets that cell only."""
    path = tmp_path / "grid.clm"
    path.write_text(HEAD + GRID)
    explanation = clmlang.explain(path, "purchases=3, days_since_purchase=80, total_spent=150")
    assert [r.rule for r in explanation.rules] == [
        "winback[lapsing,big]",
        "winback[lapsing,small]",
        "winback[lost,big]",
    ]
    assert {r.rule for r in explanation.rules if r.fires} == {"winback[lapsing,big]"}


def test_a_problem_in_one_cell_is_reported_at_the_grid_rule_line_naming_the_cell():
    """A 150% discount in one cell: CLM111 at `{discount}` in the send line, cell named."""
    text = HEAD + GRID.replace("lapsing: 10%, 5%", "lapsing: 10%, 150%")
    spec = load_text(text, "grid.clm")
    found = [d for d in clmlang.checker.check(spec) if d.code == "CLM111"]
    assert len(found) == 1
    send_line = text.splitlines().index(
        '  send {channel} "{discount} off for {segment}" offer {product} discount {discount}'
    )
    assert found[0].span.line == send_line + 1
    assert text.splitlines()[send_line][found[0].span.column - 1 :].startswith("{discount}")
    assert "winback[lapsing,small]" in found[0].message


def test_a_problem_every_cell_shares_is_reported_once():
    """An undefined channel written in the grid rule itself: one CLM100, for every cell."""
    text = HEAD + GRID.replace("lapsing: email, email", "lapsing: mail, mail").replace(
        "lost: sms, email", "lost: mail, mail"
    )
    found = [d for d in clmlang.checker.check(load_text(text)) if d.code == "CLM100"]
    assert len(found) == 1
    assert "every cell of `winback`" in found[0].message


def test_a_cell_no_customer_can_reach_is_reported_with_its_name():
    """Stage `prospect` (no purchase) with segment `big` (spent 100 or more): CLM130 there."""
    text = HEAD + (
        "rule hello for each stage in prospect, active and each segment in big {\n"
        '  send email "Hello"\n'
        "}\n"
    )
    found = [d for d in clmlang.checker.check(load_text(text)) if d.code == "CLM130"]
    assert [d.message.split(":")[0] for d in found] == ["rule `hello[prospect,big]` can never fire"]
    assert found[0].span.line == text.splitlines().index(text.splitlines()[-3]) + 1


def test_a_table_that_does_not_fit_the_grid_is_clm140():
    """A row with one value for two columns, a row for a stage not in the grid, a missing
    table and a name where a number goes: each CLM140 at its place."""
    cases = {
        "lost: 25%, -": "lost: 25%",
        "    lost: sms, email\n": "    lost: sms, email\n    active: sms, sms\n",
        "discount {discount}": "discount {percent}",
        "lapsing: 10%, 5%": "lapsing: 10%, email",
    }
    for old, new in cases.items():
        result = parse_text(HEAD + GRID.replace(old, new))
        codes = [d.code for d in result.diagnostics]
        assert codes == ["CLM140"], (old, codes)


def test_a_placeholder_outside_a_grid_rule_is_clm140():
    """`discount {discount}` in an ordinary rule has no value to take."""
    result = parse_text(HEAD + 'rule r { send email "x" offer discount {discount} }\n')
    assert [d.code for d in result.diagnostics] == ["CLM140"]


def test_in_stage_with_a_grid_over_stages_is_clm140():
    """The grid gives each cell its stage; `in stage` as well would contradict it."""
    text = HEAD + 'rule r for each stage in lapsing, lost { in stage active send email "x" }\n'
    assert [d.code for d in parse_text(text).diagnostics] == ["CLM140"]


def test_a_grid_over_one_axis_names_cells_by_one_name():
    """`for each segment in big, small`: `r[big]`, `r[small]`, each with its segment."""
    text = HEAD + (
        'rule r for each segment in big, small { on purchase send email "{segment}: {word}"\n'
        '  where word { big: "thanks" small: "hello" } }\n'
    )
    rules = _policy(text).rules
    assert [r.name for r in rules] == ["r[big]", "r[small]"]
    assert [r.flow.steps[0].content for r in rules] == ["big: thanks", "small: hello"]


def test_the_formatter_keeps_the_grid_rule_as_written():
    """Formatting prints the compact form back (not the expansion), and is stable."""
    text = HEAD + "\n" + GRID
    once = format_text(text)
    assert "rule winback " in once and "winback[" not in once
    assert "    lost: 25%, -\n" in once
    assert format_text(once) == once
    assert format_text(format_text(HEAD + GRID.replace("\n  ", "\n"))) == once


def test_expanded_rules_fire_in_a_simulation_each_with_its_own_row(tmp_path):
    """A short simulation: rules.csv has a row per cell, and the cells send messages."""
    text = HEAD + GRID
    path = tmp_path / "grid.clm"
    path.write_text(text)
    forecast = clmlang.simulate(path, customers=2000, days=150, rng=3)
    rows = forecast.rules.set_index("rule")
    cells = ["winback[lapsing,big]", "winback[lapsing,small]", "winback[lost,big]"]
    assert set(cells) <= set(rows.index)
    assert (rows.loc[cells, "sent"] > 0).all()


def test_the_language_server_sees_the_grid_names_as_references():
    """Renaming a stage in the editor reaches the grid's axis and the table's row."""
    from clmlang.lsp.index import Index

    index = Index.build(load_text(HEAD + GRID, "grid.clm"))
    lines = sorted(r.span.line for r in index.referrers(index.find("lost", ("stage",))))
    text = (HEAD + GRID).splitlines()
    assert [text[n - 1].strip()[:12] for n in lines] == [
        "rule winback",
        "lost: 25%, -",
        "lost: everyd",
        "lost: sms, e",
    ]
