"""What-if scenario files (`simulations/*.toml`): a base, variants, sweeps, replications.

    [simulation]
    spec = "../specs/clinic.clm"   # relative to the scenario file
    customers = 20000
    days = 365
    seed = 1
    replications = 20

    [market]                       # the market model (docs/model.md)
    include = "markets/clinic.toml"  # optional: a market file, these keys win over its own

    [[variant]]                    # another spec, or overrides of the base
    name = "45-day reminder"
    set = { "rule.keep_rhythm.when" = "days_since_purchase >= 45 days" }

    [[sweep]]                      # one value over a list: a response curve
    key = "cap.sms.limit"
    values = [1, 2, 3, 4]

Every scenario file serves both `clm run` (every variant, replicated) and `clm simulate`
(the base, or one variant, once). Errors name the file, the key and what was expected
(`MarketError`, shown as CLM200), in the included market file when the key was written there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.files import beside
from ..core.names import did_you_mean
from .includes import resolve_market
from .model import (
    MAX_CUSTOMERS,
    MAX_DAYS,
    MAX_REPLICATIONS,
    Market,
    MarketError,
    market_from_mapping,
    read_toml,
)

SCHEDULER_ENV = "CLM_SCHEDULER"  # the Dask scheduler to run replications on, when not given

__all__ = [
    "Scenario",
    "ScenarioSettings",
    "Settings",
    "Sweep",
    "Variant",
    "load_market",
    "load_scenario",
    "load_scenario_file",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScenarioSettings(_Model):
    """The `[simulation]` table."""

    spec: str | None = None
    customers: int = Field(default=10_000, ge=1, le=MAX_CUSTOMERS)
    days: int = Field(default=365, ge=1, le=MAX_DAYS)
    seed: int = Field(default=0, ge=0, lt=2**63)
    replications: int = Field(default=1, ge=1, le=MAX_REPLICATIONS)
    # split each run's customers across workers
    shards: int = Field(default=1, ge=1, le=MAX_REPLICATIONS)


class Variant(_Model):
    """A variant: another spec, and/or overrides of values in the spec or the market."""

    name: str = Field(min_length=1)
    spec: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)


class Sweep(_Model):
    """One value varied over a list; each value becomes a variant named `key=value`."""

    key: str = Field(min_length=1)
    values: list[Any] = Field(min_length=1)
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.key


class Scenario(_Model):
    path: str  # where it was read from ("<scenario>" when built in Python)
    settings: ScenarioSettings
    market: Market
    variants: tuple[Variant, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    origins: dict[str, str] = Field(default_factory=dict)  # market key -> the file it is in

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        names = [v.name for v in self.all_variants()]
        seen = set()
        for name in names:
            if name in seen:
                raise ValueError(f"two variants are named `{name}`")
            seen.add(name)
        return self

    def all_variants(self) -> list[Variant]:
        """The base, the variants, then one variant per sweep value, in that order."""
        found = [Variant(name="base")]
        found.extend(self.variants)
        for sweep in self.sweeps:
            found.extend(
                Variant(name=f"{sweep.label}={value}", set={sweep.key: value})
                for value in sweep.values
            )
        return found

    def variant(self, name: str) -> Variant:
        """The variant (or sweep value, or `base`) called `name`; a `KeyError` names the
        closest when there is none."""
        found = {v.name: v for v in self.all_variants()}
        if name not in found:
            known = ", ".join(f"`{n}`" for n in found)
            raise KeyError(
                f"no variant `{name}`{did_you_mean(name, list(found))}; the file has {known}"
            )
        return found[name]

    def with_spec(self, spec: str | Path) -> Scenario:
        """The scenario with another base spec (a path from the current folder)."""
        settings = self.settings.model_copy(update={"spec": str(Path(spec).absolute())})
        return self.model_copy(update={"settings": settings})

    def check_names(self, market: Market, policy: object) -> None:
        """Raise `MarketError` for names in `market` the policy does not declare, each placed
        in the file (this one or an included market file) that wrote it."""
        problems = market.problems(policy)
        if problems:
            raise MarketError(self.path, problems, self.origins)

    def spec_path(self, variant: Variant) -> Path:
        raw = variant.spec or self.settings.spec
        if raw is None:
            raise MarketError(
                self.path,
                [("simulation.spec", 'no spec: say which .clm to run (`spec = "PATH"`)')],
            )
        path = Path(raw)
        if not path.is_absolute() and self.path != "<scenario>":
            path = beside(Path(self.path), path)
        try:
            found = path.is_file()
        except (OSError, ValueError):  # a name the file system refuses (NUL, too long)
            found = False
        if not found:
            index = next((i for i, v in enumerate(self.variants) if v is variant), None)
            key = (
                "simulation.spec" if not variant.spec or index is None else f"variant.{index}.spec"
            )
            raise MarketError(self.path, [(key, f"no such file: {path}")])
        return path


_TABLES = ["simulation", "market", "variant", "sweep"]


def load_scenario_file(path: str | Path, policy: object | None = None) -> Scenario:
    """Read and validate a scenario file; every problem is reported with its key. `policy`:
    the spec it will run, when known: a file with other problems also has its names that the
    spec does not declare reported with them (else they come only once the rest is right)."""
    path = Path(path)
    data = read_toml(path)
    problems: list[tuple[str, str]] = []
    for key in data:
        if key not in _TABLES:
            problems.append((key, "unknown table" + did_you_mean(key, _TABLES)))

    def validate(model: type[BaseModel], value: object, prefix: str) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as error:
            for e in error.errors():
                loc = ".".join(str(p) for p in e["loc"])
                message = e["msg"]
                if e["type"] == "extra_forbidden":
                    message = "unknown key" + did_you_mean(
                        str(e["loc"][-1]), list(model.model_fields)
                    )
                problems.append((f"{prefix}.{loc}" if loc else prefix, message))
            return None

    settings = validate(ScenarioSettings, data.get("simulation", {}), "simulation")
    origins: dict[str, str] = {}
    market = None
    try:
        table, origins = resolve_market(path, data)
        market = market_from_mapping(table, str(path))
    except MarketError as error:
        if error.source != str(path):  # in an included file: its own place, its own problems
            raise
        problems.extend(error.problems)
    variants = [
        validate(Variant, v, f"variant.{i}") for i, v in enumerate(_list(data, "variant", problems))
    ]
    sweeps = [
        validate(Sweep, s, f"sweep.{i}") for i, s in enumerate(_list(data, "sweep", problems))
    ]
    if problems:
        if policy is not None and isinstance(data.get("market"), dict):
            problems.extend(_undeclared(data["market"], policy))
        raise MarketError(str(path), problems, origins)
    try:
        return Scenario(
            path=str(path),
            settings=settings,
            market=market,
            variants=tuple(variants),
            sweeps=tuple(sweeps),
            origins=origins,
        )
    except ValidationError as error:
        raise MarketError(str(path), [("variant", e["msg"]) for e in error.errors()]) from None


def _undeclared(table: dict, policy: Any) -> list[tuple[str, str]]:
    """The names of a market table as written (not validated) that `policy` does not
    declare, as `Market.problems` words them."""
    known = {
        "stages": [s.name for s in policy.stages],
        "channels": [c.name for c in policy.channels],
        "products": [p.name for p in policy.products],
        "lines": list(policy.lines),
        "attributes": [a.name for a in policy.attributes],
        "events": [e.name for e in policy.events],
    }
    found = []
    for kind, names in known.items():
        given = table.get(kind)
        for name in given if isinstance(given, dict) else ():
            if name not in names:
                what = "the spec declares no such name" + did_you_mean(name, names)
                found.append((f"market.{kind}.{name}", what))
    return found


def _list(data: dict, key: str, problems: list[tuple[str, str]]) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append((key, f"write `[[{key}]]` tables, one per {key}"))
        return []
    return value


class Settings(BaseModel):
    """A scenario file's `[simulation]` table: run settings the command line may override."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customers: int = Field(default=10_000, ge=1, le=MAX_CUSTOMERS)
    days: int = Field(default=365, ge=1, le=MAX_DAYS)
    seed: int = Field(default=0, ge=0, lt=2**63)


def load_scenario(path: str | Path) -> tuple[Settings, Market]:
    """A scenario file's run settings and market (its includes merged): the part of
    `scenario.load_scenario_file` that one simulation needs. Any scenario file is accepted;
    its spec, replications, variants and sweeps are left to `load_scenario_file`."""
    scenario = load_scenario_file(path)
    given = scenario.settings
    settings = Settings(customers=given.customers, days=given.days, seed=given.seed)
    return settings, scenario.market


def load_market(path: str | Path) -> Market:
    """The market of a scenario file (its `[market]` table)."""
    return load_scenario(path)[1]
