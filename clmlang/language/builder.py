"""Build the syntax tree (`clmlang.syntax`) from Lark's parse tree.

Clauses may come in any order inside a declaration; a clause given twice is reported here
(CLM114) and the first one is kept, so the checker sees one value per clause.
"""

from __future__ import annotations

from typing import Any

from lark import Token, v_args

from ..core.diagnostics import Diagnostic, Related, Severity
from ..core.source import Span
from . import syntax as s
from .builder_grid import GridBuilder
from .builder_terms import _spanned, unquote

__all__ = ["TreeBuilder", "unquote"]


@v_args(wrapper=_spanned)
class TreeBuilder(GridBuilder):
    """Turns one Lark tree into `syntax` nodes. `offset` shifts positions of a parsed chunk."""

    def _clauses(self, owner: str, clauses: list[tuple[str, Any, Span]]) -> dict[str, Any]:
        """Collect `(keyword, value, span)` clauses; report a keyword given twice."""
        seen: dict[str, tuple[Any, Span]] = {}
        for keyword, value, span in clauses:
            if keyword in seen and keyword not in ("variant", "where"):
                self.diagnostics.append(
                    Diagnostic(
                        "CLM114",
                        Severity.ERROR,
                        f"`{keyword}` is given twice in {owner}",
                        span,
                        "keep one; the first is used",
                        (Related(seen[keyword][1], "first given here"),),
                    )
                )
                continue
            seen[keyword] = (value, span)
        return {k: v for k, (v, _) in seen.items()}

    def _title(self, children: list[Any]) -> tuple[str | None, list[Any]]:
        if children and isinstance(children[0], Token) and children[0].type == "STRING":
            return unquote(children[0]), children[1:]
        return None, children

    # ---- file -----------------------------------------------------------------------
    def start(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def program(self, meta: Any, ch: list[Any]) -> s.Program:
        currency = ch[1] if len(ch) > 1 else None
        return s.Program(unquote(ch[0]), currency, self._span(meta))

    def program_currency(self, meta: Any, ch: list[Any]) -> s.Name:
        return self._name(ch[0])

    def use(self, meta: Any, ch: list[Any]) -> s.Use:
        return s.Use(unquote(ch[0]), self._span(meta))

    # ---- channels and caps ------------------------------------------------------------
    def channel(self, meta: Any, ch: list[Any]) -> s.Channel:
        name = self._declared("channel", ch[0])
        title, rest = self._title(ch[1:])
        c = self._clauses(f"channel `{name}`", rest)
        return s.Channel(
            name, title, c.get("kind"), c.get("cost"), c.get("capacity"), self._span(meta)
        )

    def channel_kind(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("kind", self._name(ch[0]), self._span(meta))

    def channel_cost(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("cost", ch[0], self._span(meta))

    def channel_capacity(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        value = self._number(ch[0])
        quantity = s.Quantity(value, s.Unit.NONE, self._tspan(ch[0]), str(ch[0]))
        return ("capacity", quantity, self._span(meta))

    def cap(self, meta: Any, ch: list[Any]) -> s.Cap:
        channel = tag = None
        if isinstance(ch[0], tuple):
            scope, name = ch[0]
            channel, tag = (name, None) if scope == "channel" else (None, name)
            ch = ch[1:]
        limit = s.Quantity(self._number(ch[0]), s.Unit.NONE, self._tspan(ch[0]), str(ch[0]))
        overflow = str(ch[2]) if len(ch) > 2 else "skip"
        return s.Cap(channel, tag, limit, ch[1], overflow, self._span(meta))

    def cap_channel(self, meta: Any, ch: list[Any]) -> tuple[str, s.Name]:
        return ("channel", self._name(ch[0]))

    def cap_tag(self, meta: Any, ch: list[Any]) -> tuple[str, s.Name]:
        return ("tag", self._name(ch[0]))

    def cap_overflow(self, meta: Any, ch: list[Any]) -> Token:
        return ch[0]  # type: ignore[no-any-return]

    def control(self, meta: Any, ch: list[Any]) -> s.Control:
        return s.Control(ch[0], self._span(meta))

    # ---- products ---------------------------------------------------------------------
    def product(self, meta: Any, ch: list[Any]) -> s.Product:
        name = self._declared("product", ch[0])
        title, rest = self._title(ch[1:])
        c = self._clauses(f"product `{name}`", rest)
        return s.Product(
            name,
            title,
            c.get("role"),
            c.get("price"),
            c.get("cost"),
            c.get("line"),
            c.get("every"),
            c.get("attach to", ()),
            c.get("reward"),
            self._span(meta),
        )

    def product_role(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("role", self._name(ch[0]), self._span(meta))

    def product_price(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("price", ch[0], self._span(meta))

    def product_cost(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("cost", ch[0], self._span(meta))

    def product_line(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("line", self._name(ch[0]), self._span(meta))

    def product_every(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("every", ch[0], self._span(meta))

    def product_attach(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("attach to", ch[0], self._span(meta))

    def attach_list(self, meta: Any, ch: list[Any]) -> tuple[s.Name | s.LineArgument, ...]:
        return tuple(c if isinstance(c, s.LineArgument) else self._name(c) for c in ch)

    def product_reward(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("reward", ch[0], self._span(meta))

    # ---- customer data ----------------------------------------------------------------
    def attribute(self, meta: Any, ch: list[Any]) -> s.Attribute:
        return s.Attribute(self._declared("attribute", ch[0]), self._name(ch[1]), self._span(meta))

    def event_declaration(self, meta: Any, ch: list[Any]) -> s.CustomerEvent:
        title, _ = self._title(ch[1:])
        return s.CustomerEvent(self._declared("event", ch[0]), title, self._span(meta))

    def audience(self, meta: Any, ch: list[Any]) -> s.Audience:
        title, _ = self._title(ch[1:])
        return s.Audience(self._declared("audience", ch[0]), title, self._span(meta))

    def rfm(self, meta: Any, ch: list[Any]) -> s.Rfm:
        seen: dict[str, s.RfmAxis] = {}
        for axis in ch:
            if axis.axis in seen:
                self.diagnostics.append(
                    Diagnostic(
                        "CLM114",
                        Severity.ERROR,
                        f"`{axis.axis}` is given twice in `rfm`",
                        axis.span,
                        "keep one; the first is used",
                        (Related(seen[axis.axis].span, "first given here"),),
                    )
                )
                continue
            seen[axis.axis] = axis
        return s.Rfm(tuple(seen.values()), self._span(meta))

    def rfm_clause(self, meta: Any, ch: list[Any]) -> s.RfmAxis:
        return s.RfmAxis(str(ch[0]), tuple(ch[1:]), self._span(meta))

    # ---- stages and segments ----------------------------------------------------------
    def stage(self, meta: Any, ch: list[Any]) -> s.Stage:
        title, rest = self._title(ch[1:])
        goal = rest[1] if len(rest) > 1 else None
        return s.Stage(self._declared("stage", ch[0]), title, rest[0], goal, self._span(meta))

    def stage_goal(self, meta: Any, ch: list[Any]) -> s.Quantity:
        return ch[0]  # type: ignore[no-any-return]

    def segment(self, meta: Any, ch: list[Any]) -> s.Segment:
        title, rest = self._title(ch[1:])
        return s.Segment(self._declared("segment", ch[0]), title, rest[0], self._span(meta))

    # ---- rules ------------------------------------------------------------------------
    def rule(self, meta: Any, ch: list[Any]) -> s.Rule:
        name = self._name(ch[0])
        title, rest = self._title(ch[1:])
        span = self._span(meta)
        axes = rest[0] if rest and isinstance(rest[0], list) else None
        rest = rest[1:] if axes is not None else rest
        headers = [c for c in rest if isinstance(c, tuple) and c[0] not in _FLOW_KEYS]
        flow_items = [c for c in rest if not (isinstance(c, tuple) and c[0] not in _FLOW_KEYS)]
        c = self._clauses(f"rule `{name}`", headers)
        variants = tuple(v for k, v, _ in headers if k == "variant")
        return s.Rule(
            name,
            title,
            c.get("in stage", ()),
            c.get("for"),
            c.get("when"),
            c.get("on"),
            c.get("priority"),
            c.get("holdout"),
            c.get("reentry"),
            c.get("active"),
            c.get("exit when"),
            variants,
            self._flow(flow_items, span, f"rule `{name}`"),
            span,
            self._grid(axes, [v for k, v, _ in headers if k == "where"]),
        )

    def _flow(self, items: list[Any], span: Span, owner: str) -> s.Flow:
        steps: list[s.Step] = []
        branches = self._clauses(owner, [i for i in items if isinstance(i, tuple)])
        success = next((i for i in items if isinstance(i, s.Success)), None)
        for item in items:
            if isinstance(item, s.Success) and item is not success:
                self.diagnostics.append(
                    Diagnostic(
                        "CLM114",
                        Severity.ERROR,
                        f"`success` is given twice in {owner}",
                        item.span,
                        "a flow has one success test; put the next one inside a branch",
                        (Related(success.span, "first given here"),) if success else (),
                    )
                )
            elif isinstance(item, s.Send | s.Wait | s.ContinueWith | s.Stop):
                if success is not None and item.span.start > success.span.start:
                    self.diagnostics.append(
                        Diagnostic(
                            "CLM116",
                            Severity.ERROR,
                            "a step comes after `success`",
                            item.span,
                            "move it into `on success { ... }` or `on failure { ... }`",
                        )
                    )
                steps.append(item)
        for key in ("on success", "on failure"):
            if key in branches and success is None:
                first = next(i for i in items if isinstance(i, tuple) and i[0] == key)
                self.diagnostics.append(
                    Diagnostic(
                        "CLM115",
                        Severity.ERROR,
                        f"`{key}` without a `success` test",
                        first[2],
                        "say what success is, e.g. `success purchase within 14 days`",
                    )
                )
        return s.Flow(
            tuple(steps), success, branches.get("on success"), branches.get("on failure"), span
        )

    def rule_stages(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("in stage", ch[0], self._span(meta))

    def rule_audience(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("for", ch[0], self._span(meta))

    def rule_condition(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("when", ch[0], self._span(meta))

    def rule_trigger(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("on", ch[0], self._span(meta))

    def rule_priority(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        q = s.Quantity(self._number(ch[0]), s.Unit.NONE, self._tspan(ch[0]), str(ch[0]))
        return ("priority", q, self._span(meta))

    def rule_holdout(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("holdout", ch[0], self._span(meta))

    def rule_reentry(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("reentry", ch[0], self._span(meta))

    def rule_active(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        span = self._span(meta)  # the window's node spans the whole clause, `active` included
        return ("active", s.Window(ch[0].start, ch[0].end, span), span)

    def rule_exit(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("exit when", ch[0], self._span(meta))

    def rule_variant(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        span = self._span(meta)
        return ("variant", s.Variant(self._name(ch[0]), ch[1], tuple(ch[2:]), span), span)

    def success(self, meta: Any, ch: list[Any]) -> s.Success:
        return s.Success(ch[0], ch[1], self._span(meta))

    def on_success(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("on success", ch[0], self._span(meta))

    def on_failure(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("on failure", ch[0], self._span(meta))

    def branch(self, meta: Any, ch: list[Any]) -> s.Flow:
        return self._flow(ch, self._span(meta), "this branch")

    def send(self, meta: Any, ch: list[Any]) -> s.Send:
        offer = next((c for c in ch[2:] if isinstance(c, s.Offer)), None)
        tags: tuple[s.Name, ...] = ()
        transactional = False
        for option in ch[2:]:
            if isinstance(option, tuple) and option[0] == "tag":
                tags += option[1]
            elif isinstance(option, tuple) and option[0] == "transactional":
                transactional = True
        channel = ch[0] if isinstance(ch[0], s.Name) else self._name(ch[0])  # or a placeholder
        return s.Send(channel, unquote(ch[1]), offer, tags, transactional, self._span(meta))

    def send_tags(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[s.Name, ...]]:
        return ("tag", ch[0])

    def send_transactional(self, meta: Any, ch: list[Any]) -> tuple[str, Span]:
        return ("transactional", self._span(meta))

    def wait(self, meta: Any, ch: list[Any]) -> s.Wait:
        return s.Wait(ch[0], self._span(meta))

    def continue_with(self, meta: Any, ch: list[Any]) -> s.ContinueWith:
        return s.ContinueWith(self._name(ch[0]), self._span(meta))

    def stop(self, meta: Any, ch: list[Any]) -> s.Stop:
        return s.Stop(self._span(meta))

    def offer(self, meta: Any, ch: list[Any]) -> s.Offer:
        span = self._span(meta)
        target = next((c for c in ch if c[0] in ("product", "line")), None)
        terms = self._clauses("this offer", [c for c in ch if c[0] in ("discount", "bonus")])
        return s.Offer(
            target[1] if target and target[0] == "product" else None,
            target[1] if target and target[0] == "line" else None,
            terms.get("discount"),
            terms.get("bonus"),
            span,
        )

    def offer_product(self, meta: Any, ch: list[Any]) -> tuple[str, s.Name, Span]:
        name = ch[0] if isinstance(ch[0], s.Name) else self._name(ch[0])  # or a placeholder
        return ("product", name, self._span(meta))

    def offer_line(self, meta: Any, ch: list[Any]) -> tuple[str, s.Name, Span]:
        return ("line", self._name(ch[0]), self._span(meta))

    def offer_discount(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("discount", ch[0], self._span(meta))

    def offer_bonus(self, meta: Any, ch: list[Any]) -> tuple[str, Any, Span]:
        return ("bonus", ch[0], self._span(meta))

    def reentry_once(self, meta: Any, ch: list[Any]) -> s.Reentry:
        return s.Reentry("once", ch[0] if ch else None, self._span(meta))

    def reentry_always(self, meta: Any, ch: list[Any]) -> s.Reentry:
        return s.Reentry("always", None, self._span(meta))

    def window_from(self, meta: Any, ch: list[Any]) -> s.Window:
        end = self._name(ch[1]) if len(ch) > 1 else None
        return s.Window(self._name(ch[0]), end, self._span(meta))

    def window_until(self, meta: Any, ch: list[Any]) -> s.Window:
        return s.Window(None, self._name(ch[0]), self._span(meta))


_FLOW_KEYS = frozenset({"on success", "on failure"})
