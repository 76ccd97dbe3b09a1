"""Source text and positions in it.

Every syntax node, diagnostic and compiled policy item points back at a `Span`, so an
error, a trace line or a failed invariant can show the `.clm` line it came from.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Source", "Span", "decode"]


def decode(data: bytes) -> str:
    """A file's bytes as UTF-8 text; undecodable bytes become U+FFFD (so the parser can point
    at them), and a leading byte order mark, which Windows editors write and no editor shows,
    is dropped."""
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range in one file, with 1-based line and column of both ends."""

    file: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to_dict(self) -> dict[str, int | str]:
        """A JSON-friendly form, the one used by `--format json` and the compiled policy."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True)
class Source:
    """The text of one `.clm` file and the name it is reported under."""

    name: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    @classmethod
    def from_path(cls, path: str | Path) -> Source:
        """Read a file as UTF-8 (`decode`)."""
        return cls(str(path), decode(Path(path).read_bytes()))

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def offset(self, line: int, column: int) -> int:
        """The character offset of a 1-based (line, column); past the end, the end."""
        if line < 1 or line > len(self._line_starts):
            return len(self.text)
        return min(self._line_starts[line - 1] + column - 1, len(self.text))

    def span(self, start: int, end: int) -> Span:
        """The span of characters `start..end` in this file."""
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(self.name, start, end, line, column, end_line, end_column)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        begin = self._line_starts[line - 1]
        stop = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[begin:stop].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._line_starts)
