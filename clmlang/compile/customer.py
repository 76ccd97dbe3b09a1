"""A customer described in text (`purchases=4, days_since_purchase=80 days, owns=facial`),
read into the state columns a policy's conditions evaluate: what `clm explain` and the
examples of `clm test` are given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from ..core.names import suggest
from ..core.predictions import BuyingModel, is_prediction, prediction
from ..language.symbols import Symbols
from ..language.vocabulary import (
    ATTRIBUTE_TYPES,
    EVENT_FIELDS,
    FIELDS,
    PRODUCT_FIELDS,
    Type,
    product_column,
)
from .policy import Policy

__all__ = ["CustomerError", "customer_columns", "parse_customer"]


class CustomerError(ValueError):
    """A customer description that cannot be read; the message says what and how to fix it."""


_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(days?|weeks?|months?|years?)?$")
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}


def _value(text: str) -> float | str | bool | None:
    text = text.strip()
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("none", ""):
        return None
    m = _DURATION.match(low)
    if m:
        number = float(m.group(1))
        unit = (m.group(2) or "day").rstrip("s")
        return number * _UNIT_DAYS[unit] if m.group(2) else number
    return text.strip('"')


def parse_customer(text: str) -> dict[str, object]:
    """Read `key=value, key=value`; several products go as `owns=facial+botox`."""
    values: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, raw = part.partition("=")
        if not eq:
            raise CustomerError(f"`{part}` is not `key=value`")
        key = key.strip()
        if not key:
            raise CustomerError(f"`{part}` has no key before `=`")
        if key in values:
            hint = "; several products go as `owns=a+b`" if key == "owns" else ""
            raise CustomerError(f"`{key}` is given twice{hint}")
        values[key] = [_value(v) for v in raw.split("+")] if "+" in raw else _value(raw)
    return values


_OF = re.compile(r"^(\w+)\s+of\s+(line\s+)?(\w+)$")


def _about_products(customer: dict[str, object], symbols: Symbols) -> dict[str, float]:
    """Take the `FIELD of X` and `FIELD of line X` keys out of `customer`, as columns."""
    given: dict[str, float] = {}
    for key in [k for k in customer if " " in k]:
        m = _OF.match(key)
        if m is not None and m.group(1) in EVENT_FIELDS and not m.group(2):
            if m.group(3) not in symbols.events:
                hint = suggest(m.group(3), symbols.events)
                raise CustomerError(f"unknown event `{m.group(3)}`" + (f"; {hint}" if hint else ""))
            given[f"{m.group(1)}:{m.group(3)}"] = _field(customer.pop(key), key)
            continue
        if m is None or m.group(1) not in PRODUCT_FIELDS:
            example = "`purchases of new_car=1` or `days_since_purchase of line sales=700`"
            raise CustomerError(f"unknown field `{key}`; about one product write {example}")
        field, line, name = m.group(1), bool(m.group(2)), m.group(3)
        table = symbols.lines if line else symbols.products
        if name not in table:
            hint = suggest(name, table)
            what = "product line" if line else "product"
            raise CustomerError(f"unknown {what} `{name}`" + (f"; {hint}" if hint else ""))
        given[product_column(field, name, line)] = _field(customer.pop(key), key)
    return given


def _per_product(given: dict[str, float], owned: list[str], symbols: Symbols) -> dict:
    """Every product's and line's purchases and days since: as given, else from what is
    given about the products (owning a product counts as one purchase of it)."""
    out: dict[str, float] = {}
    for name in symbols.products:
        days = given.get(product_column("days_since_purchase", name, False), math.nan)
        bought = 1.0 if name in owned or not math.isnan(days) else 0.0
        out[product_column("purchases", name, False)] = given.get(
            product_column("purchases", name, False), bought
        )
        out[product_column("days_since_purchase", name, False)] = days
    for line, products in symbols.lines.items():
        names = [p.name.text for p in products]
        days = [out[product_column("days_since_purchase", n, False)] for n in names]
        known = [d for d in days if not math.isnan(d)]
        days_line = given.get(
            product_column("days_since_purchase", line, True), min(known, default=math.nan)
        )
        bought = sum(out[product_column("purchases", n, False)] for n in names)
        out[product_column("purchases", line, True)] = given.get(
            product_column("purchases", line, True),
            max(bought, 0.0 if math.isnan(days_line) else 1.0),
        )
        out[product_column("days_since_purchase", line, True)] = days_line
    return out


def _unknown_hint(key: str, known: list[str]) -> str:
    """A close name, else the fields that start like `key` (`dayz`: the days_... fields),
    else every field."""
    hint = suggest(key, known)
    if hint:
        return hint
    alike = [k for k in known if len(key) >= 3 and k.startswith(key[:3])]
    if alike:
        return f"did you mean one of {', '.join(f'`{k}`' for k in alike)}?"
    return f"the fields are {', '.join(known)}"


def _known_keys(symbols: Symbols) -> list[str]:
    keys = [k for k in FIELDS if not k.startswith("rfm.")]
    keys += ["owns", "unsubscribed", "messages", *symbols.attributes]
    keys += [f"messages.{c}" for c in symbols.channels]
    return keys


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _code(table: Mapping[str, object], value: object, what: str) -> float:
    if value is None:
        return -1.0
    if value not in table:
        hint = suggest(str(value), table) or f"known: {', '.join(table)}"
        if not table:
            hint = f"the spec declares no {what}s"
        raise CustomerError(f"unknown {what} `{value}`; {hint}")
    return float(list(table).index(value))  # type: ignore[arg-type]


def customer_columns(
    customer: Mapping[str, object],
    policy: Policy,
    symbols: Symbols,
    model: BuyingModel | None = None,
) -> dict[str, np.ndarray]:
    """One customer's state as the columns (one row each) that compiled conditions read;
    an unknown or unreadable field is a `CustomerError`. The buying model's predictions
    (`p_alive`, ...) are computed under `model` (not known without one)."""
    c = dict(customer)
    given = _about_products(c, symbols)
    known = _known_keys(symbols)
    for key in c:
        if key.startswith("rfm."):
            raise CustomerError(
                f"`{key}` is computed from purchases, days_since_purchase and total_spent"
            )
        if is_prediction(key):
            raise CustomerError(
                f"`{key}` is the buying model's prediction from purchases,"
                " days_since_first_purchase, days_since_purchase and total_spent"
            )
        if key not in known:
            raise CustomerError(f"unknown field `{key}`; {_unknown_hint(key, known)}")
    purchases = _field(c.get("purchases", 0.0), "purchases")
    spent = _field(c.get("total_spent", 0.0), "total_spent")
    owned = [str(p) for p in _as_list(c.get("owns")) if p]
    for product in owned:
        _code(symbols.products, product, "product")
    subscribed = c.get("subscribed")
    out: dict[str, float | bool | str] = {
        "purchases": purchases,
        "total_spent": spent,
        "avg_check": _field(
            c.get("avg_check", spent / purchases if purchases else 0.0), "avg_check"
        ),
        "days_since_purchase": _field(c.get("days_since_purchase"), "days_since_purchase"),
        "days_since_first_purchase": _field(
            c.get("days_since_first_purchase"), "days_since_first_purchase"
        ),
        "days_in_stage": _field(c.get("days_in_stage", 0), "days_in_stage"),
        "last_product": _code(symbols.products, c.get("last_product"), "product"),
        "previous_stage": _code(symbols.stages, c.get("previous_stage"), "stage"),
        "audience": _code(symbols.audiences, c.get("audience"), "audience"),
        "subscribed": subscribed is True or (bool(subscribed) and subscribed is not False),
    }
    per_product = _per_product(given, owned, symbols)
    out.update(per_product)
    for name in symbols.events:  # none yet, unless given (a day since one: one at least)
        days = given.get(f"days_since_event:{name}", math.nan)
        out[f"events:{name}"] = given.get(f"events:{name}", 0.0 if math.isnan(days) else 1.0)
        out[f"days_since_event:{name}"] = days
    for name in symbols.products:
        out[f"owns:{name}"] = name in owned or per_product[f"purchases:{name}"] > 0
        out[f"subscribed:{name}"] = name in [str(v) for v in _as_list(subscribed)]
    for line, products in symbols.lines.items():
        out[f"owns_line:{line}"] = (
            any(out[f"owns:{p.name.text}"] for p in products)
            or per_product[f"purchases_line:{line}"] > 0
        )
    opted_out = [str(v) for v in _as_list(c.get("unsubscribed")) if v]
    for channel in symbols.channels:
        out[f"unsubscribed:{channel}"] = channel in opted_out
    for name, attribute in symbols.attributes.items():
        raw = c.get(name)
        if ATTRIBUTE_TYPES.get(attribute.type.text) is Type.DATE:
            out[f"days_since:{name}"] = _number(raw)
        elif ATTRIBUTE_TYPES.get(attribute.type.text) is Type.TEXT:
            out[f"attr:{name}"] = "" if raw is None else str(raw)
        else:
            out[f"attr:{name}"] = _number(raw)
    columns = {k: np.array([v]) for k, v in out.items()}
    for key in policy.columns:
        if key.startswith("messages:"):
            parts = key.split(":")
            name = f"messages.{parts[1]}" if len(parts) == 3 else "messages"
            given = c.get(name)
            columns[key] = np.array([_field(given if given is not None else 0, name)])
    first, last = out["days_since_first_purchase"], out["days_since_purchase"]
    if math.isnan(first) and purchases == 1:  # one purchase: the first is the last
        first = last
    for key in policy.columns:
        if is_prediction(key):
            value = prediction(key, purchases, first, last, spent, model) if model else math.nan
            columns[key] = np.atleast_1d(np.asarray(value, dtype=float))
    if "stage" in c:
        columns["stage"] = np.array([_code(symbols.stages, c["stage"], "stage")])
    return columns


def _number(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool | int | float):
        return float(value)
    raise CustomerError(f"`{value}` is not a number")


# Fields no customer can have below 0 (a date attribute's days may be: a date ahead), and of
# those the counts, whole numbers: `purchases=-3` or `=2.5` put the customer in no stage.
_COUNTS = ("purchases", "events", "messages")
_NOT_NEGATIVE = (*_COUNTS, "total_spent", "avg_check", "days_since_purchase",
                 "days_since_first_purchase", "days_in_stage", "days_since_event")  # fmt: skip


def _field(value: object, key: str) -> float:
    """`value` of the field `key` (`purchases`, `purchases of facial`, `messages.sms`) as a
    number, refused when no customer can have it."""
    number = _number(value)
    if math.isnan(number):  # not known (`none`): read as before
        return number
    field = re.split(r"[ .:]", key, maxsplit=1)[0]
    if field in _COUNTS and not (number >= 0 and number.is_integer()):  # inf: not whole
        raise CustomerError(f"`{key}={number:g}`: a count, a whole number from 0")
    if field in _NOT_NEGATIVE and number < 0:
        raise CustomerError(f"`{key}={number:g}`: cannot be below 0")
    return number
