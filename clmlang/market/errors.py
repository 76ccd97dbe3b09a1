"""Errors in a scenario file's market, placed on the lines where the keys are written.

A `MarketError` carries `(key, message)` pairs, as pydantic and the loaders report them; its
`diagnostics()` finds each dotted key in the TOML text (tables, keys, inline overrides) so
the command line can show the line with a caret, as it does for specs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Source

__all__ = ["MarketError", "read_toml"]


_SCENARIO_HINT = (
    "see docs/scenarios.md for scenario files and overrides, docs/model.md for every market key"
    " and its default"
)
# test files (`clm test`) are read and reported the same way
_TEST_FILE_HINT = "see docs/testing.md for test files: examples, invariants, forecasts"


class MarketError(Exception):
    """A scenario file or mapping that does not describe a valid market.

    `problems` lists `(key, message)` pairs; `str()` names the file, the key and what was
    expected, one line each. `origins` maps dotted keys to the file that wrote them, when a
    market was merged from included files (`includes.py`); other keys are in `source`.
    """

    def __init__(
        self,
        source: str,
        problems: list[tuple[str, str]],
        origins: dict[str, str] | None = None,
    ):
        self.source = source
        self.problems = problems
        self.origins = dict(origins or {})
        super().__init__(
            "\n".join(f"{self.file_of(key)}: {key}: {message}" for key, message in problems)
        )

    def file_of(self, key: str) -> str:
        """The file where `key` (or the nearest table above it) was written."""
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:n]))
            if found is not None:
                return found
        return self.source

    def diagnostics(self) -> tuple[list[Diagnostic], dict[str, Source]]:
        """The problems as diagnostics (code CLM200) placed on the scenario file's lines."""
        sources: dict[str, Source] = {}
        found = []
        for key, message in self.problems:
            file = self.file_of(key)
            if file not in sources:
                try:
                    text = Path(file).read_text(encoding="utf-8-sig")
                except (OSError, UnicodeDecodeError):
                    text = ""
                sources[file] = Source(file, text)
            source = sources[file]
            text = source.text
            line, column = _locate(text, key, message)
            offset = source.offset(line, column)
            written = key.rsplit(" ", 1)[-1]
            width = (
                len(written) if text.startswith(written, offset) else len(key.rsplit(".", 1)[-1])
            )
            span = source.span(offset, offset + max(1, width))
            hint = _TEST_FILE_HINT if file.endswith(".test.toml") else _SCENARIO_HINT
            found.append(Diagnostic("CLM200", Severity.ERROR, f"{key}: {message}", span, hint))
        return found, sources or {self.source: Source(self.source, "")}


_SYNTAX_PLACE = re.compile(r"at line (\d+), column (\d+)")


def _indexed(table: str, array: bool, arrays: dict[str, int]) -> str:
    """`forecast.0` for the first `[[forecast]]`, `replay.1.invariant` for a table under the
    second `[[replay]]`: the dotted keys validation errors use."""
    if array:
        arrays[table] = arrays.get(table, -1) + 1
        return f"{table}.{arrays[table]}"
    head, _, rest = table.partition(".")
    if head in arrays and rest:
        return f"{head}.{arrays[head]}.{rest}"
    return table


def _locate(text: str, key: str, message: str) -> tuple[int, int]:
    """The (line, column) where a dotted key is written in TOML text; (1, 1) if nowhere."""
    place = _SYNTAX_PLACE.search(message)
    if key == "(syntax)" and place:
        return int(place.group(1)), int(place.group(2))
    table = ""
    best = (0, 1, 1)
    arrays: dict[str, int] = {}  # `[[forecast]]` tables: pydantic counts them from 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("["):
            table = _indexed(line.strip("[] ").replace('"', ""), line.startswith("[["), arrays)
            full = table
            column = raw.index("[") + 1
            if key == full and "." in full:  # the caret under `regulr` in [a.b.regulr]
                column = _last_name(raw) or column
        elif "=" in line and not line.startswith("#"):
            name = line.split("=", 1)[0].strip().replace('"', "")
            full = f"{table}.{name}" if table else name
            column = raw.index(line[0]) + 1
        else:
            continue
        if key == full or key.startswith(full + "."):
            depth = full.count(".") + 1
            if depth > best[0]:
                best = (depth, number, column)
    if best[0] == 0:  # an override inside an inline table: find the key as written
        written = key.rsplit(" ", 1)[-1]
        for number, raw in enumerate(text.splitlines(), start=1):
            at = raw.find(f'"{written}"')
            if at >= 0:
                return number, at + 2
    return best[1], best[2]


def _last_name(raw: str) -> int | None:
    """The column of the last dotted name of a table header line (`[market.stages.x]`)."""
    end = raw.find("]")
    last = raw[:end].strip("[ ").split(".")[-1].strip().strip('"')
    at = raw.rfind(last, 0, end) if last else -1
    return at + 1 if at >= 0 else None


def read_toml(path: Path) -> dict:
    """A TOML file's tables; a file that cannot be read or parsed is a `MarketError`."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is no key
    except OSError as error:
        raise MarketError(str(path), [("(file)", f"cannot read: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise MarketError(str(path), [("(file)", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as error:
        raise MarketError(str(path), [("(syntax)", str(error))]) from None
