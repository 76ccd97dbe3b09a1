"""Stages and rules as sets of customers: overlaps, gaps, unreachable stages, dead rules.

Each claim comes with an example customer state. A found example is always a real witness;
"never" claims (an unreachable stage, a rule that can never fire) are only made when the
conditions involved have no arithmetic, so the state grid decides them exactly.
"""

from __future__ import annotations

import numpy as np

from ..core.diagnostics import Related
from ..language import syntax as s
from ..language.conditions import (
    Column,
    Compare,
    Const,
    Expr,
    Logic,
    LoweringError,
    lower,
    required_columns,
)
from .context import Context
from .states import Facts, StateGrid, is_exact
from .triggers import trigger_state

__all__ = ["check_analysis"]


def check_analysis(ctx: Context) -> None:
    """Check stages for overlaps, gaps and reachability, and rules for satisfiability."""
    sy = ctx.symbols
    try:
        stages = [(stage, lower(stage.condition, sy)) for stage in sy.stages.values()]
        rules = [(rule, _eligible(rule, ctx)) for rule in sy.rules.values()]
    except LoweringError:
        return  # the names pass reported why
    if not stages:
        return
    codes = {
        "stage": len(sy.stages),
        "previous_stage": len(sy.stages),
        "last_product": len(sy.products),
        "audience": len(sy.audiences),
    }
    names = {
        "stage": list(sy.stages),
        "previous_stage": list(sy.stages),
        "last_product": list(sy.products),
        "audience": list(sy.audiences),
    }
    facts = Facts(
        frozenset(f"attr:{n}" for n, a in sy.attributes.items() if a.type.text == "flag"),
        tuple((n, p.line.text if p.line else None) for n, p in sy.products.items()),
    )
    stage_exprs = [e for _, e in stages]
    grid = StateGrid.build(stage_exprs, codes, facts=facts)
    if grid.rows == 0:
        return
    stage_keys = set().union(*(required_columns(e) for e in stage_exprs)) - {"stage"}
    hits = np.array([grid.holds(e) for e in stage_exprs])
    _gaps(ctx, grid, hits, stage_keys, names)
    first = _first_stage(hits)
    decided = grid.exhaustive and all(is_exact(e) for e in stage_exprs)
    # A stage that is entirely shadowed is reported once, as unreachable, not as overlaps.
    shadowed = {i for i in range(len(stages)) if decided and not (first == i).any()}
    _overlaps(ctx, grid, stages, hits, stage_keys, names, shadowed)
    if decided:
        _unreachable(ctx, stages, first)
        _rules(ctx, stage_exprs, [(r, e) for r, e in rules if e is not None], codes, facts)


def _first_stage(hits: np.ndarray) -> np.ndarray:
    """The stage each state is in: the first whose condition holds, -1 for none."""
    return np.where(hits.any(axis=0), hits.argmax(axis=0), -1).astype(float)


def _with_stages(grid: StateGrid, stage_exprs: list[Expr]) -> StateGrid:
    hits = np.array([grid.holds(e) for e in stage_exprs])
    return grid.with_column("stage", _first_stage(hits))


def _rules(ctx: Context, stage_exprs, rules, codes, facts) -> None:  # type: ignore[no-untyped-def]
    """Rules no customer is eligible for. One shared sample finds a witness for most rules
    cheaply; only rules without one get an exact grid of their own."""
    exact = [(r, e) for r, e in rules if is_exact(e)]
    if not exact:
        return
    moments = {id(r): trigger_state(r, ctx.symbols) for r, _ in exact}
    at_trigger = [Logic(op="and", args=(e, m[0])) for r, e in exact if (m := moments[id(r)])]
    shared = _with_stages(
        StateGrid.build(stage_exprs + [e for _, e in exact] + at_trigger, codes, 20_000, facts),
        stage_exprs,
    )
    for rule, eligible in exact:
        moment = moments[id(rule)]
        fired = eligible if moment is None else Logic(op="and", args=(eligible, moment[0]))
        if shared.holds(fired).any():
            continue
        own = shared
        if not shared.exhaustive:
            own = _with_stages(
                StateGrid.build([*stage_exprs, fired], codes, facts=facts), stage_exprs
            )
        if not own.exhaustive or own.holds(fired).any():
            continue
        if not own.holds(eligible).any():
            _never_fires(ctx, own, rule)
        elif moment is not None:
            _never_at_trigger(ctx, own, rule, moment)


def _never_at_trigger(ctx: Context, grid: StateGrid, rule: s.Rule, moment) -> None:  # type: ignore[no-untyped-def]
    """Report a rule whose trigger only fires for customers its filters exclude."""
    at, words = grid.holds(moment[0]), moment[1]
    clauses = []
    if rule.stages:
        where = f"in stage {', '.join(n.text for n in rule.stages)}"
        clauses.append((where, _stage_filter(rule, ctx)))
    clauses += [(f"for {_text(ctx, e)}", lower(e, ctx.symbols)) for e in (rule.audience,) if e]
    clauses += [(f"when {_text(ctx, e)}", lower(e, ctx.symbols)) for e in (rule.condition,) if e]
    culprit = next(
        (label for label, e in clauses if e is not None and not (at & grid.holds(e)).any()),
        "its conditions together",
    )
    ctx.error(
        "CLM130",
        f"rule `{rule.name}` can never fire: `on {_text(ctx, rule.trigger)}` fires only when "
        f"{words}, and then no customer meets `{culprit}`",
        rule.trigger.span,
        "choose a trigger that can come while the filters hold, or drop the filter that "
        "excludes its moment",
    )


def _never_fires(ctx: Context, grid: StateGrid, rule: s.Rule) -> None:
    """Report a rule no customer is eligible for, naming the clause that rules everyone out."""
    clauses = [(f"for {_text(ctx, e)}", e) for e in (rule.audience,) if e is not None]
    clauses += [(f"when {_text(ctx, e)}", e) for e in (rule.condition,) if e is not None]
    stage_filter = _stage_filter(rule, ctx)
    where = f"in stage {', '.join(n.text for n in rule.stages)}" if rule.stages else None
    reason = "no customer meets its conditions together"
    span = (rule.condition or rule.audience or rule.name).span
    for label, expr in clauses:
        holds = grid.holds(lower(expr, ctx.symbols))
        if stage_filter is not None and not (holds & grid.holds(stage_filter)).any():
            reason, span = f"no customer {where} meets `{label}`", expr.span
            break
        if not holds.any():
            reason, span = f"no customer meets `{label}`", expr.span
            break
    ctx.error(
        "CLM130",
        f"rule `{rule.name}` can never fire: {reason}",
        span,
        "check the condition against the conditions of the stages it is for",
    )


def _text(ctx: Context, expr: s.Expr) -> str:
    source = ctx.spec.sources.get(expr.span.file)
    return source.text[expr.span.start : expr.span.end] if source else "..."


def _stage_filter(rule: s.Rule, ctx: Context) -> Expr | None:
    codes = [ctx.symbols.stage_code(n.text) for n in rule.stages if n.text in ctx.symbols.stages]
    tests = tuple(
        Compare(op="==", left=Column(key="stage"), right=Const(value=float(c))) for c in codes
    )
    if not tests:
        return None
    return tests[0] if len(tests) == 1 else Logic(op="or", args=tests)


def _eligible(rule: s.Rule, ctx: Context) -> Expr | None:
    parts = [e for e in (_stage_filter(rule, ctx),) if e is not None]
    for expr in (rule.audience, rule.condition):
        if expr is not None:
            parts.append(lower(expr, ctx.symbols))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Logic(op="and", args=tuple(parts))


def _gaps(ctx: Context, grid: StateGrid, hits: np.ndarray, keys: set[str], names) -> None:  # type: ignore[no-untyped-def]
    empty = ~hits.any(axis=0)
    if empty.any():
        row = int(np.argmax(empty))
        example = grid.describe(row, keys, names)
        stage, missed = _nearest_stage(ctx, grid.row(row))
        ctx.error(
            "CLM121",
            f"a customer with {example} is in no stage: the nearest, `{stage.name}`, "
            f"needs {' and '.join(f'`{m}`' for m in missed)}",
            stage.span,
            "every customer must be in exactly one stage: widen a condition or add a stage",
        )


def _nearest_stage(ctx: Context, state: StateGrid) -> tuple[s.Stage, list[str]]:
    """The stage a one-row state misses by the smallest share of its `and` parts (the last
    stage when it misses every one entirely), with the parts it misses."""
    best: tuple[float, int, s.Stage, list[str]] | None = None
    stages = list(ctx.symbols.stages.values())
    for index, stage in enumerate(stages):
        parts = _conjuncts(stage.condition)
        missed = [_text(ctx, p) for p in parts if not state.holds(lower(p, ctx.symbols))[0]]
        share = len(missed) / len(parts)
        if share < 1 and (best is None or share < best[0]):
            best = (share, index, stage, missed)
    if best is None:
        return stages[-1], [_text(ctx, stages[-1].condition)]
    return best[2], best[3]


def _conjuncts(expr: s.Expr) -> tuple[s.Expr, ...]:
    if isinstance(expr, s.BoolOp) and expr.op == "and":
        return tuple(p for o in expr.operands for p in _conjuncts(o))
    return (expr,)


def _overlaps(  # type: ignore[no-untyped-def]
    ctx: Context, grid: StateGrid, stages, hits: np.ndarray, keys: set[str], names, shadowed
) -> None:
    for j in range(len(stages)):
        if j in shadowed:
            continue
        for i in range(j):
            both = hits[i] & hits[j]
            if both.any():
                example = grid.describe(int(np.argmax(both)), keys, names)
                earlier, later = stages[i][0], stages[j][0]
                ctx.warning(
                    "CLM120",
                    f"stages `{earlier.name}` and `{later.name}` overlap: a customer with "
                    f"{example} meets both, and is put in `{earlier.name}` (declared first)",
                    later.condition.span,
                    "make the conditions exclusive, so the order does not decide",
                    (Related(earlier.condition.span, f"`{earlier.name}` is declared here"),),
                )
                break


def _unreachable(ctx: Context, stages, first: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    exact = all(is_exact(e) for _, e in stages)
    for index, (stage, _) in enumerate(stages):
        if exact and not (first == index).any():
            ctx.error(
                "CLM122",
                f"stage `{stage.name}` is unreachable: every customer who meets its condition "
                f"is already in an earlier stage, or nobody meets it",
                stage.name.span,
                "change its condition, or move it before the stages that take its customers",
            )
