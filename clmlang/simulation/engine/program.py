"""A policy's rules flattened into numbered flow nodes the engine can point customers at.

A rule's flow is a tree: steps, then an optional success test with a flow per outcome. Each
flow becomes a `Node`; a rule with variants gets one root node per variant (a variant
replaces the root's steps and keeps its success test and branches). A customer in flight is
then just (node, next step), and a batch of customers at the same place moves together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...compile.policy import Flow, Policy, SendStep, Success

__all__ = ["Node", "Program", "SendSite"]


@dataclass
class Node:
    id: int
    rule: int
    variant: int  # -1: no variants; else the variant's index (inherited by its branches)
    steps: tuple
    success: Success | None
    on_success: int | None = None
    on_failure: int | None = None


@dataclass(frozen=True)
class SendSite:
    """One send step: where in which rule, with its offer resolved to indexes."""

    node: int
    step: int
    rule: int
    variant: int
    send: SendStep
    channel: int
    offer_product: int  # -1 none
    offer_line: int  # -1 none
    discount_share: float
    discount_amount: float
    bonus: float


@dataclass
class Program:
    nodes: list[Node] = field(default_factory=list)
    roots: list[list[int]] = field(default_factory=list)  # per rule: root node per variant
    sites: dict[tuple[int, int], SendSite] = field(default_factory=dict)

    @classmethod
    def of(cls, policy: Policy) -> Program:
        program = cls()
        channels = {c.name: i for i, c in enumerate(policy.channels)}
        products = {p.name: i for i, p in enumerate(policy.products)}
        lines = {name: i for i, name in enumerate(policy.lines)}
        for r, rule in enumerate(policy.rules):
            if rule.variants:
                roots = [
                    program._add(
                        r,
                        v,
                        Flow(
                            steps=variant.steps,
                            success=rule.flow.success,
                            on_success=rule.flow.on_success,
                            on_failure=rule.flow.on_failure,
                        ),
                    )
                    for v, variant in enumerate(rule.variants)
                ]
            else:
                roots = [program._add(r, -1, rule.flow)]
            program.roots.append(roots)
        for node in program.nodes:
            for i, step in enumerate(node.steps):
                if isinstance(step, SendStep):
                    offer = step.offer
                    program.sites[(node.id, i)] = SendSite(
                        node=node.id,
                        step=i,
                        rule=node.rule,
                        variant=node.variant,
                        send=step,
                        channel=channels[step.channel],
                        offer_product=products.get(offer.product, -1)
                        if offer and offer.product
                        else -1,
                        offer_line=lines.get(offer.line, -1) if offer and offer.line else -1,
                        discount_share=(offer.discount_share or 0.0) if offer else 0.0,
                        discount_amount=(offer.discount_amount or 0.0) if offer else 0.0,
                        bonus=(offer.bonus or 0.0) if offer else 0.0,
                    )
        return program

    def _add(self, rule: int, variant: int, flow: Flow) -> int:
        node = Node(len(self.nodes), rule, variant, flow.steps, flow.success)
        self.nodes.append(node)
        if flow.on_success is not None:
            node.on_success = self._add(rule, variant, flow.on_success)
        if flow.on_failure is not None:
            node.on_failure = self._add(rule, variant, flow.on_failure)
        return node.id

    @property
    def waiting_nodes(self) -> list[Node]:
        """Nodes that end in a success test."""
        return [n for n in self.nodes if n.success is not None]
