"""Market files: a scenario's `[market]` may include a market kept in a file of its own.

    [market]
    include = "markets/clinic.toml"   # relative to this file
    [market.channels.sms]
    response = 0.06                   # wins over the included value

A market file is written like a scenario file's market, as `[market]` tables. So it is a
scenario file of its own (`clm simulate SPEC --scenario markets/clinic.toml` runs it with the
default settings), `clm calibrate -o` writes one, and an error in it is reported with the same
dotted key (`market.buying.r`) at its own line. The included file may also hold a
`[simulation]` table (calibrate writes the real base's size there): it applies when that file
is run by itself, never to the scenario that includes it.

The including file's keys are merged over the included ones table by table: a stage, channel,
product or line named in both is merged key by key; a map of shares or multipliers
(`population.purchases`, `products.NAME.audiences`, `products.NAME.months` and `.weeks` and
a line's, `attributes.NAME.values`, `buying.rate_after`) is one value and
is replaced whole, since merging two distributions would give one that adds up to neither.
Included files may include others; a cycle is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from ..core.files import beside
from ..core.names import did_you_mean
from .model import Market, MarketError, read_toml

__all__ = ["resolve_market"]

_MARKET_FILE_TABLES = ["market", "simulation"]


def resolve_market(path: Path, data: dict) -> tuple[dict, dict[str, str]]:
    """The `[market]` table of the scenario file `path` (already read as `data`), with its
    includes merged in, and for each dotted key (`market.buying.r`) the file that wrote it.

    Raises `MarketError` for an include that cannot be followed, placed on the `include` line,
    and for an included file that cannot be read, placed in that file.
    """
    return _market(path, data, (path.resolve(),))


def _market(path: Path, data: dict, chain: tuple[Path, ...]) -> tuple[dict, dict[str, str]]:
    raw = data.get("market", {})
    if not isinstance(raw, dict):
        hint = (
            f'; to use a market file, write `[market]` and then `include = "{raw}"`'
            if isinstance(raw, str)
            else ""
        )
        raise MarketError(str(path), [("market", "expected a table of market keys" + hint)])
    own = dict(raw)
    include = own.pop("include", None)
    origins: dict[str, str] = {}
    _record(own, "market", str(path), origins)
    if include is None:
        return own, origins
    target = _include_target(path, include, chain)
    included = read_toml(target)  # a syntax error is placed in the included file
    unknown = [key for key in included if key not in _MARKET_FILE_TABLES]
    if unknown:
        raise MarketError(
            str(target),
            [
                (
                    key,
                    "a market file holds only `[market]` tables"
                    + (
                        f" (write `[market.{key}]`)"
                        if key in Market.model_fields
                        else did_you_mean(key, _MARKET_FILE_TABLES)
                    ),
                )
                for key in unknown
            ],
        )
    base, base_origins = _market(target, included, (*chain, target.resolve()))
    return _merge(base, own, Market), {**base_origins, **origins}


def _include_target(path: Path, include: Any, chain: tuple[Path, ...]) -> Path:
    if not isinstance(include, str) or not include.strip():
        raise MarketError(
            str(path),
            [("market.include", "expected a market file's name (text), relative to this file")],
        )
    target = Path(include)
    if not target.is_absolute():
        target = beside(path, target)
    try:  # a name the file system refuses (a NUL byte, too long) is a problem of the key
        resolved = target.resolve()
        is_file, is_dir = target.is_file(), target.is_dir()
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MarketError(
            str(path), [("market.include", f"cannot use {include!r} as a file name: {reason}")]
        ) from None
    if resolved in chain:
        names = " -> ".join(str(p) for p in (*chain, resolved))
        raise MarketError(str(path), [("market.include", f"an include cycle: {names}")])
    if is_dir:
        raise MarketError(
            str(path), [("market.include", f"{target} is a folder: name a market file in it")]
        )
    if not is_file:
        raise MarketError(
            str(path),
            [("market.include", f"no such market file: {target}")],
        )
    return target


def _record(table: dict, prefix: str, file: str, origins: dict[str, str]) -> None:
    origins[prefix] = file
    for key, value in table.items():
        if isinstance(value, dict):
            _record(value, f"{prefix}.{key}", file, origins)
        else:
            origins[f"{prefix}.{key}"] = file


class _Named:
    """A table of named entries (stages, channels, products), each a `model` table."""

    def __init__(self, model: type[BaseModel]):
        self.model = model


def _inner(table: type[BaseModel] | _Named, key: str) -> type[BaseModel] | _Named | None:
    """What the value under `key` is, when it is a table to merge; None for a value."""
    if isinstance(table, _Named):
        return table.model
    field = table.model_fields.get(key)
    if field is None:
        return None  # an unknown key: replaced, and reported when the market is validated
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is dict:
        value = get_args(annotation)[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return _Named(value)
    return None


def _merge(base: dict, over: dict, table: type[BaseModel] | _Named) -> dict:
    out = dict(base)
    for key, value in over.items():
        inner = _inner(table, key)
        if inner is not None and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, inner)
        else:
            out[key] = value
    return out
