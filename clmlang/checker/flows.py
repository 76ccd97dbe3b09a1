"""What a rule's flow does across its paths: caps that every path would break, and
follow-ups (`continue with`) that make a cycle between rules."""

from __future__ import annotations

from ..core.diagnostics import Related
from ..language import syntax as s
from ..language.symbols import iter_flows
from .context import Context

__all__ = ["caps_on_paths", "continue_cycles"]


def _paths(flow: s.Flow | None, prefix: tuple[s.Step, ...] = ()):  # type: ignore[no-untyped-def]
    """Every sequence of steps a customer can go through, branch by branch."""
    if flow is None:
        yield prefix
        return
    steps = prefix + flow.steps
    if flow.success is None:
        yield steps
        return
    window = s.Wait(flow.success.within, flow.success.span)
    yield from _paths(flow.on_success, steps)
    yield from _paths(flow.on_failure, (*steps, window))


def caps_on_paths(ctx: Context, rule: s.Rule) -> None:
    """A flow that always sends more than a cap allows within its window (CLM132)."""
    caps = ctx.symbols.caps
    if not caps:
        return
    starts = [v.steps for v in rule.variants] or [()]
    reported: set[int] = set()
    for variant_steps in starts:
        for path in _paths(rule.flow, tuple(variant_steps)):
            sends: list[tuple[float, s.Send]] = []
            clock = 0.0
            for step in path:
                if isinstance(step, s.Wait) and step.duration.unit.is_duration:
                    clock += step.duration.days
                elif isinstance(step, s.Send) and not step.transactional:
                    sends.append((clock, step))
            for cap in caps:
                if not (cap.window.unit.is_duration and cap.limit.value >= 1):
                    continue
                matching = [(t, send) for t, send in sends if _in_scope(cap, send)]
                limit = int(cap.limit.value)
                for i in range(limit, len(matching)):
                    t, send = matching[i]
                    if t - matching[i - limit][0] < cap.window.days and id(send) not in reported:
                        reported.add(id(send))
                        ctx.error(
                            "CLM132",
                            f"this message is always capped: the flow sends {limit + 1} "
                            f"messages within {cap.window.text} {cap.window.unit_text}, and the "
                            f"cap allows {limit}",
                            send.span,
                            "wait longer between the messages, send it on another channel, or "
                            "mark it `transactional` if it is not marketing",
                            (Related(cap.span, "the cap"),),
                        )


def _in_scope(cap: s.Cap, send: s.Send) -> bool:
    if cap.channel is not None:
        return send.channel.text == cap.channel.text
    if cap.tag is not None:
        return any(t.text == cap.tag.text for t in send.tags)
    return True


def continue_cycles(ctx: Context) -> None:
    rules = ctx.symbols.rules
    graph: dict[str, list[s.ContinueWith]] = {}
    for name, rule in rules.items():
        steps = [st for flow in iter_flows(rule.flow) for st in flow.steps]
        steps += [st for v in rule.variants for st in v.steps]
        graph[name] = [
            st for st in steps if isinstance(st, s.ContinueWith) and st.rule.text in rules
        ]
    reported: set[frozenset[str]] = set()
    for start in graph:
        stack = [(start, [start], [])]
        while stack:
            node, path, via = stack.pop()
            for step in graph[node]:
                nxt = step.rule.text
                if nxt == start:
                    cycle = frozenset(path)
                    if cycle in reported:
                        continue
                    reported.add(cycle)
                    chain = " -> ".join([*path, start])
                    steps = [*via, step]
                    ctx.error(
                        "CLM133",
                        f"follow-ups make a cycle: {chain}",
                        steps[0].span,
                        "a customer would loop between these rules forever; "
                        "end one branch with `stop`",
                        tuple(Related(st.span, f"continues with `{st.rule}`") for st in steps[1:]),
                    )
                elif nxt not in path and len(path) < 50:
                    stack.append((nxt, [*path, nxt], [*via, step]))
