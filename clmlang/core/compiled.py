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

numba's cache checks only the source file of the function it compiled, so a kernel that calls
a kernel of another file would keep machine code built from the other's old source. Before its
first compile a process therefore compares a digest of every file holding kernels with the one
the cache was built from (`__pycache__/kernels.sha256` in the package), and clears the cache
when they differ (`fresh_cache`).
"""

from __future__ import annotations

import hashlib
import os
import types
from collections.abc import Callable
from pathlib import Path
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


PACKAGE = Path(__file__).resolve().parent.parent
_checked = False


# what marks a file whose code ends up in a kernel's machine code: kernels, and numba
# intrinsics (engine/prefetch.py), which are compiled into the kernels that call them
_MARKS = (b"@kernel", b"@intrinsic")


def sources_digest(root: Path) -> str:
    """A digest of the files under `root` that hold kernels or intrinsics, and of this
    module."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes()
        if any(mark in text for mark in _MARKS):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + text)
    return digest.hexdigest()


def fresh_cache(root: Path = PACKAGE) -> bool:
    """Clear numba's cache under `root` if it was built from other kernel sources than these;
    whether it was cleared. A package that cannot be written to (installed read-only) is left
    as it is: numba keeps its cache elsewhere then, and such a package is not edited."""
    stamp = root / "__pycache__" / "kernels.sha256"
    digest = sources_digest(root)
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        for pattern in ("*.nbi", "*.nbc"):
            for path in root.rglob(f"__pycache__/{pattern}"):
                path.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        partial = stamp.with_name(f"{stamp.name}.{os.getpid()}")
        partial.write_text(digest)
        partial.replace(stamp)  # atomic: a process beside this one reads one digest or none
    except OSError:
        return False
    return True


class Kernel:
    """A function compiled by numba on its first call (nopython, cached, no GIL)."""

    def __init__(self, fn: Callable[..., Any], inline: bool = False) -> None:
        self.py_func = fn
        self.inline = inline
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
            global _checked
            if not _checked:  # once a process, before its first compile
                fresh_cache()
                _checked = True
            import numba

            inline = "always" if self.inline else "never"
            self._compiled = numba.njit(cache=True, nogil=True, inline=inline)(
                _with_inlined(self.py_func)
            )
        return self._compiled

    @property
    def _numba_type_(self) -> Any:
        """What numba sees when another kernel calls this one: its compiled dispatcher, so
        kernels can share helpers (a random stream's hash) without numba at import time."""
        import numba

        return numba.types.Dispatcher(self._compile())


def _with_inlined(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, or a copy of it that sees its inline helpers (`kernel(inline=True)`) as numba's
    own dispatchers: numba copies a helper's body only when the name it calls is one."""
    names = fn.__code__.co_names
    inline = {
        k: v for k, v in fn.__globals__.items() if k in names and isinstance(v, Kernel) and v.inline
    }
    if not inline:
        return fn
    scope = {**fn.__globals__, **{k: v._compile() for k, v in inline.items()}}
    copy = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__, copy.__module__, copy.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
    return copy


def kernel(fn: Callable[..., Any] | None = None, *, inline: bool = False) -> Any:
    """Mark `fn` as a compiled kernel (see the module's docstring); `@kernel(inline=True)`:
    a small helper whose body numba copies into the kernels that call it (a call through
    another compiled function costs more than the helper's few operations)."""
    if fn is None:
        return lambda f: Kernel(f, inline)
    return Kernel(fn, inline)
