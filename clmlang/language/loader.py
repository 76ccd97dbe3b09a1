"""Load a spec with the files it `use`s, in dependency order, detecting cycles.

`use "common/channels.clm"` is resolved relative to the file that says it. Each file is
parsed once even when used by several others; a cycle is an error (CLM010) that shows the
whole chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.diagnostics import Diagnostic, Related, Severity
from ..core.source import Source, decode
from . import syntax as s
from .grid import expand
from .parser import ParseResult, parse

__all__ = ["Spec", "load_path", "load_text"]


@dataclass(frozen=True)
class Spec:
    """A parsed spec: its own file and every file it uses, used files first."""

    root: str
    files: tuple[s.File, ...]
    sources: dict[str, Source] = field(compare=False)
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def items(self) -> Iterator[s.Item]:
        """Every declaration, used files first, each file in written order; a grid rule
        as the rules of its cells (language/grid.py)."""
        for file in self.files:
            for item in file.items:
                if isinstance(item, s.Rule) and item.grid is not None:
                    yield from expand(item)
                else:
                    yield item

    @property
    def root_file(self) -> s.File | None:
        return next((f for f in self.files if f.path == self.root), None)


# Parse results by (name, text): `clm check specs/` parses a shared file once, not once per
# spec that uses it. Syntax trees are immutable, so sharing them is safe.
_PARSED: dict[tuple[str, str], ParseResult] = {}
_PARSED_LIMIT = 256


def _parse_cached(source: Source) -> ParseResult:
    key = (source.name, source.text)
    result = _PARSED.get(key)
    if result is None:
        result = parse(source)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = result
    return result


class _Loader:
    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self.files: list[s.File] = []
        self.diagnostics: list[Diagnostic] = []
        self.done: set[str] = set()
        self.stack: list[tuple[str, s.Use | None]] = []

    def visit(self, source: Source, via: s.Use | None) -> None:
        self.stack.append((source.name, via))
        self.sources[source.name] = source
        # Only used files are cached: they are the ones many specs share.
        result = parse(source) if via is None else _parse_cached(source)
        self.diagnostics.extend(result.diagnostics)
        if result.file is not None:
            for item in result.file.items:
                if isinstance(item, s.Use):
                    self.visit_use(source, item)
            self.files.append(result.file)
        self.done.add(source.name)
        self.stack.pop()

    def visit_use(self, owner: Source, use: s.Use) -> None:
        base = Path(owner.name).parent if not owner.name.startswith("<") else Path.cwd()
        path = base / use.path
        key = str(path)
        if key in self.done:
            return
        names = [name for name, _ in self.stack]
        if key in names:
            chain = self.stack[names.index(key) :]
            related = tuple(
                Related(u.span, f"`{Path(n).name}` is used here") for n, u in chain[1:] if u
            )
            cycle = " -> ".join(Path(n).name for n, _ in chain) + f" -> {Path(key).name}"
            self.diagnostics.append(
                Diagnostic(
                    "CLM010",
                    Severity.ERROR,
                    f"`use` makes a cycle: {cycle}",
                    use.span,
                    "move what both files need into a third file that neither uses back",
                    related,
                )
            )
            return
        try:
            source = Source.from_path(path)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            self.diagnostics.append(
                Diagnostic(
                    "CLM005",
                    Severity.ERROR,
                    f"cannot read `{use.path}`: {reason}",
                    use.span,
                    f"the path is relative to {base or '.'}",
                )
            )
            return
        self.visit(source, use)


def _encoding_diagnostics(source: Source, data: bytes) -> list[Diagnostic]:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        start = len(decode(data[: error.start]))
        return [
            Diagnostic(
                "CLM003",
                Severity.ERROR,
                f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8",
                source.span(start, start + 1),
                "save the file as UTF-8",
            )
        ]
    return []


def load_path(path: str | Path) -> Spec:
    """Load a spec file and everything it uses. Problems come back as diagnostics."""
    loader = _Loader()
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        diagnostic = Diagnostic(
            "CLM005",
            Severity.ERROR,
            f"cannot read `{path}`: {error.strerror or type(error).__name__}",
            None,
            "check the path",
        )
        return Spec(str(path), (), {}, (diagnostic,))
    source = Source(str(path), decode(data))
    encoding = _encoding_diagnostics(source, data)
    if encoding:
        # Undecodable bytes make every later position doubtful: report them, parse nothing.
        return Spec(source.name, (), {source.name: source}, tuple(encoding))
    return _finish(loader, source)


def load_text(text: str, name: str = "<string>") -> Spec:
    """Load a spec given as text; `use` paths resolve against the current directory."""
    return _finish(_Loader(), Source(name, text))


def _finish(loader: _Loader, source: Source) -> Spec:
    loader.visit(source, None)
    ordered = sorted(loader.diagnostics, key=Diagnostic.sort_key)
    return Spec(source.name, tuple(loader.files), loader.sources, tuple(ordered))
