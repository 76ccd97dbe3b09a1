"""The names of a spec and where they are: declarations, references, `use` paths.

Pure Python over the syntax tree, no protocol: the language server asks it what is under
the cursor, where that is defined, what a file's outline is and which names exist. A spec
that parsed only in part (a declaration being typed) still gives an index of the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.source import Span
from ..language import syntax as s
from ..language.formatter.printer import quantity
from ..language.loader import Spec
from ..language.symbols import iter_flows
from ..language.vocabulary import EVENT_FIELDS

__all__ = ["Index", "Reference", "Symbol", "used_path"]

# What a bare name in a condition may be, most likely first; a `field` is built in.
_IN_CONDITION = ("segment", "attribute", "field")
_ARGUMENT = ("product", "channel", "attribute", "segment")
_IS_TARGET = {"stage": ("stage",), "previous_stage": ("stage",), "audience": ("audience",)}


@dataclass(frozen=True)
class Symbol:
    """A declaration: its kind, name, the whole declaration's span and the name's span.

    Product lines and message tags are declared by use (`line cosmetology`, `tag promo`):
    their symbol is their first mention.
    """

    kind: str
    name: str
    span: Span
    name_span: Span
    node: object = field(compare=False, repr=False)
    children: tuple[Symbol, ...] = ()


@dataclass(frozen=True)
class Reference:
    """A name used somewhere, with the kinds of declaration it may refer to."""

    name: str
    kinds: tuple[str, ...]
    span: Span


def used_path(owner: str, use: s.Use) -> str:
    """The file a `use` in file `owner` loads, named as the loader names it."""
    base = Path(owner).parent if not owner.startswith("<") else Path.cwd()
    return str(base / use.path)


def _contains(span: Span, file: str, offset: int) -> bool:
    return span.file == file and span.start <= offset <= span.end


@dataclass
class Index:
    """Every declaration and reference of a spec and the files it uses."""

    root: str
    symbols: list[Symbol] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    uses: list[tuple[s.Use, str]] = field(default_factory=list)  # (the `use`, its file)
    _tables: dict[str, dict[str, Symbol]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, spec: Spec) -> Index:
        index = cls(spec.root)
        for file in spec.files:
            for item in file.items:
                index._item(file.path, item)
        return index

    # ---- queries --------------------------------------------------------------------
    def declared(self, kind: str) -> dict[str, Symbol]:
        """The declarations of one kind by name, first declaration first."""
        return self._tables.get(kind, {})

    def find(self, name: str, kinds: Iterable[str]) -> Symbol | None:
        """The declaration `name` refers to, trying each kind in turn."""
        for kind in kinds:
            found = self._tables.get(kind, {}).get(name)
            if found is not None:
                return found
        return None

    def reference_at(self, file: str, offset: int) -> Reference | None:
        """The reference under the cursor, or the name of the declaration under it."""
        for ref in self.references:
            if _contains(ref.span, file, offset):
                return ref
        for symbol in self.walk():
            if symbol.kind != "use" and _contains(symbol.name_span, file, offset):
                return Reference(symbol.name, (symbol.kind,), symbol.name_span)
        return None

    def symbol_at(self, file: str, offset: int) -> Symbol | None:
        """The declaration that the name under the cursor declares or refers to."""
        ref = self.reference_at(file, offset)
        return None if ref is None else self.find(ref.name, ref.kinds)

    def use_at(self, file: str, offset: int) -> tuple[s.Use, str] | None:
        """The `use` declaration under the cursor and the file it loads."""
        for use, path in self.uses:
            if _contains(use.span, file, offset):
                return use, path
        return None

    def outline(self, file: str) -> list[Symbol]:
        """The declarations written in one file, in order (for the editor's outline)."""
        return [x for x in self.symbols if x.span.file == file and x.kind not in ("line", "tag")]

    def referrers(self, symbol: Symbol) -> list[Reference]:
        """Every reference to a declaration."""
        return [
            r
            for r in self.references
            if r.name == symbol.name and self.find(r.name, r.kinds) is symbol
        ]

    def walk(self) -> Iterator[Symbol]:
        """Every symbol and its children."""
        for symbol in self.symbols:
            yield symbol
            yield from symbol.children

    # ---- building -------------------------------------------------------------------
    def _declare(self, symbol: Symbol, top: bool = True) -> Symbol:
        self._tables.setdefault(symbol.kind, {}).setdefault(symbol.name, symbol)
        if top:
            self.symbols.append(symbol)
        return symbol

    def _implicit(self, kind: str, name: s.Name, node: object) -> None:
        """A line or a tag: declared where first mentioned, referred to everywhere."""
        if name.text not in self.declared(kind):
            self._declare(Symbol(kind, name.text, name.span, name.span, node))
        self._ref(name, (kind,))

    def _ref(self, name: s.Name | None, kinds: tuple[str, ...]) -> None:
        if name is not None:
            self.references.append(Reference(name.text, kinds, name.span))

    def _item(self, path: str, item: s.Item) -> None:
        match item:
            case s.Use():
                self.uses.append((item, used_path(path, item)))
                head = f"use {item.path}"
                self.symbols.append(Symbol("use", head, item.span, item.span, item))
            case s.Program():
                self._declare(Symbol("program", item.title, item.span, item.span, item))
            case s.Cap():
                self._ref(item.channel, ("channel",))
                if item.tag is not None:
                    self._implicit("tag", item.tag, item)
                self.symbols.append(Symbol("cap", _cap_title(item), item.span, item.span, item))
            case s.Control():
                self.symbols.append(Symbol("control", "control group", item.span, item.span, item))
            case s.Rfm():
                self.symbols.append(Symbol("rfm", "rfm", item.span, item.span, item))
            case s.Product():
                self._declare(Symbol("product", item.name.text, item.span, item.name.span, item))
                if item.line is not None:
                    self._implicit("line", item.line, item)
                for other in item.attach_to:
                    if isinstance(other, s.LineArgument):
                        self._ref(other.line, ("line",))
                    else:
                        self._ref(other, ("product",))
            case s.Stage() | s.Segment():
                kind = "stage" if isinstance(item, s.Stage) else "segment"
                self._declare(Symbol(kind, item.name.text, item.span, item.name.span, item))
                self._expr(item.condition)
            case s.Rule():
                self._rule(item)
            case s.Channel() | s.Attribute() | s.Audience():
                kind = type(item).__name__.lower()
                self._declare(Symbol(kind, item.name.text, item.span, item.name.span, item))
            case s.CustomerEvent():
                self._declare(Symbol("event", item.name.text, item.span, item.name.span, item))

    def _rule(self, rule: s.Rule) -> None:
        variants = tuple(
            Symbol("variant", v.name.text, v.span, v.name.span, v) for v in rule.variants
        )
        self._declare(Symbol("rule", rule.name.text, rule.span, rule.name.span, rule, variants))
        for stage in rule.stages:
            self._ref(stage, ("stage",))
        for axis in rule.grid.axes if rule.grid is not None else ():
            for name in axis.names:
                self._ref(name, (axis.kind,))
            for table in rule.grid.tables if axis is rule.grid.axes[0] else ():
                for row in table.rows:
                    self._ref(row.name, (axis.kind,))
        for expr in (rule.audience, rule.condition, rule.exit):
            if expr is not None:
                self._expr(expr)
        self._trigger(rule.trigger)
        for flow in iter_flows(rule.flow):
            self._steps(flow.steps)
            if flow.success is not None:
                self._event(flow.success.event)
        for variant in rule.variants:
            self._steps(variant.steps)

    def _trigger(self, trigger: s.Trigger | None) -> None:
        match trigger:
            case s.Event():
                self._event(trigger)
            case s.After(anchor=s.Event() as event):
                self._event(event)
            case s.After(anchor=s.Name() as name):
                self._ref(name, ("attribute",))
            case s.Before() | s.Anniversary():
                self._ref(trigger.attribute, ("attribute",))

    def _event(self, event: s.Event) -> None:
        self._ref(event.product, ("product",))
        self._ref(event.line, ("line",))
        self._ref(event.stage, ("stage", "segment"))
        self._ref(event.behaviour, ("event",))

    def _steps(self, steps: Iterable[s.Step]) -> None:
        for step in steps:
            if isinstance(step, s.Send):
                self._ref(step.channel, ("channel",))
                for tag in step.tags:
                    self._implicit("tag", tag, step)
                if step.offer is not None:
                    self._ref(step.offer.product, ("product",))
                    self._ref(step.offer.line, ("line",))
            elif isinstance(step, s.ContinueWith):
                self._ref(step.rule, ("rule",))

    def _expr(self, expr: s.Expr | s.LineArgument, kinds: tuple[str, ...] = _IN_CONDITION) -> None:
        match expr:
            case s.Ref(parts=parts):
                dotted = ".".join(p.text for p in parts)
                if len(parts) == 1:
                    self._ref(parts[0], kinds)
                else:
                    span = parts[0].span
                    whole = Span(
                        span.file,
                        span.start,
                        parts[-1].span.end,
                        span.line,
                        span.column,
                        parts[-1].span.end_line,
                        parts[-1].span.end_column,
                    )
                    self.references.append(Reference(dotted, ("field",), whole))
            case s.LineArgument(line=line):
                self._ref(line, ("line",))
            case s.FieldOf(field=name, target=target, line=line):
                self._ref(name, ("field",))
                kinds = ("event",) if name.text in EVENT_FIELDS else ("product",)
                self._ref(target, ("line",) if line else kinds)
            case s.Call(function=function, args=args):
                self._ref(function, ("function",))
                for arg in args:
                    self._expr(arg, _ARGUMENT)
            case s.Is(operand=operand, name=name):
                self._expr(operand)
                target = operand.dotted if isinstance(operand, s.Ref) else ""
                self._ref(name, _IS_TARGET.get(target, ("product", "stage", "audience")))
            case s.Neg(operand=operand) | s.Not(operand=operand) | s.InRange(operand=operand):
                self._expr(operand)
            case s.BinaryOp(left=left, right=right) | s.Compare(left=left, right=right):
                self._expr(left)
                self._expr(right)
            case s.BoolOp(operands=operands):
                for operand in operands:
                    self._expr(operand)


def _cap_title(cap: s.Cap) -> str:
    scope = f"{cap.channel.text} " if cap.channel else f"tag {cap.tag.text} " if cap.tag else ""
    return f"cap {scope}{quantity(cap.limit)} per {quantity(cap.window)}"
