"""What changed between two policies: a structural diff keyed by names.

Each stage, segment, rule, product, channel, cap, audience and attribute is matched by name
(a cap by its scope: `global`, a channel or `tag promo`), and reported as added `+`, removed
`-` or changed `~` with the fields that changed, old and new. Source positions are ignored:
moving a rule or reformatting a file is not a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..compile.policy import Policy
from ..language.conditions import column_label
from ..language.vocabulary import (
    ATTRIBUTE_TYPES,
    EVENT_FIELDS,
    FIELDS,
    FUNCTIONS,
    PRODUCT_FIELDS,
    Type,
)

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


# the day lengths the language converts months and years with (DAYS_PER_UNIT), largest first
_DURATIONS = ((365.25, "year"), (30.4375, "month"), (7.0, "week"))
_RFM = {"days_since_purchase": "rfm.r", "purchases": "rfm.f", "total_spent": "rfm.m"}


def _column_type(key: str, attributes: Mapping[str, str]) -> Type | None:
    """The type of a state column (`days_since_purchase_line:cars` is a duration), for the
    unit its values are written in; None when unknown."""
    kind, _, rest = key.partition(":")
    if not rest:
        return FIELDS[key].type if key in FIELDS else None
    if kind == "attr":
        return ATTRIBUTE_TYPES.get(attributes.get(rest, ""))
    if kind.removesuffix("_line") in PRODUCT_FIELDS:
        return PRODUCT_FIELDS[kind.removesuffix("_line")]
    if kind in EVENT_FIELDS:
        return EVENT_FIELDS[kind]
    return FUNCTIONS[kind].type if kind in FUNCTIONS else None


def _duration(days: float) -> str:
    """Days as the spec would write them: `60 days`, `1 day`, `6 months` (182.625 days)."""
    if days != round(days):
        for length, unit in _DURATIONS:
            count = days / length
            if count == round(count) and count:
                return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{days:g} {'day' if days == 1 else 'days'}"


def _value(value: object, unit: Type | None) -> str:
    """A constant as the spec writes it, in the unit of the value it is compared with."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and unit is Type.DURATION:
        return _duration(value)
    if isinstance(value, float) and unit is Type.PERCENT:
        return f"{value * 100:.10g}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def expression_text(
    node: dict, attributes: Mapping[str, str] | None = None, names: Mapping[str, list] | None = None
) -> str:
    """A compiled condition as the spec writes it: field names (`days_since_purchase of line
    cars`, `owns(tee)`), durations and shares with their units (`60 days`, `6 months`,
    `20%`) and, given `names` (the stages, products and audiences in order), `stage is
    loyal`. `attributes`: each declared attribute's type (`money`, `date`, ...)."""
    attributes, names = attributes or {}, names or {}

    def text(node: dict, unit: Type | None = None) -> str:
        op = node["op"]
        if op == "const":
            return _value(node["value"], unit)
        if op == "column":
            return column_label(node["key"])
        if op == "score":
            return _RFM.get(node["key"], f"score({node['key']})")
        if op in ("and", "or"):
            return f" {op} ".join(
                f"({text(a)})" if a["op"] in ("and", "or") else text(a) for a in node["args"]
            )
        if op == "not":
            arg = node["arg"]
            return (
                f"not ({text(arg)})" if arg["op"] not in ("column", "score") else f"not {text(arg)}"
            )
        if op == "neg":
            return f"-{text(node['arg'], unit)}"
        if op == "between":
            word = "not in" if node.get("negated") else "in"
            kind = _type_of(node["arg"])
            low, high = _value(node["low"], kind), _value(node["high"], kind)
            if kind is Type.DURATION and low.split()[-1].rstrip("s") == high.split()[-1].rstrip(
                "s"
            ):
                low = low.split()[0]  # `90..179 days`, `1..3 years`: the unit once, at the end
            elif kind is Type.PERCENT:
                low = low.removesuffix("%")
            return f"{text(node['arg'])} {word} {low}..{high}"
        left, right = node["left"], node["right"]
        key = left.get("key") if left["op"] == "column" else None
        if op in ("==", "!=") and key in names and right["op"] == "const":
            code = int(right["value"])
            listed = names[key]
            shown = listed[code] if 0 <= code < len(listed) else "none"
            return f"{column_label(key)} {'is' if op == '==' else 'is not'} {shown}"
        return f"{text(left, _type_of(right))} {op} {text(right, _type_of(left))}"

    def _type_of(node: dict) -> Type | None:
        if node["op"] == "column":
            return _column_type(node["key"], attributes)
        if node["op"] == "neg":
            return _type_of(node["arg"])
        return None

    return text(node)


Words = tuple[dict[str, str], dict[str, list]]  # attribute types; stage, product... names


def _words(semantics: dict) -> Words:
    """What `expression_text` needs of a policy to write its conditions as the spec does."""
    stages = [s["name"] for s in semantics.get("stages", ())]
    names = {
        "stage": stages,
        "previous_stage": stages,
        "last_product": [p["name"] for p in semantics.get("products", ())],
        "audience": [a["name"] for a in semantics.get("audiences", ())],
    }
    return {a["name"]: a["type"] for a in semantics.get("attributes", ())}, names


def _flatten(value: object, words: Words, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict) and "op" in value and not isinstance(value.get("op"), dict):
        return {prefix: expression_text(value, *words)}
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, sub in value.items():
            out.update(_flatten(sub, words, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list):
        out = {}
        for i, sub in enumerate(value):
            out.update(_flatten(sub, words, f"{prefix}[{i}]"))
        if not value:
            out[prefix] = []
        return out
    return {prefix: value}


def _fields(
    old: dict, new: dict, words: tuple[Words, Words] = (({}, {}), ({}, {}))
) -> tuple[FieldChange, ...]:
    a, b = _flatten(old, words[0]), _flatten(new, words[1])
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
    words = (_words(a), _words(b))
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
                fields = _fields(before[name], item, words)
                if fields:
                    changes.append(Change(kind, name, "~", fields))
        for name in before:
            if name not in after:
                changes.append(Change(kind, name, "-"))
    return changes
