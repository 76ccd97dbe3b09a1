"""What every market table shares: frozen, no unknown keys, finite numbers of sane size."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["LARGEST", "Share"]

# No market figure is near this large (calibration on very little data can reach 1e15);
# beyond it, products of a few figures overflow a float.
LARGEST = 1e100


class _Model(BaseModel):
    # every float is finite: `inf` passes `ge=0` and `gt=0` and would simulate nonsense
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _not_huge(cls, value: object) -> object:
        numbers = value.values() if isinstance(value, dict) else (value,)
        if any(isinstance(v, float) and abs(v) > LARGEST for v in numbers):
            raise ValueError(f"at most {LARGEST:g} in size")
        return value


Share = Field(ge=0.0, le=1.0)
