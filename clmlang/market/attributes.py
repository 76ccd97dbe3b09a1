"""How a custom attribute is drawn on day 0, and how it changes during the run.

Drawn once (the defaults, as before): dates within `days` before day 0, numbers normal(mean,
sd), flags true with chance `share`, text one of `values`. Changes, each off unless its key is
given (docs/model.md, "Attributes"): a number grows at a rate drawn per customer (`growth`);
a flag switches at a hazard (`hazard`, and back at `hazard_back`); a text value is redrawn from
`targets` at a hazard; a date lies ahead of day 0 (`ahead_days`, or a `from`/`to` window), and
only a `share` of customers have one.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..compile.policy import Policy
from .fields import _Model

__all__ = ["AttributeModel", "Growth", "attribute_problems"]

# a window of dates around day 0 is within a century either way
MAX_OFFSET = 36_525.0
PAST_DAYS = 365.25 * 3  # dates before day 0: within three years


class Growth(_Model):
    """A number's growth per day, drawn per customer: normal(mean, sd), negative draws 0."""

    mean: float = 0.0
    sd: float = Field(default=0.0, ge=0)


class AttributeModel(_Model):
    """How a custom attribute is drawn, and how it changes (see the module's docstring)."""

    model_config = ConfigDict(populate_by_name=True)

    days: float | None = Field(default=None, gt=0)  # None: three years
    mean: float | None = None
    sd: float = Field(default=0.0, ge=0)
    share: float | None = Field(default=None, ge=0, le=1)
    values: dict[str, float] = Field(default_factory=dict)
    growth: Growth | None = None
    hazard: float | None = Field(default=None, ge=0)
    hazard_back: float = Field(default=0.0, ge=0)
    targets: dict[str, float] = Field(default_factory=dict)
    ahead_days: float | None = Field(default=None, gt=0, le=MAX_OFFSET)
    from_day: float | None = Field(default=None, alias="from", ge=-MAX_OFFSET, le=MAX_OFFSET)
    to_day: float | None = Field(default=None, alias="to", ge=-MAX_OFFSET, le=MAX_OFFSET)

    @field_validator("growth", mode="before")
    @classmethod
    def _growth_table(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"a table: `growth = {{ mean = {value:g}, sd = 0 }}` (per day)")
        return value

    @field_validator("values")
    @classmethod
    def _shares(cls, values: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in values.values()):
            raise ValueError("values: shares must not be negative")
        if sum(values.values()) > 1.0 + 1e-6:
            raise ValueError("values: shares add up to more than 1")
        return values

    @field_validator("targets")
    @classmethod
    def _weights(cls, targets: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in targets.values()):
            raise ValueError("targets: weights must not be negative")
        if targets and sum(targets.values()) <= 0:
            raise ValueError("targets: at least one weight must be positive")
        return targets

    @model_validator(mode="after")
    def _window(self) -> AttributeModel:
        if (self.from_day is None) != (self.to_day is None):
            raise ValueError("a window of dates needs both `from` and `to`")
        if self.from_day is not None and self.to_day is not None:
            if self.to_day <= self.from_day:
                raise ValueError("`to` must come after `from`")
            if self.ahead_days is not None:
                raise ValueError("give `ahead_days` or a `from`/`to` window, not both")
        if self.window is not None and self.days is not None:
            raise ValueError("`days` is for dates before day 0: give it or a window ahead")
        return self

    @property
    def past_days(self) -> float:
        """How far before day 0 dates are drawn, when they are not drawn ahead."""
        return self.days if self.days is not None else PAST_DAYS

    @property
    def window(self) -> tuple[float, float] | None:
        """The days (relative to day 0) dates are drawn from, when not the default past."""
        if self.ahead_days is not None:
            return 0.0, self.ahead_days
        if self.from_day is not None and self.to_day is not None:
            return self.from_day, self.to_day
        return None

    @property
    def switches(self) -> bool:
        """Whether the value switches at a hazard during the run."""
        return bool(self.hazard) or self.hazard_back > 0

    def flag_share(self) -> float:
        """The share of flags true on day 0: `share`, else 0 when the flag switches on at a
        hazard (the need appears during the run), else one half."""
        if self.share is not None:
            return self.share
        return 0.0 if self.hazard else 0.5


# the keys of each kind of change, and the attribute types they are for
_KEYS_FOR = {
    "growth": ("number", "money"),
    "hazard": ("flag", "text"),
    "hazard_back": ("flag",),
    "targets": ("text",),
    "ahead_days": ("date",),
    "from": ("date",),
    "to": ("date",),
}


def attribute_problems(
    attributes: dict[str, AttributeModel], policy: Policy
) -> list[tuple[str, str]]:
    """Keys given for an attribute of a type they do not apply to, and a text hazard with
    nothing to switch to."""
    types = {a.name: a.type for a in policy.attributes}
    found = []
    for name, model in attributes.items():
        kind = types.get(name)
        if kind is None:
            continue  # reported as an unknown name
        # keys with a value other than their default (a variant's override sets them all)
        values = model.model_dump(by_alias=True)
        defaults = AttributeModel().model_dump(by_alias=True)
        given = {key for key in _KEYS_FOR if values[key] != defaults[key]}
        for key in sorted(given):
            if kind not in _KEYS_FOR[key]:
                found.append(
                    (
                        f"market.attributes.{name}.{key}",
                        f"`{key}` is for {' and '.join(_KEYS_FOR[key])} attributes; "
                        f"`{name}` is a {kind}",
                    )
                )
        if kind == "text" and model.hazard and not (model.targets or model.values):
            found.append(
                (
                    f"market.attributes.{name}.hazard",
                    "a text that switches needs `targets` (or `values`) to switch to",
                )
            )
    return found
