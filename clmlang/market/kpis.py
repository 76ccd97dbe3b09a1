"""How the forecast measures, where the scenario may say: `[market.kpis]`."""

from __future__ import annotations

from pydantic import Field

from .fields import MAX_DAYS, _Model

__all__ = ["Kpis"]


class Kpis(_Model):
    """How the forecast measures: `churn_days`, the churn window (default: the spec's
    longest `goal return within N days`, else 90)."""

    churn_days: float | None = Field(default=None, gt=0, le=MAX_DAYS)
