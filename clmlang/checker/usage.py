"""Definitions that nothing uses (CLM135): usually a typo elsewhere, or dead strategy."""

from __future__ import annotations

from .context import Context

__all__ = ["check_usage"]


def check_usage(ctx: Context) -> None:
    """Warn about segments, channels, audiences, attributes and events nothing refers to.

    Only the spec's own declarations: a shared file it `use`s may define more than one spec
    needs.
    """
    sy = ctx.symbols
    root = ctx.spec.root
    for kind, table in (
        ("segment", sy.segments),
        ("channel", sy.channels),
        ("audience", sy.audiences),
        ("attribute", sy.attributes),
        ("event", sy.events),
    ):
        for name, node in table.items():
            own = node.span.file == root  # type: ignore[attr-defined]
            if own and (kind, name) not in ctx.used and not _used_by_cap(ctx, kind, name):
                ctx.warning(
                    "CLM135",
                    f"{kind} `{name}` is never used",
                    node.name.span,  # type: ignore[attr-defined]
                    "remove it, or refer to it in a rule",
                )


def _used_by_cap(ctx: Context, kind: str, name: str) -> bool:
    return kind == "channel" and any(c.channel and c.channel.text == name for c in ctx.symbols.caps)
