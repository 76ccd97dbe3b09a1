"""Optional parts of clmlang and the extras that install them.

The core (`pip install clmlang`) checks, compiles, simulates, runs what-if scenarios,
calibrates from CSV files and runs policy tests. Heavier parts come as extras:

| extra       | packages                 | what needs it                               |
| ----------- | ------------------------ | ------------------------------------------- |
| `[dask]`    | distributed              | `clm run --scheduler`: a Dask cluster        |
| `[sql]`     | sqlalchemy, psycopg      | histories read from a database               |
| `[parquet]` | pyarrow                  | histories read from Parquet files            |
| `[lsp]`     | pygls, lsprotocol        | `clm lsp`, the language server               |
| `[all]`     | all of the above         |                                              |

A feature whose package is missing raises `MissingExtra`, whose message names the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtra", "require"]

# module -> (the extra that installs it, the PyPI package)
EXTRAS: dict[str, tuple[str, str]] = {
    "distributed": ("dask", "distributed"),
    "sqlalchemy": ("sql", "sqlalchemy"),
    "psycopg": ("sql", "psycopg"),
    "pyarrow": ("parquet", "pyarrow"),
    "pygls": ("lsp", "pygls"),
    "lsprotocol": ("lsp", "lsprotocol"),
}


class MissingExtra(ImportError):
    """An optional package is not installed; the message says which extra installs it."""

    def __init__(self, module: str, purpose: str) -> None:
        extra, package = EXTRAS.get(module, ("all", module))
        self.module, self.extra, self.purpose = module, extra, purpose
        super().__init__(
            f"{purpose} needs the optional package `{package}`, which is not installed\n"
            f"  hint: pip install 'clmlang[{extra}]'",
            name=module,
        )


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional module, or raise `MissingExtra` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module, purpose) from None


def missing_module(error: BaseException) -> str | None:
    """The optional module whose absence caused `error` (directly or through a library such
    as pandas or SQLAlchemy that imports it), or None."""
    if isinstance(error, MissingExtra):
        return error.module
    text = f"{getattr(error, 'name', '') or ''} {error}"
    for module in EXTRAS:
        if module in text:
            return module
    return None
