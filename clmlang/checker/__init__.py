"""The checker: every problem of a parsed spec as diagnostics, all at once.

Passes run in order, each in its own module: declarations (names, units, roles), rules
(references, flows, caps, cycles), analysis (stage overlaps and gaps, rules that can never
fire) and usage (definitions nothing uses). The checker never raises on a parsed spec.
"""

from __future__ import annotations

from ..core.diagnostics import Diagnostic
from ..language.loader import Spec
from ..language.symbols import Symbols
from .analysis import check_analysis
from .context import Context, name_cells
from .declarations import check_declarations
from .rules import check_rules
from .usage import check_usage

__all__ = ["check"]

PASSES = (check_declarations, check_rules, check_analysis, check_usage)
# What a module alone cannot answer: which stages cover every customer, what goes unused.
_WHOLE_SPEC_PASSES = (check_analysis, check_usage)


def check(spec: Spec, symbols: Symbols | None = None, module: bool = False) -> list[Diagnostic]:
    """Check a spec that parsed; return its diagnostics sorted by place.

    With `module`, `spec` is a module (no `program`) checked alone: everything it says is
    checked except names it does not declare (the specs that use it may), and what needs
    the whole spec (a program, stages covering every customer, definitions left unused).
    """
    ctx = Context(spec, symbols or Symbols.from_spec(spec), module=module)
    for run in PASSES:
        if module and run in _WHOLE_SPEC_PASSES:
            continue
        errors_before = sum(d.is_error for d in ctx.diagnostics)
        if run is check_analysis and errors_before:
            continue  # analysis needs names and units right; it would only add noise
        run(ctx)
    unique = list(dict.fromkeys(name_cells(ctx)))
    return sorted(unique, key=Diagnostic.sort_key)
