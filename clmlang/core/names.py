""" "Did you mean": the closest known name to a misspelt one, for every hint that offers one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean", "suggest"]


def closest(name: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name closest to `name` (difflib's ratio at least `cutoff`), or None."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def suggest(name: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """A hint, "did you mean `x`?", or None when nothing is close."""
    match = closest(name, known, cutoff)
    return f"did you mean `{match}`?" if match is not None else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """The same hint to append to a message, " (did you mean `x`?)", or ""."""
    hint = suggest(name, known)
    return f" ({hint})" if hint else ""
