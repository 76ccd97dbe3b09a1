"""Hypothesis strategies that build random, syntactically valid `.clm` syntax trees."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import strategies as st

from clmlang.core.source import Span
from clmlang.language import syntax as s
from clmlang.language.grid import validate_rule

SPAN = Span("<generated>", 0, 0, 1, 1, 1, 1)
# Names that are keywords nowhere, so they parse as names in every position.
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon_2", "x1", "facial", "loyal", "sms2"]
UNITS = [
    (s.Unit.NONE, ""),
    (s.Unit.DAYS, "days"),
    (s.Unit.DAYS, "day"),
    (s.Unit.WEEKS, "weeks"),
    (s.Unit.MONTHS, "months"),
    (s.Unit.YEARS, "year"),
    (s.Unit.PERCENT, "%"),
    (s.Unit.MONEY, "USD"),
]

names = st.sampled_from(NAMES).map(lambda t: s.Name(t, SPAN))
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
    max_size=12,
)
number_texts = st.one_of(
    st.integers(0, 99_999).map(str),
    st.tuples(st.integers(0, 999), st.integers(0, 99)).map(lambda p: f"{p[0]}.{p[1]}"),
)


@st.composite
def quantities(draw, units=UNITS):  # type: ignore[no-untyped-def]
    text = draw(number_texts)
    unit, unit_text = draw(st.sampled_from(units))
    currency = unit_text if unit is s.Unit.MONEY else None
    return s.Quantity(float(text), unit, SPAN, text, currency, unit_text)


durations = quantities(units=[u for u in UNITS if u[0].is_duration])
percents = quantities(units=[(s.Unit.PERCENT, "%")])
plain = quantities(units=[(s.Unit.NONE, "")])
money = quantities(units=[(s.Unit.NONE, ""), (s.Unit.MONEY, "USD")])


@st.composite
def ranges(draw):  # type: ignore[no-untyped-def]
    low, high = draw(quantities()), draw(quantities())
    if low.unit is s.Unit.NONE and high.unit is not s.Unit.NONE:
        # `3..7 days` gives the low end the high end's unit: build that tree directly.
        low = s.Quantity(low.value, high.unit, SPAN, low.text, high.currency, high.unit_text)
    return s.Range(low, high, SPAN)


leaves = st.one_of(
    quantities(),
    texts.map(lambda t: s.StringLiteral(t, SPAN)),
    st.booleans().map(lambda b: s.BoolLiteral(b, SPAN)),
    st.lists(names, min_size=1, max_size=2).map(lambda p: s.Ref(tuple(p), SPAN)),
    st.builds(s.FieldOf, names, names, st.booleans(), st.just(SPAN)),
)


def _composite(children):  # type: ignore[no-untyped-def]
    arguments = st.one_of(children, names.map(lambda n: s.LineArgument(n, SPAN)))
    return st.one_of(
        st.builds(s.Call, names, st.lists(arguments, max_size=3).map(tuple), st.just(SPAN)),
        st.builds(s.Neg, children, st.just(SPAN)),
        st.builds(s.BinaryOp, st.sampled_from("+-*/"), children, children, st.just(SPAN)),
        st.builds(
            s.Compare,
            st.sampled_from([">=", "<=", "==", "!=", ">", "<"]),
            children,
            children,
            st.just(SPAN),
        ),
        st.builds(s.InRange, children, ranges(), st.booleans(), st.just(SPAN)),
        st.builds(s.Is, children, names, st.booleans(), st.just(SPAN)),
        st.builds(s.Not, children, st.just(SPAN)),
        st.builds(
            s.BoolOp,
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=2, max_size=3).map(tuple),
            st.just(SPAN),
        ),
    )


expressions = st.recursive(leaves, _composite, max_leaves=12)
optional = lambda strategy: st.none() | strategy  # noqa: E731


@st.composite
def events(draw, allow_stage=True):  # type: ignore[no-untyped-def]
    kinds = list(s.EventKind) if allow_stage else [s.EventKind.PURCHASE, s.EventKind.FIRST_PURCHASE]
    kind = draw(st.sampled_from(kinds))
    if kind in (s.EventKind.PURCHASE, s.EventKind.FIRST_PURCHASE):
        target = draw(st.sampled_from(["none", "product", "line"]))
        name = draw(names)
        return s.Event(
            kind,
            name if target == "product" else None,
            name if target == "line" else None,
            None,
            SPAN,
        )
    if kind in (s.EventKind.ENTER, s.EventKind.LEAVE):
        return s.Event(kind, stage=draw(names), span=SPAN)
    return s.Event(kind, span=SPAN, behaviour=draw(names))


schedules = st.one_of(
    st.just(s.Schedule("daily", None, SPAN)),
    names.map(lambda n: s.Schedule("weekly", n.text, SPAN)),
    st.integers(1, 31).map(lambda d: s.Schedule("monthly", str(d), SPAN)),
    st.just(s.Schedule("yearly", "12-01", SPAN)),
    st.just(s.Schedule("date", "2026-12-20", SPAN)),
)
triggers = st.one_of(
    events(),
    st.builds(s.After, durations, st.one_of(events(), names), st.just(SPAN)),
    st.builds(s.Before, durations, names, st.booleans(), st.just(SPAN)),
    st.builds(s.Anniversary, names, st.just(SPAN)),
    st.builds(s.Every, durations, st.just(SPAN)),
    st.builds(s.Inactivity, durations, st.just(SPAN)),
    schedules,
)


@st.composite
def offers(draw):  # type: ignore[no-untyped-def]
    target = draw(st.sampled_from(["none", "product", "line"]))
    name = draw(names)
    return s.Offer(
        name if target == "product" else None,
        name if target == "line" else None,
        draw(optional(quantities(units=[(s.Unit.PERCENT, "%"), (s.Unit.NONE, "")]))),
        draw(optional(money)),
        SPAN,
    )


steps = st.one_of(
    st.builds(
        s.Send,
        names,
        texts,
        optional(offers()),
        st.lists(names, max_size=2).map(tuple),
        st.booleans(),
        st.just(SPAN),
    ),
    st.builds(s.Wait, durations, st.just(SPAN)),
    st.builds(s.ContinueWith, names, st.just(SPAN)),
    st.just(s.Stop(SPAN)),
)


def flows(depth: int = 2):  # type: ignore[no-untyped-def]
    @st.composite
    def build(draw):  # type: ignore[no-untyped-def]
        step_list = tuple(draw(st.lists(steps, max_size=3)))
        if depth == 0 or not draw(st.booleans()):
            return s.Flow(step_list, None, None, None, SPAN)
        success = s.Success(draw(events()), draw(durations), SPAN)
        branch = optional(flows(depth - 1))
        return s.Flow(step_list, success, draw(branch), draw(branch), SPAN)

    return build()


reentries = st.one_of(
    st.just(s.Reentry("always", None, SPAN)),
    st.builds(s.Reentry, st.just("once"), optional(durations), st.just(SPAN)),
)
dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(
    lambda d: s.Name(d.isoformat(), SPAN)
)
windows = st.one_of(
    st.builds(s.Window, dates, optional(dates), st.just(SPAN)),
    st.builds(s.Window, st.none(), dates, st.just(SPAN)),
)
rules = st.builds(
    s.Rule,
    names,
    optional(texts),
    st.lists(names, max_size=2).map(tuple),
    optional(expressions),
    optional(expressions),
    optional(triggers),
    optional(plain.filter(lambda q: "." not in q.text)),
    optional(percents),
    optional(reentries),
    optional(windows),
    optional(expressions),
    st.lists(
        st.builds(
            s.Variant, names, percents, st.lists(steps, max_size=2).map(tuple), st.just(SPAN)
        ),
        max_size=2,
    ).map(tuple),
    flows(),
    st.just(SPAN),
)


@st.composite
def grid_rules(draw):  # type: ignore[no-untyped-def]
    """A rule over a grid of stages and/or segments, with `where` tables that fit it."""
    rule = draw(rules)
    kinds = draw(st.sampled_from([("stage",), ("segment",), ("stage", "segment")]))
    some_names = st.lists(names, min_size=1, max_size=3, unique_by=lambda n: n.text)
    axes = tuple(s.GridAxis(kind, tuple(draw(some_names)), SPAN) for kind in kinds)
    width = len(axes[1].names) if len(axes) > 1 else 1
    value = st.one_of(quantities(), names, texts, st.none())
    tables = tuple(
        s.GridTable(
            parameter,
            tuple(
                s.GridRow(
                    row,
                    tuple(draw(st.lists(value, min_size=width, max_size=width))),
                    (SPAN,) * width,
                    SPAN,
                )
                for row in axes[0].names
            ),
            SPAN,
        )
        for parameter in draw(st.lists(names, max_size=2, unique_by=lambda n: n.text))
    )
    stages = () if "stage" in kinds else rule.stages
    return dataclasses.replace(rule, stages=stages, grid=s.Grid(axes, tables, SPAN))


@st.composite
def caps(draw):  # type: ignore[no-untyped-def]
    scope = draw(st.sampled_from(["global", "channel", "tag"]))
    name = draw(names)
    limit = draw(plain)
    return s.Cap(
        name if scope == "channel" else None,
        name if scope == "tag" else None,
        limit,
        draw(durations),
        draw(st.sampled_from(["skip", "delay"])),
        SPAN,
    )


items = st.one_of(
    st.builds(s.Program, texts, optional(st.just(s.Name("USD", SPAN))), st.just(SPAN)),
    st.builds(s.Use, texts, st.just(SPAN)),
    st.builds(
        s.Channel,
        names,
        optional(texts),
        optional(names),
        optional(money),
        optional(plain),
        st.just(SPAN),
    ),
    caps(),
    st.builds(s.Control, percents, st.just(SPAN)),
    st.builds(
        s.Product,
        names,
        optional(texts),
        optional(names),
        optional(money),
        optional(money),
        optional(names),
        optional(durations),
        st.lists(names | names.map(lambda n: s.LineArgument(n, SPAN)), max_size=2).map(tuple),
        optional(percents),
        st.just(SPAN),
    ),
    st.builds(s.Attribute, names, names, st.just(SPAN)),
    st.builds(s.Audience, names, optional(texts), st.just(SPAN)),
    st.builds(s.CustomerEvent, names, optional(texts), st.just(SPAN)),
    st.builds(
        s.Stage,
        names,
        optional(texts),
        expressions,
        optional(durations | ranges()),
        st.just(SPAN),
    ),
    st.builds(s.Segment, names, optional(texts), expressions, st.just(SPAN)),
    rules,
    # Texts may hold a `{word}` that is not a parameter: such a grid rule is an error.
    grid_rules().filter(lambda rule: not validate_rule(rule)),
)


@st.composite
def rfms(draw):  # type: ignore[no-untyped-def]
    axes = draw(
        st.lists(st.sampled_from(["recency", "frequency", "monetary"]), unique=True, max_size=3)
    )
    return s.Rfm(
        tuple(
            s.RfmAxis(axis, tuple(draw(st.lists(quantities(), min_size=1, max_size=4))), SPAN)
            for axis in axes
        ),
        SPAN,
    )


files = st.lists(st.one_of(items, rfms()), max_size=6)
