"""What a name is, as Markdown for the editor's hover: its definition and its role.

A declaration shows its source (as written, in its own file), what it does in the strategy
(a product's ecosystem role, a stage's place in the lifecycle, a channel's cost) and which
rules use it. Built-in fields and functions show their documentation from `vocabulary.py`.
"""

from __future__ import annotations

from ..core.source import Source
from ..language import syntax as s
from ..language.formatter.printer import goal_text, quantity
from ..language.vocabulary import CHANNEL_KINDS, FIELDS, FUNCTIONS, ROLES
from .index import Index, Reference, Symbol

__all__ = ["describe", "describe_symbol", "describe_use"]

_MAX_LINES = 16  # a long rule is cut in the hover: the editor can go to it


def describe(index: Index, ref: Reference, sources: dict[str, Source]) -> str | None:
    """Markdown for the name `ref` points at, or None when it names nothing known."""
    symbol = index.find(ref.name, ref.kinds)
    if symbol is not None:
        return describe_symbol(index, symbol, sources)
    if "function" in ref.kinds and ref.name in FUNCTIONS:
        fn = FUNCTIONS[ref.name]
        forms = " or ".join(f"`{fn.name}({', '.join(sig)})`" for sig in fn.signatures)
        return f"**function** {forms} → {fn.type.value}\n\n{fn.doc}"
    if "field" in ref.kinds and ref.name in FIELDS:
        field = FIELDS[ref.name]
        return f"**field** `{field.name}` ({field.type.value}, built in)\n\n{field.doc}"
    return None


def describe_use(index: Index, path: str) -> str:
    """Markdown for a `use` line: the file and what it declares, by kind."""
    kinds: dict[str, list[str]] = {}
    for symbol in index.outline(path):
        if symbol.kind not in ("use", "program", "cap", "control", "rfm"):
            kinds.setdefault(symbol.kind, []).append(f"`{symbol.name}`")
    caps = sum(symbol.kind == "cap" for symbol in index.outline(path))
    lines = [f"**use** `{path}`"]
    lines.extend(f"{kind}s: {', '.join(names)}" for kind, names in kinds.items())
    if caps:
        lines.append(f"{caps} frequency cap{'s' if caps > 1 else ''}")
    if len(lines) == 1:
        lines.append("declares nothing (or could not be read: see the diagnostics)")
    return "\n\n".join(lines)


def describe_symbol(index: Index, symbol: Symbol, sources: dict[str, Source]) -> str:
    """Markdown for a declaration: heading, source, role, users."""
    node = symbol.node
    title = getattr(node, "title", None)
    head = f"**{symbol.kind}** `{symbol.name}`" + (f" — {title}" if title else "")
    parts = [head]
    if symbol.kind not in ("line", "tag"):
        parts.append(_excerpt(symbol, sources))
    parts.extend(line for line in _role(index, symbol) if line)
    users = _users(index, symbol)
    if users:
        parts.append("Used by " + ", ".join(f"`{u}`" for u in users) + ".")
    if symbol.span.file != index.root:
        parts.append(f"Defined in `{symbol.span.file}`, line {symbol.span.line}.")
    return "\n\n".join(parts)


def _excerpt(symbol: Symbol, sources: dict[str, Source]) -> str:
    source = sources.get(symbol.span.file)
    if source is None:
        return ""
    lines = source.text[symbol.span.start : symbol.span.end].splitlines()
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], "  ..."]
    return "```clm\n" + "\n".join(lines) + "\n```"


def _role(index: Index, symbol: Symbol) -> list[str]:
    node = symbol.node
    match symbol.kind:
        case "product" if isinstance(node, s.Product):
            out = []
            if node.role is not None:
                meaning = ROLES.get(node.role.text, "not a known role")
                out.append(f"Role **{node.role.text}**: {meaning}.")
            if node.line is not None:
                out.append(f"In line `{node.line.text}`.")
            return out
        case "stage":
            stages = list(index.declared("stage"))
            place = f"Stage {stages.index(symbol.name) + 1} of {len(stages)} in the lifecycle"
            goal = node.goal if isinstance(node, s.Stage) else None
            return [place + (f"; goal: return within {goal_text(goal)}." if goal else ".")]
        case "channel" if isinstance(node, s.Channel):
            kind = node.kind.text if node.kind else symbol.name
            what = CHANNEL_KINDS.get(kind, "a custom channel")
            cost = f"; {quantity(node.cost)} a message" if node.cost else ""
            capacity = f"; at most {quantity(node.capacity)} a day" if node.capacity else ""
            return [f"Channel: {what}{cost}{capacity}."]
        case "line":
            products = [
                name
                for name, p in index.declared("product").items()
                if isinstance(p.node, s.Product) and p.node.line and p.node.line.text == symbol.name
            ]
            return ["Product line: " + ", ".join(f"`{p}`" for p in products) + "."]
        case "rule" if isinstance(node, s.Rule):
            where = ", ".join(n.text for n in node.stages) or "every stage"
            return [f"Communication rule, in {where}."]
        case "attribute" if isinstance(node, s.Attribute):
            return [f"Customer attribute, a {node.type.text}."]
        case "audience":
            return ["Audience: a customer belongs to one for life."]
        case "event":
            return [
                "Behavioural event: the market sets how often customers have it "
                f"(`[market.events.{symbol.name}]`, a rate per day; none: it never happens)."
            ]
        case "segment":
            return ["Segment: a named condition on the customer's state."]
        case "tag":
            caps = [
                c.name
                for c in index.symbols
                if c.kind == "cap" and f" tag {symbol.name} " in c.name
            ]
            return ["Message tag" + (f", capped by `{caps[0]}`." if caps else ".")]
    return []


def _users(index: Index, symbol: Symbol) -> list[str]:
    """The declarations whose text refers to `symbol`, in order, without repeats."""
    found: dict[str, None] = {}
    for ref in index.referrers(symbol):
        for owner in index.symbols:
            span = owner.span
            if (
                owner is not symbol
                and span.file == ref.span.file
                and span.start <= ref.span.start < span.end
                and owner.kind not in ("line", "tag")
            ):
                found[owner.name] = None
                break
    return list(found)
