"""A spec analysed: parsed, checked and, when it has no errors, compiled; never raises.

`analyse` is what every tool above the compiler (the facade, the CLI, the language server,
policy tests) starts from: the diagnostics of every file and, when there are no errors, the
policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..checker import check
from ..core.diagnostics import Diagnostic, has_errors
from ..core.source import Source
from ..language import syntax as s
from ..language.loader import Spec, load_path, load_text
from ..language.symbols import Symbols
from .compiler import compile_spec
from .policy import Policy

__all__ = ["Analysis", "analyse", "analyse_text", "is_module"]


@dataclass(frozen=True)
class Analysis:
    """A spec after parsing and checking: its diagnostics and, when it has no errors, its policy."""

    spec: Spec
    diagnostics: tuple[Diagnostic, ...]
    policy: Policy | None
    module: bool = False  # a file with no `program`: shared definitions that specs `use`

    @property
    def sources(self) -> dict[str, Source]:
        return self.spec.sources

    def failed(self, strict: bool = False) -> bool:
        """True when there are errors (or, with `strict`, warnings)."""
        return has_errors(self.diagnostics, strict)


def is_module(spec: Spec) -> bool:
    """A file without a `program` declaration is a module of shared definitions, not a spec."""
    root = spec.root_file
    return root is not None and not any(isinstance(i, s.Program) for i in root.items)


def _analyse(spec: Spec, compile_policy: bool, allow_module: bool = False) -> Analysis:
    diagnostics = list(spec.diagnostics)
    policy = None
    if allow_module and spec.ok and is_module(spec):
        # A module alone: its values, ranges, roles and duplicates are checked here; names
        # it does not declare are checked through the specs that use it.
        diagnostics.extend(check(spec, Symbols.from_spec(spec), module=True))
        diagnostics.sort(key=Diagnostic.sort_key)
        return Analysis(spec, tuple(diagnostics), None, module=True)
    if spec.ok:
        symbols = Symbols.from_spec(spec)
        diagnostics.extend(check(spec, symbols))
        if compile_policy and not has_errors(diagnostics):
            policy = compile_spec(spec, symbols)
    diagnostics.sort(key=Diagnostic.sort_key)
    return Analysis(spec, tuple(diagnostics), policy)


def analyse(path: str | Path, compile_policy: bool = True, allow_module: bool = False) -> Analysis:
    """Parse, check and (when there are no errors) compile the spec at `path`. Never raises.

    With `allow_module`, a file with no `program` is taken as a module: checked, but not
    for names it leaves to the specs that use it, and never compiled.
    """
    return _analyse(load_path(path), compile_policy, allow_module)


def analyse_text(
    text: str, name: str = "<string>", compile_policy: bool = True, allow_module: bool = False
) -> Analysis:
    """`analyse` for a spec given as text (an editor's unsaved buffer, say).

    `use` paths resolve against the folder of `name` when it is a path, else the current one.
    """
    return _analyse(load_text(text, name), compile_policy, allow_module)
