"""Condition expressions as written: comparisons, ranges, `is`, calls, `and`/`or`/`not`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.source import Span
from .values import Name, Quantity, Range

# ---- expressions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringLiteral:
    value: str
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class BoolLiteral:
    value: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Ref:
    """A name in an expression: a state field (`purchases`), `rfm.r`, a segment, an attribute."""

    parts: tuple[Name, ...]
    span: Span = field(compare=False)

    @property
    def dotted(self) -> str:
        return ".".join(p.text for p in self.parts)


@dataclass(frozen=True, slots=True)
class LineArgument:
    """`line cosmetology` as a function argument: `owns(line cosmetology)`."""

    line: Name
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A state function: `owns(facial)`, `messages(sms, 30 days)`, `subscribed(storage)`."""

    function: Name
    args: tuple[Expr | LineArgument, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class FieldOf:
    """A field about one product or line: `days_since_purchase of line cars`."""

    field: Name
    target: Name
    line: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class BinaryOp:
    """Arithmetic: `+ - * /`."""

    op: str
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    """`left OP right` with OP one of `>= <= == != > <`."""

    op: str
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class InRange:
    """`value in low..high` (inclusive), or `not in`."""

    operand: Expr
    range: Range
    negated: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Is:
    """`stage is loyal`, `last_product is facial`, `audience is premium`, or `is not`."""

    operand: Expr
    name: Name
    negated: bool
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class BoolOp:
    """`a and b and c` or `a or b`: all operands of one operator, flattened."""

    op: str  # "and" | "or"
    operands: tuple[Expr, ...]
    span: Span = field(compare=False)


Expr = (
    Quantity
    | StringLiteral
    | BoolLiteral
    | Ref
    | Call
    | FieldOf
    | Neg
    | BinaryOp
    | Compare
    | InRange
    | Is
    | Not
    | BoolOp
)
