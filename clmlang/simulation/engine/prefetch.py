"""A hint to the processor, for the purchases' kernels: fetch a customer's row of a column
into the cache now, because a later iteration will read it.

A batch's buyers are scattered over the population (a few thousand among a million), so
each column a kernel reads at a buyer's row is a miss to memory, some 100 ns. A kernel whose
loop body is long (`settle`: the check, the add-ons' and memberships' draws, 16 columns)
keeps only one or two buyers' misses in flight; asking for buyer i + AHEAD's rows while
buyer i is settled overlaps the misses of several buyers. A prefetch changes no value (it
may even point past an array's end: the processor drops it), so the kernels' results, and
their numpy twins, are unchanged.

`prefetch(column, row)` is called from compiled code only (kernels); its `@intrinsic`
puts this file in the digest that clears numba's cache when it changes (core/compiled.py).
numba is imported when the first kernel that calls it compiles, never at import.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["AHEAD", "prefetch"]

# how many buyers ahead a kernel asks for their rows (measured at 500,000 customers: 4, 8
# and 16 within the noise of each other, 16 a little ahead)
AHEAD = 16


@cache
def _intrinsic() -> Any:
    """`llvm.prefetch` of the address of column[row] (read, keep in every cache level)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def prefetch_row(typingctx, column, row):
        if not isinstance(column, types.Array) or column.ndim != 1:
            return None
        if not isinstance(row, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            array_type, row_type = signature.args
            array = context.make_array(array_type)(context, builder, args[0])
            index = context.cast(builder, args[1], row_type, types.intp)
            pointer = builder.gep(array.data, [index])  # no bounds check: a hint only
            address = builder.bitcast(pointer, cgutils.voidptr_t)
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
            # the name of LLVM 15 on (opaque pointers); LLVM 14 (llvmlite 0.43, numba 0.60,
            # the oldest this package takes) reads it as its own `llvm.prefetch.p0i8`, the
            # parser remangling an intrinsic's name (both checked: `prefetcht0` on x86-64)
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            read, keep, data = ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)
            builder.call(fn, [address, read, keep, data])
            return context.get_dummy_value()

        return types.void(column, row), codegen

    return prefetch_row


class _Prefetch:
    """The hint as compiled code sees it (`_numba_type_`, as `core.compiled.Kernel` does);
    called from Python it does nothing."""

    def __call__(self, column: Any, row: Any) -> None:
        return None

    @property
    def _numba_type_(self) -> Any:
        from numba.core.registry import cpu_target

        hint = _intrinsic()
        typing = cpu_target.typing_context
        typing.refresh()  # the registration of a new intrinsic is read on a refresh
        return typing.resolve_value_type(hint)


prefetch = _Prefetch()
