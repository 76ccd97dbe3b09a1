"""Character offsets in a text and editor positions: 0-based line, column in code units.

`Span` columns count code points; LSP clients count UTF-16 code units unless they agree on
UTF-8 or UTF-32 at initialisation. A non-BMP character (an emoji in a message text) is one
code point but two UTF-16 units, so every position sent or read goes through here.
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["Positions"]

_WIDTH = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}
_UNIT = {"utf-8": 1, "utf-16": 2, "utf-32": 4}


class Positions:
    """Converts between offsets in `text` and (line, character) in `encoding` code units."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = encoding if encoding in _WIDTH else "utf-16"
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        self._starts = starts

    def _units(self, piece: str) -> int:
        if self.encoding == "utf-32":
            return len(piece)
        if piece.isascii():
            return len(piece)
        return (
            len(piece.encode(_WIDTH[self.encoding], errors="surrogatepass")) // _UNIT[self.encoding]
        )

    def position(self, offset: int) -> tuple[int, int]:
        """The (line, character) of a character offset; out-of-range offsets are clamped."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self._starts, offset) - 1
        return line, self._units(self.text[self._starts[line] : offset])

    def offset(self, line: int, character: int) -> int:
        """The character offset of a (line, character); past a line's end, its end."""
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self.text)
        begin = self._starts[line]
        end = self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)
        units = 0
        for index in range(begin, end):
            if units >= character:
                return index
            units += self._units(self.text[index])
        return end
