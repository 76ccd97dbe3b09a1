"""The policy test file format: `NAME.test.toml` beside `NAME.clm` (docs/testing.md).

Examples (one customer), invariants (every customer), replays (a simulated population that
once broke an invariant) and forecast expectations, validated by pydantic; a bad file is a
`MarketError` naming each key, like a scenario file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.files import beside
from ..core.names import did_you_mean
from ..market.model import MAX_CUSTOMERS, MAX_DAYS, MAX_REPLICATIONS, MarketError, read_toml

__all__ = [
    "Example",
    "ForecastExpectation",
    "Invariant",
    "Replay",
    "TestFile",
    "TestFileError",
    "load_test_file",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Send(_Model):
    rule: str
    channel: str | None = None
    offer: str | None = None
    variant: str | None = None  # an A/B variant's name: its message is checked (else any's)


class Example(_Model):
    name: str
    customer: str | None = None
    history: list[dict[str, Any]] | None = None
    day: int | None = None
    audience: str | None = None
    stage: str | None = None
    fires: list[str] = Field(default_factory=list)
    not_fires: list[str] = Field(default_factory=list)
    sends: list[Send] = Field(default_factory=list)
    model_config = ConfigDict(frozen=True, extra="allow")  # date attributes: `birthday = 300`


INVARIANTS = [
    "max_messages",
    "one_stage",
    "no_message_when_unsubscribed",
    "holdout_gets_nothing",
    "max_discount",
    "fires_only_when",
]


class Invariant(_Model):
    kind: Literal[
        "max_messages",
        "one_stage",
        "no_message_when_unsubscribed",
        "holdout_gets_nothing",
        "max_discount",
        "fires_only_when",
    ]
    name: str | None = None
    limit: int | None = None
    days: float | None = None
    channel: str | None = None
    marketing_only: bool = True
    rule: str | None = None
    stage: str | None = None
    share: float | str | None = None
    when: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.kind


class ForecastExpectation(_Model):
    name: str | None = None
    scenario: str | None = None
    kpi: str
    at_least: float | None = None
    at_most: float | None = None
    replications: int = Field(default=3, ge=1, le=MAX_REPLICATIONS)
    customers: int | None = Field(default=None, ge=1, le=MAX_CUSTOMERS)
    days: int | None = Field(default=None, ge=1, le=MAX_DAYS)

    @property
    def label(self) -> str:
        """The name, or the expectation itself: `retention_90d >= 0.3`."""
        return (
            self.name
            or f"{self.kpi} {'>=' if self.at_least is not None else '<='} "
            f"{self.at_least if self.at_least is not None else self.at_most}"
        )


class Replay(_Model):
    """A simulated population that once broke an invariant, kept as a regression test."""

    name: str
    customers: int = Field(ge=1, le=MAX_CUSTOMERS)
    days: int = Field(default=120, ge=1, le=MAX_DAYS)
    seed: int = Field(default=0, ge=0)
    invariant: Invariant


class TestFile(_Model):
    path: str
    spec: str | None = None
    example: list[Example] = Field(default_factory=list)
    invariant: list[Invariant] = Field(default_factory=list)
    replay: list[Replay] = Field(default_factory=list)
    forecast: list[ForecastExpectation] = Field(default_factory=list)

    def spec_path(self) -> Path:
        here = Path(self.path)
        if self.spec:
            return beside(here, Path(self.spec))
        return here.with_name(here.name.removesuffix(".test.toml") + ".clm")


class TestFileError(MarketError):
    """A test file's problems, as a `MarketError` gives them, some placed exactly: `places`
    maps a key to the character offsets (start, end) of what is wrong in the file's text (a
    name inside an inline table: the dotted key alone finds only its line)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        source: str,
        problems: list[tuple[str, str]],
        places: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__(source, problems)
        self.places = dict(places or {})

    def diagnostics(self):
        found, sources = super().diagnostics()
        for i, (key, _) in enumerate(self.problems):
            source = sources.get(self.file_of(key))
            if key in self.places and source is not None and source.text:
                start, end = self.places[key]
                found[i] = replace(found[i], span=source.span(start, end))
        return found, sources


# the top-level tables of a scenario or market file (docs/scenarios.md), none a test file's
_SCENARIO_TABLES = ("simulation", "market", "variant", "sweep")


def load_test_file(path: str | Path) -> TestFile:
    data = read_toml(Path(path))
    tables = [key for key in data if key in _SCENARIO_TABLES]
    if tables and not set(data) & {"spec", "example", "invariant", "replay", "forecast"}:
        raise MarketError(  # one line, not an "unknown key" for each of its tables
            str(path),
            [
                (
                    tables[0],
                    "a scenario or market file's table, not a test file's (a test file has"
                    f" [[example]], [[invariant]], [[forecast]]): run a scenario with `clm run"
                    f" {path}`",
                )
            ],
        )
    try:
        return TestFile.model_validate({"path": str(path), **data})
    except ValidationError as error:
        problems = []
        for e in error.errors():
            key = ".".join(str(p) for p in e["loc"])
            message = e["msg"]
            if e["type"] == "extra_forbidden":
                message = "unknown key" + did_you_mean(
                    str(e["loc"][-1]),
                    [
                        "spec",
                        "example",
                        "invariant",
                        "forecast",
                        "name",
                        "customer",
                        "history",
                        "day",
                        "stage",
                        "fires",
                        "not_fires",
                        "sends",
                        "variant",
                        "kind",
                        "limit",
                        "days",
                        "channel",
                        "rule",
                        "share",
                        "when",
                        "scenario",
                        "kpi",
                        "at_least",
                        "at_most",
                    ],
                )
            problems.append((key, message))
        raise MarketError(str(path), problems) from None
