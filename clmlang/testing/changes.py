"""What changed between two policies: a structural diff keyed by names.

Each stage, segment, rule, product, channel, cap, audience and attribute is matched by name
(a cap by its scope: `global`, a channel or `tag promo`), and reported as added `+`, removed
`-` or changed `~` with the fields that changed, old and new. Source positions are ignored:
moving a rule or reformatting a file is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..compile.policy import Policy

__all__ = ["Change", "FieldChange", "diff_policies"]

SECTIONS = (
    ("program", None),
    ("channel", "channels"),
    ("cap", "caps"),
    ("product", "products"),
    ("audience", "audiences"),
    ("attribute", "attributes"),
    ("stage", "stages"),
    ("segment", "segments"),
    ("rule", "rules"),
)


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: object
    new: object


@dataclass(frozen=True)
class Change:
    kind: str  # a section: "program", "channel", "cap", "product", ..., "rule"
    name: str
    op: str  # "+", "-", "~"
    fields: tuple[FieldChange, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "change": {"+": "added", "-": "removed", "~": "changed"}[self.op],
            "fields": [{"path": f.path, "old": f.old, "new": f.new} for f in self.fields],
        }


def _cap_name(cap: dict) -> str:
    if cap["scope"] == "global":
        return "global"
    return cap["channel"] if cap["scope"] == "channel" else f"tag {cap['tag']}"


def _keyed(items: list[dict], kind: str) -> dict[str, dict]:
    if kind == "cap":
        return {_cap_name(c): c for c in items}
    return {item["name"]: item for item in items}


def expression_text(node: dict) -> str:
    """A compiled condition as readable text (column keys, base units)."""
    op = node["op"]
    if op == "const":
        value = node["value"]
        return (
            f'"{value}"'
            if isinstance(value, str)
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
    if op == "column":
        return node["key"]
    if op == "score":
        return f"score({node['key']})"
    if op in ("and", "or"):
        return f" {op} ".join(
            f"({expression_text(a)})" if a["op"] in ("and", "or") else expression_text(a)
            for a in node["args"]
        )
    if op == "not":
        return f"not ({expression_text(node['arg'])})"
    if op == "neg":
        return f"-{expression_text(node['arg'])}"
    if op == "between":
        word = "not in" if node.get("negated") else "in"
        return f"{expression_text(node['arg'])} {word} {node['low']:g}..{node['high']:g}"
    return f"{expression_text(node['left'])} {op} {expression_text(node['right'])}"


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict) and "op" in value and not isinstance(value.get("op"), dict):
        return {prefix: expression_text(value)}
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, sub in value.items():
            out.update(_flatten(sub, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list):
        out = {}
        for i, sub in enumerate(value):
            out.update(_flatten(sub, f"{prefix}[{i}]"))
        if not value:
            out[prefix] = []
        return out
    return {prefix: value}


def _fields(old: dict, new: dict) -> tuple[FieldChange, ...]:
    a, b = _flatten(old), _flatten(new)
    found = []
    for path in list(dict.fromkeys([*a, *b])):
        if path.startswith("eligible"):  # the stage filter and condition, already shown
            continue
        if a.get(path, _MISSING) != b.get(path, _MISSING):
            found.append(FieldChange(path, a.get(path), b.get(path)))
    return tuple(found)


_MISSING = object()


def diff_policies(old: Policy, new: Policy) -> list[Change]:
    """The changes from `old` to `new`, section by section, in the new spec's order."""
    a, b = old.semantics(), new.semantics()
    changes: list[Change] = []
    program_keys = ("program", "currency", "control_share")
    head = _fields({k: a[k] for k in program_keys}, {k: b[k] for k in program_keys})
    if head:
        changes.append(Change("program", b["program"] or "(program)", "~", head))
    for kind, key in SECTIONS[1:]:
        before, after = _keyed(a[key], kind), _keyed(b[key], kind)
        for name, item in after.items():
            if name not in before:
                changes.append(Change(kind, name, "+"))
            else:
                fields = _fields(before[name], item)
                if fields:
                    changes.append(Change(kind, name, "~", fields))
        for name in before:
            if name not in after:
                changes.append(Change(kind, name, "-"))
    return changes
