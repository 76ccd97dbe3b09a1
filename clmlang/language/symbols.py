"""The names a spec declares, by kind, in declaration order (used files first).

The checker reports duplicates and unknown names from this table; the compiler and the
expression lowering read codes from it (a stage's index is its code in the `stage` column).
When a name is declared twice, the first declaration wins here; the checker reports the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import syntax as s
from .loader import Spec

__all__ = ["Symbols"]


@dataclass
class Symbols:
    """Declarations of one spec, each kind keyed by name."""

    program: s.Program | None = None
    channels: dict[str, s.Channel] = field(default_factory=dict)
    caps: list[s.Cap] = field(default_factory=list)
    control: s.Control | None = None
    products: dict[str, s.Product] = field(default_factory=dict)
    lines: dict[str, list[s.Product]] = field(default_factory=dict)
    attributes: dict[str, s.Attribute] = field(default_factory=dict)
    events: dict[str, s.CustomerEvent] = field(default_factory=dict)
    audiences: dict[str, s.Audience] = field(default_factory=dict)
    rfm: s.Rfm | None = None
    stages: dict[str, s.Stage] = field(default_factory=dict)
    segments: dict[str, s.Segment] = field(default_factory=dict)
    rules: dict[str, s.Rule] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    duplicates: list[tuple[s.Item, s.Item]] = field(default_factory=list)  # (first, again)
    # Conditions already lowered to the expression IR, by syntax node (see expression.lower).
    lowered: dict[int, tuple[object, object]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_spec(cls, spec: Spec) -> Symbols:
        return cls.from_items(list(spec.items()))

    @classmethod
    def from_items(cls, items: list[s.Item]) -> Symbols:
        table = cls()
        for item in items:
            table._add(item)
        return table

    def _add(self, item: s.Item) -> None:
        named: dict[type, dict[str, s.Item]] = {
            s.Channel: self.channels,  # type: ignore[dict-item]
            s.Product: self.products,  # type: ignore[dict-item]
            s.Attribute: self.attributes,  # type: ignore[dict-item]
            s.CustomerEvent: self.events,  # type: ignore[dict-item]
            s.Audience: self.audiences,  # type: ignore[dict-item]
            s.Stage: self.stages,  # type: ignore[dict-item]
            s.Segment: self.segments,  # type: ignore[dict-item]
            s.Rule: self.rules,  # type: ignore[dict-item]
        }
        kind = type(item)
        if kind in named:
            table = named[kind]
            name = item.name.text  # type: ignore[union-attr]
            if name in table:
                self.duplicates.append((table[name], item))
                return
            table[name] = item
            if isinstance(item, s.Product) and item.line is not None:
                self.lines.setdefault(item.line.text, []).append(item)
            if isinstance(item, s.Rule):
                self.tags.update(t.text for t in _sent_tags(item))
        elif isinstance(item, s.Program):
            if self.program is None:
                self.program = item
            else:
                self.duplicates.append((self.program, item))
        elif isinstance(item, s.Control):
            if self.control is None:
                self.control = item
            else:
                self.duplicates.append((self.control, item))
        elif isinstance(item, s.Rfm):
            if self.rfm is None:
                self.rfm = item
            else:
                self.duplicates.append((self.rfm, item))
        elif isinstance(item, s.Cap):
            self.caps.append(item)

    # ---- codes used in state columns ---------------------------------------------------
    def stage_code(self, name: str) -> int:
        return list(self.stages).index(name)

    def product_code(self, name: str) -> int:
        return list(self.products).index(name)

    def audience_code(self, name: str) -> int:
        return list(self.audiences).index(name)

    @property
    def currency(self) -> str | None:
        if self.program and self.program.currency:
            return self.program.currency.text
        return None


def _sent_tags(rule: s.Rule) -> list[s.Name]:
    tags: list[s.Name] = []
    for step in iter_steps(rule):
        if isinstance(step, s.Send):
            tags.extend(step.tags)
    return tags


def iter_flows(flow: s.Flow | None):  # type: ignore[no-untyped-def]
    """Every flow nested in `flow`, itself first."""
    if flow is None:
        return
    yield flow
    yield from iter_flows(flow.on_success)
    yield from iter_flows(flow.on_failure)


def iter_steps(rule: s.Rule):  # type: ignore[no-untyped-def]
    """Every step of a rule: its flow and branches, and every variant's steps."""
    for flow in iter_flows(rule.flow):
        yield from flow.steps
    for variant in rule.variants:
        yield from variant.steps
