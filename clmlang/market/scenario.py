"""What-if scenario files (`simulations/*.toml`): a base, variants, sweeps, replications.

    [simulation]
    spec = "../specs/clinic.clm"   # relative to the scenario file
    customers = 20000
    days = 365
    seed = 1
    replications = 20

    [market]                       # the market model (docs/model.md)

    [[variant]]                    # another spec, or overrides of the base
    name = "45-day reminder"
    set = { "rule.keep_rhythm.when" = "days_since_purchase >= 45 days" }

    [[sweep]]                      # one value over a list: a response curve
    key = "cap.sms.limit"
    values = [1, 2, 3, 4]

Errors name the file, the key and what was expected (`MarketError`, shown as CLM200).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.names import did_you_mean
from .model import Market, MarketError, market_from_mapping, read_toml

SCHEDULER_ENV = "CLM_SCHEDULER"  # the Dask scheduler to run replications on, when not given

__all__ = ["Scenario", "ScenarioSettings", "Sweep", "Variant", "load_scenario_file"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScenarioSettings(_Model):
    """The `[simulation]` table."""

    spec: str | None = None
    customers: int = Field(default=10_000, ge=1)
    days: int = Field(default=365, ge=1)
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=1, ge=1)
    shards: int = Field(default=1, ge=1)  # split each run's customers across workers


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

    def spec_path(self, variant: Variant) -> Path:
        raw = variant.spec or self.settings.spec
        if raw is None:
            raise MarketError(self.path, [("simulation.spec", "no spec: say which .clm to run")])
        path = Path(raw)
        if not path.is_absolute() and self.path != "<scenario>":
            path = Path(self.path).parent / path
        return path


_TABLES = ["simulation", "market", "variant", "sweep"]


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every problem is reported with its key."""
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
    try:
        market = market_from_mapping(data.get("market", {}), str(path))
    except MarketError as error:
        problems.extend(error.problems)
        market = None
    variants = [
        validate(Variant, v, f"variant.{i}") for i, v in enumerate(_list(data, "variant", problems))
    ]
    sweeps = [
        validate(Sweep, s, f"sweep.{i}") for i, s in enumerate(_list(data, "sweep", problems))
    ]
    if problems:
        raise MarketError(str(path), problems)
    try:
        return Scenario(
            path=str(path),
            settings=settings,
            market=market,
            variants=tuple(variants),
            sweeps=tuple(sweeps),
        )
    except ValidationError as error:
        raise MarketError(str(path), [("variant", e["msg"]) for e in error.errors()]) from None


def _list(data: dict, key: str, problems: list[tuple[str, str]]) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append((key, f"write `[[{key}]]` tables, one per {key}"))
        return []
    return value
