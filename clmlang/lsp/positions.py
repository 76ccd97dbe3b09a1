"""Character offsets in a text and editor positions: 0-based line, column in code units.

`Span` columns count code points; LSP clients count UTF-16 code units unless they agree on
UTF-8 or UTF-32 at initialisation. A non-BMP character (an emoji in a message text) is one
code point but two UTF-16 units, so every position sent or read goes through here.

The code units are counted by pygls's `PositionCodec`. The lines are counted here, on `\n`
only, as LSP and clmlang's own spans do: pygls splits lines with `str.splitlines`, which
also breaks at U+2028, form feeds and other separators that may sit in a message text.
"""

from __future__ import annotations

from bisect import bisect_right

from pygls.workspace import PositionCodec

__all__ = ["Positions"]


class Positions:
    """Converts between offsets in `text` and (line, character) in `encoding` code units."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.codec = PositionCodec(encoding)  # an unknown encoding counts UTF-16
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        self._starts = starts

    def _units(self, piece: str) -> int:
        return len(piece) if piece.isascii() else self.codec.client_num_units(piece)

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
