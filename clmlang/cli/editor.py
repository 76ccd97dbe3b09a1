"""Commands for editors: `clm lsp`, the language server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ..core.extras import require
from .common import OK, _output_file, app, output_path


@app.command()
def lsp(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Talk over stdin and stdout (the only transport).")
    ] = True,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            help="Append the server's log to this file.",
            parser=output_path("--log"),
            metavar="<path>",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Log every message, not only problems.")] = False,
) -> None:
    """Run the .clm language server over stdio: diagnostics, hover, go to definition,
    completion, outline and formatting, for any editor that speaks LSP."""
    _output_file(log, "--log")
    level = logging.DEBUG if verbose else logging.WARNING
    require("pygls", "clm lsp")  # installed by the [lsp] extra
    if log is not None:
        logging.basicConfig(filename=log, level=level, format="%(asctime)s %(name)s %(message)s")
    else:  # stdout carries the protocol: the log goes to stderr, one line a record
        from ..lsp.protocol import OneLineFormatter

        stderr = logging.StreamHandler()
        stderr.setFormatter(OneLineFormatter("clm lsp: %(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[stderr])
    from ..lsp.server import serve  # pygls is loaded only by this command

    serve()
    raise typer.Exit(OK)
