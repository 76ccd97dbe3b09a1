"""Demand: what customers buy. A product's weight (overall and per audience), the calendar
that scales it (months and weeks of the year, for a product or a whole line), and how long a
durable product is kept before its owner may buy it again (docs/model.md, "Demand")."""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydantic import Field, field_validator

from .fields import _Model

__all__ = ["LineDemand", "ProductDemand", "Seasonal", "calendar"]


def _multipliers(kind: str, last: int, given: dict[int, float]) -> dict[int, float]:
    if any(not 1 <= k <= last for k in given):
        bad = next(k for k in given if not 1 <= k <= last)
        raise ValueError(f"{kind} are numbered 1 to {last}, not {bad}")
    if any(v < 0 for v in given.values()):
        raise ValueError(f"{kind}: multipliers must not be negative")
    return given


def calendar(start_date: str, days: int) -> tuple[np.ndarray, np.ndarray]:
    """The month (1-12) and ISO week (1-53) of each day 0 .. days - 1, day 0 being
    `start_date`."""
    start = dt.date.fromisoformat(start_date)
    months = np.empty(days, dtype=np.int64)
    weeks = np.empty(days, dtype=np.int64)
    for d in range(days):
        day = start + dt.timedelta(days=d)
        months[d], weeks[d] = day.month, day.isocalendar()[1]
    return months, weeks


class Seasonal(_Model):
    """Multipliers on the purchase rate by calendar month (1-12) and ISO week of the year
    (1-53); a month or week left out is 1. Both apply when both are given (x month x week)."""

    months: dict[int, float] = Field(default_factory=dict)
    weeks: dict[int, float] = Field(default_factory=dict)

    @field_validator("months")
    @classmethod
    def _months(cls, months: dict[int, float]) -> dict[int, float]:
        return _multipliers("months", 12, months)

    @field_validator("weeks")
    @classmethod
    def _weeks(cls, weeks: dict[int, float]) -> dict[int, float]:
        return _multipliers("weeks", 53, weeks)

    @property
    def seasonal(self) -> bool:
        return bool(self.months or self.weeks)

    def days_of(self, start_date: str, days: int) -> float:
        """The sum of the multipliers over days 0 .. days - 1: how many plain days of the rate
        the run holds (`days` without a calendar)."""
        return float(self.by_day(start_date, days).sum()) if self.seasonal else float(days)

    def by_day(self, start_date: str, days: int) -> np.ndarray:
        """The multiplier of each day 0 .. days - 1 (the month's times the ISO week's), day 0
        being `start_date`."""
        months, weeks = calendar(start_date, days)
        out = np.ones(days)
        for d, (month, week) in enumerate(zip(months.tolist(), weeks.tolist(), strict=True)):
            out[d] = self.at(month, week)
        return out

    def at(self, month: int, week: int) -> float:
        """The multiplier of a day in `month` and ISO `week`."""
        return self.months.get(month, 1.0) * self.weeks.get(week, 1.0)


class LineDemand(Seasonal):
    """A product line: its calendar applies to every product of the line (times the
    product's own); `keep_days` makes its durable products one possession, kept that long
    (an owner of any buys none of them for `keep_days` after buying one)."""

    keep_days: float | None = Field(default=None, gt=0)


class ProductDemand(Seasonal):
    """A product's share of purchases: `weight`, a relative weight; `audiences`, the weight
    for an audience, which *replaces* `weight` for its customers; the calendar (`months`,
    `weeks`); `keep_days`, how long an owner keeps a durable product (no `every` cycle) before
    they may buy it again (none: not again in the run)."""

    weight: float | None = Field(default=None, ge=0)
    audiences: dict[str, float] = Field(default_factory=dict)
    keep_days: float | None = Field(default=None, gt=0)

    @field_validator("audiences")
    @classmethod
    def _weights(cls, audiences: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in audiences.values()):
            raise ValueError("audiences: weights must not be negative")
        return audiences
