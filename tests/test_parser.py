"""The parser: every construct becomes the right syntax node, with its place in the source."""

from __future__ import annotations

import pytest

from clmlang.language import syntax as s
from clmlang.language.parser import parse_text


def items(text: str) -> tuple[s.Item, ...]:
    result = parse_text(text)
    assert result.diagnostics == (), [d.message for d in result.diagnostics]
    return result.file.items


def only(text: str) -> s.Item:
    (item,) = items(text)
    return item


def rule_of(body: str) -> s.Rule:
    return only("rule r {\n" + body + "\n}")


def test_program_with_currency():
    """`program` keeps its title and currency."""
    program = only('program "Clinic group" currency RUB')
    assert program.title == "Clinic group" and program.currency.text == "RUB"


def test_spans_point_at_the_name():
    """Names carry 1-based line and column."""
    product = items('program "x"\nproduct  facial role profit')[1]
    assert (product.name.span.line, product.name.span.column) == (2, 10)
    assert product.span.line == 2 and product.span.column == 1


def test_channel_clauses():
    """Channel kind, cost and daily capacity."""
    channel = only("channel managers kind call cost 120 RUB capacity 200 per day")
    assert channel.kind.text == "call"
    assert channel.cost.value == 120 and channel.cost.currency == "RUB"
    assert channel.capacity.value == 200


@pytest.mark.parametrize(
    ("text", "channel", "tag", "overflow"),
    [
        ("cap 3 per 7 days", None, None, "skip"),
        ("cap sms 1 per 1 week then delay", "sms", None, "delay"),
        ("cap tag promo 2 per 30 days then skip", None, "promo", "skip"),
    ],
)
def test_caps(text, channel, tag, overflow):
    """Global, per-channel and per-tag caps, with their overflow policy."""
    cap = only(text)
    assert (cap.channel and cap.channel.text) == channel
    assert (cap.tag and cap.tag.text) == tag
    assert cap.overflow == overflow


def test_product_in_any_clause_order():
    """Product clauses may come in any order."""
    product = only("product storage every 6 months cost 300 role lifetime price 2000")
    assert product.role.text == "lifetime"
    assert product.every.days == pytest.approx(6 * 30.4375)
    assert product.price.value == 2000 and product.cost.value == 300


def test_product_attach_and_reward():
    """Upsell products attach to others; repeat programmes have a reward share."""
    upsell, club = items(
        "product alignment role upsell attach to tyre_change, tyre_sale\n"
        "product club role repeat reward 5%"
    )
    assert [n.text for n in upsell.attach_to] == ["tyre_change", "tyre_sale"]
    assert club.reward.value == 5 and club.reward.unit is s.Unit.PERCENT


def test_clause_given_twice_is_reported():
    """A clause given twice is CLM114 pointing at the second, with the first as related."""
    result = parse_text("product p role profit price 1 price 2")
    (d,) = result.diagnostics
    assert d.code == "CLM114" and d.span.column == 31
    assert d.related[0].span.column == 23
    assert result.file.items[0].price.value == 1


def test_stage_with_goal_and_range():
    """A stage keeps its condition and goal; a range's unit applies to both ends."""
    stage = only(
        "stage lapsing when days_since_purchase in 90..179 days goal return within 74 days"
    )
    assert stage.goal.days == 74
    assert stage.condition.range.low.unit is s.Unit.DAYS


def test_stage_goal_as_a_range():
    """`goal return within 47..60 days`: a range whose unit, written once, is on both ends."""
    stage = only("stage loyal when purchases >= 8 goal return within 47..60 days")
    assert isinstance(stage.goal, s.Range)
    assert (stage.goal.low.days, stage.goal.high.days) == (47, 60)
    assert stage.goal.low.unit is s.Unit.DAYS


def test_attach_to_a_line():
    """`attach to line fitting, tyre_change`: a line target and a product target, in order."""
    product = only("product alignment role upsell attach to line fitting, tyre_change")
    line, name = product.attach_to
    assert isinstance(line, s.LineArgument) and line.line.text == "fitting"
    assert isinstance(name, s.Name) and name.text == "tyre_change"


def test_first_purchase_of_a_product_or_line():
    """`first purchase of coffee` and `first purchase of line audits` keep what was bought."""
    coffee = rule_of("on first purchase of coffee").trigger
    audits = rule_of("on 3 days after first purchase of line audits").trigger.anchor
    assert coffee.kind is s.EventKind.FIRST_PURCHASE and coffee.product.text == "coffee"
    assert audits.kind is s.EventKind.FIRST_PURCHASE and audits.line.text == "audits"
    assert audits.product is None


def test_rfm_block():
    """The rfm block keeps its axes and boundaries."""
    rfm = only("rfm { recency 30 days, 60 days, 120 days, 240 days frequency 2, 3, 5, 8 }")
    assert [a.axis for a in rfm.axes] == ["recency", "frequency"]
    assert [b.value for b in rfm.axes[1].bounds] == [2, 3, 5, 8]


def test_expression_precedence():
    """`or` binds looser than `and`, `and` looser than `not` and comparisons."""
    segment = only("segment x when not a > 1 and b < 2 or c == 3")
    assert isinstance(segment.condition, s.BoolOp) and segment.condition.op == "or"
    left = segment.condition.operands[0]
    assert left.op == "and" and isinstance(left.operands[0], s.Not)


def test_arithmetic_is_left_associative():
    """`a - b - c` is `(a - b) - c`; `*` binds tighter than `+`."""
    condition = only("segment x when total_spent - 1 - 2 * 3 > 0").condition
    outer = condition.left
    assert outer.op == "-" and outer.right.op == "*" and outer.left.op == "-"


def test_is_and_calls_and_dotted_names():
    """`is`, `is not`, calls with a line argument, and dotted RFM names."""
    condition = only(
        "segment x when stage is not loyal and owns(line dentistry) and rfm.r >= 4 "
        "and messages(sms, 30 days) < 2"
    ).condition
    is_, owns, rfm, messages = condition.operands
    assert is_.negated and is_.name.text == "loyal"
    assert isinstance(owns.args[0], s.LineArgument)
    assert rfm.left.dotted == "rfm.r"
    assert messages.left.args[1].days == 30


def test_keywords_are_soft():
    """Words that are keywords elsewhere work as names where no keyword fits."""
    segment = only("segment line when stage is stage")
    assert segment.name.text == "line" and segment.condition.name.text == "stage"


@pytest.mark.parametrize(
    ("trigger", "kind"),
    [
        ("on purchase", s.Event),
        ("on purchase of line dentistry", s.Event),
        ("on first purchase", s.Event),
        ("on enter loyal", s.Event),
        ("on 10 months after purchase of car", s.After),
        ("on 1 week after wedding", s.After),
        ("on 3 days before anniversary of birthday", s.Before),
        ("on 7 days before wedding", s.Before),
        ("on anniversary of birthday", s.Anniversary),
        ("on every 30 days", s.Every),
        ("on 90 days of inactivity", s.Inactivity),
        ("on schedule weekly on friday", s.Schedule),
        ("on schedule monthly on day 1", s.Schedule),
        ("on schedule yearly on 12-01", s.Schedule),
        ("on schedule on 2026-12-20", s.Schedule),
        ("on schedule daily", s.Schedule),
    ],
)
def test_triggers(trigger, kind):
    """Every trigger form parses to its node."""
    rule = rule_of(trigger + '\nsend email "x"')
    assert isinstance(rule.trigger, kind)


def test_rule_flow_with_branches():
    """Steps, success and nested branches keep their order and nesting."""
    rule = rule_of(
        'send sms "a" offer line cosmetology discount 10% tag promo, season\n'
        "success purchase of facial within 14 days\n"
        'on success send email "thanks" transactional\n'
        'on failure {\n  wait 3 days\n  send call "b"\n  success enter loyal within 30 days\n'
        "  on failure continue with winback\n}"
    )
    (send,) = rule.flow.steps
    assert send.offer.line.text == "cosmetology" and send.offer.discount.value == 10
    assert [t.text for t in send.tags] == ["promo", "season"]
    assert rule.flow.success.event.product.text == "facial"
    assert rule.flow.on_success.steps[0].transactional
    failure = rule.flow.on_failure
    assert [type(x) for x in failure.steps] == [s.Wait, s.Send]
    assert failure.success.event.kind is s.EventKind.ENTER
    assert isinstance(failure.on_failure.steps[0], s.ContinueWith)


def test_rule_header_clauses():
    """All header clauses of a rule land in their fields."""
    rule = rule_of(
        "in stage forming, loyal\nfor audience is premium\nwhen purchases > 2\npriority 5\n"
        "holdout 10%\nreentry once per 90 days\nexit when purchases > 7\n"
        'variant a 50% { send sms "A" }\nvariant b 50% { send sms "B" }'
    )
    assert [n.text for n in rule.stages] == ["forming", "loyal"]
    assert rule.priority.value == 5 and rule.holdout.value == 10
    assert rule.reentry.kind == "once" and rule.reentry.period.days == 90
    assert [v.name.text for v in rule.variants] == ["a", "b"]


def test_branch_without_success_is_reported():
    """`on failure` with no success test is CLM115."""
    result = parse_text('rule r { send sms "x" on failure send sms "y" }')
    assert [d.code for d in result.diagnostics] == ["CLM115"]


def test_every_broken_declaration_is_reported():
    """Errors in several declarations are all reported, and good ones are still parsed."""
    result = parse_text(
        'rule a { sned sms "x" }\n'
        "stage s when purchases >=\n"
        "stage ok when purchases > 1\n"
        'rule b { send sms "open }\n'
    )
    codes = [(d.code, d.span.line) for d in result.diagnostics]
    assert codes == [("CLM001", 1), ("CLM001", 2), ("CLM002", 4)]
    assert [i.name.text for i in result.file.items] == ["ok"]


def test_errors_are_in_words():
    """Parse errors name what was expected in words, and suggest close keywords."""
    (d,) = parse_text('rule a { sned sms "x" }').diagnostics
    assert "unexpected `sned`" in d.message and "`send`" in d.message
    assert d.hint == "did you mean `send`?"
    (d,) = parse_text("stage s when purchases >= ").diagnostics
    assert "a number" in d.message and "a name" in d.message


@pytest.mark.parametrize(
    ("text", "items", "hint"),
    [
        ('rule a { send sms "x" tag promo sale }', "tags", "`promo, sale`"),
        ('rule a { send sms "x" tag promo discount }', "tags", "`promo, discount`"),
        ("rule a { in stage new regular }", "stages", "`new, regular`"),
        ("product p role upsell attach to a b", "products or lines", "`a, b`"),
        ("rfm { recency 30 days 60 days }", "boundaries", None),
    ],
)
def test_a_list_missing_a_comma_says_so(text, items, hint):
    """A missing comma in a list names the list's items, and what else may come next."""
    (d,) = parse_text(text).diagnostics
    assert d.code == "CLM001"
    assert f"expected `,` between {items}, or " in d.message
    assert "a declaration" not in d.message or items == "products or lines"
    if hint:
        assert d.hint.endswith(hint)
    if items in ("tags", "stages"):
        assert "the rule's next clause" in d.message and "`}`" in d.message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("channel sms cost 1e6", "write the number out in full: `1000000`; `1e6`"),
        ("stage s when purchases >= 2.5E3", "write the number out in full: `2500`; `2.5E3`"),
        ("channel sms cost 1e400", "write the number out in full; `1e400`"),
    ],
)
def test_a_number_with_an_exponent_is_asked_for_in_full(text, hint):
    """`1e6` reads as the number 1 and a name `e6`: the hint said durations need a unit."""
    (d,) = parse_text(text).diagnostics
    assert d.code == "CLM001" and d.hint.startswith(hint), d.hint
    assert "units" not in d.hint
    (d,) = parse_text("channel sms cost 1 e6").diagnostics  # apart: not an exponent
    assert "exponent" not in (d.hint or "")


def test_an_offer_term_without_an_amount_says_a_product_may_not_be_named_so():
    """`offer bonus }` lacks the amount; the hint also says `bonus` is no product name."""
    (d,) = parse_text('rule a { send sms "x" offer bonus }').diagnostics
    assert "expected a number" in d.message
    assert "`bonus 500`" in d.hint and "CLM105" in d.hint


def test_comments_are_collected():
    """Comments are kept with their places, including after code on a line."""
    result = parse_text('# head\nprogram "x" # trailing\n')
    assert [(c.text, c.span.line) for c in result.file.comments] == [
        ("# head", 1),
        ("# trailing", 2),
    ]


def test_hash_inside_string_is_not_a_comment():
    """A `#` inside quotes is text, not a comment."""
    result = parse_text('rule r { send sms "Order #42 is ready" }')
    assert result.file.comments == ()
    assert result.file.items[0].flow.steps[0].content == "Order #42 is ready"


def test_string_escapes():
    """Escaped quotes and backslashes are unescaped in the tree."""
    rule = parse_text(r'rule r { send sms "say \"hi\" \\ bye" }').file.items[0]
    assert rule.flow.steps[0].content == 'say "hi" \\ bye'


def test_activity_window_forms():
    """`active from`, `active until` and both: dates as written, the clause's place kept."""
    both = rule_of('active from 2026-01-01 until 2026-03-31\nsend email "x"').window
    assert (both.start.text, both.end.text) == ("2026-01-01", "2026-03-31")
    assert (both.span.line, both.span.column) == (2, 1)  # the clause, `active` included
    assert (both.end.span.line, both.end.span.column) == (2, 30)
    start = rule_of('active from 1997-10-01\nsend email "x"').window
    assert (start.start.text, start.end) == ("1997-10-01", None)
    end = rule_of('active until 1997-09-30\nsend email "x"').window
    assert (end.start, end.end.text) == (None, "1997-09-30")
    assert rule_of('send email "x"').window is None


def test_active_is_a_name_outside_a_rule_header():
    """`active` stays usable as a stage name (ecommerce_rfm.clm has one)."""
    rule = rule_of('in stage active\non leave active\nactive until 2026-01-31\nsend email "x"')
    assert rule.stages[0].text == "active" and rule.trigger.stage.text == "active"
    assert rule.window.end.text == "2026-01-31"


def test_activity_window_given_twice_is_reported():
    """A second `active` clause is CLM114; write one clause with both bounds."""
    result = parse_text('rule r {\nactive from 2026-01-01\nactive until 2026-02-01\nsend e "x"\n}')
    assert [d.code for d in result.diagnostics] == ["CLM114"]
    assert result.file.items[0].window.start.text == "2026-01-01"


@pytest.mark.parametrize(
    "clause", ["active", "active from", "active until 2026-01-01 from 2025-01-01", "active 2026"]
)
def test_incomplete_activity_window_is_a_syntax_error(clause: str):
    """A window without a date, or with its bounds the wrong way round, is CLM001, no crash."""
    result = parse_text(f'rule r {{\n{clause}\nsend e "x"\n}}')
    assert "CLM001" in [d.code for d in result.diagnostics]
