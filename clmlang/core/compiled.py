"""Compiled kernels: numba where numpy's per-call overhead dominates, the numpy path otherwise.

A kernel is a plain Python function over arrays and scalars, written in the subset numba
compiles (loops, arrays, no objects). `kernel(fn)` wraps it; the first call compiles it with
`numba.njit(cache=True)` (machine code cached next to the module, so later processes only
load it) and later calls go straight to the machine code. Every kernel has a numpy twin
that gives the same bytes for the same seed; `use_compiled(size)` says which one a run takes:

- `CLM_NUMBA=1`: always the kernels (the tests that compare the two paths set it);
- `CLM_NUMBA=0`: never, the numpy path (and numba is not even imported);
- unset: the kernels when the run is big enough to repay numba's start-up, about 0.7 s of
  importing numba and loading the cached code (measured on this machine with bytecode
  compiled; 2.5 s without), that is from `THRESHOLD` customer-days on.

numba is imported on the first compiled call only, so `clm check` and small runs never pay
for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

SWITCH = "CLM_NUMBA"
# Customer-days from which a run takes the kernels when CLM_NUMBA is unset: 100,000
# customers for a year. Below it numba's start-up costs more than the kernels save.
THRESHOLD = 36_500_000


def available() -> bool:
    """Whether numba can be imported (it is a dependency, but a broken install is not fatal)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def use_compiled(customer_days: int) -> bool:
    """Whether a run of this many customer-days takes the compiled kernels."""
    value = os.environ.get(SWITCH, "").strip()
    if value == "0":
        return False
    if value == "1":
        return available()
    return customer_days >= THRESHOLD and available()


class Kernel:
    """A function compiled by numba on its first call (nopython, cached, no GIL)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._compiled: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compile()
        return compiled(*args)

    def _compile(self) -> Any:
        if self._compiled is None:
            import numba

            self._compiled = numba.njit(cache=True, nogil=True)(self.py_func)
        return self._compiled

    @property
    def _numba_type_(self) -> Any:
        """What numba sees when another kernel calls this one: its compiled dispatcher, so
        kernels can share helpers (a random stream's hash) without numba at import time."""
        import numba

        return numba.types.Dispatcher(self._compile())


def kernel(fn: Callable[..., Any]) -> Kernel:
    """Mark `fn` as a compiled kernel (see the module's docstring)."""
    return Kernel(fn)
