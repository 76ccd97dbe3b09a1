"""Leaves of the syntax tree: names, quantities with their units, ranges, comments."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ...core.source import Span

# ---- leaves ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier as written, with its place."""

    text: str
    span: Span = field(compare=False)

    def __str__(self) -> str:
        return self.text


class Unit(StrEnum):
    """The unit a number was written with. `NONE` is a bare number."""

    NONE = ""
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"
    PERCENT = "%"
    MONEY = "money"

    @property
    def is_duration(self) -> bool:
        return self in (Unit.DAYS, Unit.WEEKS, Unit.MONTHS, Unit.YEARS)


# Calendar-average lengths, so `6 months` is 182.6 days and `1 year` is 365.25 days.
DAYS_PER_UNIT = {Unit.DAYS: 1.0, Unit.WEEKS: 7.0, Unit.MONTHS: 30.4375, Unit.YEARS: 365.25}


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with the unit it was written with: `74 days`, `10%`, `4500 RUB`, `3`."""

    value: float
    unit: Unit
    span: Span = field(compare=False)
    text: str = ""  # the number as written, so the formatter keeps `4500` rather than `4500.0`
    currency: str | None = None  # for MONEY: the code written, e.g. "RUB"
    unit_text: str = ""  # the unit as written, e.g. "month" or "months"

    @property
    def days(self) -> float:
        """The value in days (durations only)."""
        return self.value * DAYS_PER_UNIT[self.unit]


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range `low..high`; a unit on `high` alone applies to both ends."""

    low: Quantity
    high: Quantity
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment, kept so the formatter can put it back."""

    text: str
    span: Span = field(compare=False)
