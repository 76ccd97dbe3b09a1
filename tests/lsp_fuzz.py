"""A seeded fuzzer for `clm lsp`: well-formed LSP messages, then mutated.

Each round takes a good message (hover, completion, formatting, didChange with a range...)
and breaks it a few ways: a value swapped for another type, a huge or negative number, a
field dropped or added, unicode, a position far out of the document, a reversed range; or
sends a body that is not JSON at all. The server must answer every request (a result or
an error under the request's id), stay alive, and never write a traceback.

Run it longer than the test does:  .venv/bin/python -m tests.lsp_fuzz --seed 3 --count 3000
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path
from typing import Any

from .lsp_client import LspClient, ServerGone

ROOT = Path(__file__).resolve().parents[1]

WEIRD: list[Any] = [
    None, True, False, 0, -1, 1.5, -(2**31) - 1, 2**31, 2**63, 10**40, 1e308, float("nan"),
    "", "x", "\U0001f600", "\u2028", "\x00", "file:///", "../../etc/passwd", "é" * 300,
    [], [1, "a"], {}, {"line": 0}, {"jsonrpc": "2.0", "method": "x"}, [[[[[]]]]],
]  # fmt: skip
TEXTS = ["", "x", "\n", "\r\n", "}", '"', "stage s when ", "\U0001f600", "\u2028", "é\n", "\t"]
RAW_BODIES = [b"", b"{", b"[]", b"5", b'"x"', b"null", b"\xff\xfe", b'{"jsonrpc": "2.0"}',
              b"[" * 5000 + b"]" * 5000, b'{"jsonrpc":"2.0","id":1e400,"method":"x"}']  # fmt: skip


class Fuzzer:
    """Builds good messages about the open documents and mutates them."""

    def __init__(self, rng: random.Random, uris: list[str]) -> None:
        self.rng = rng
        self.uris = uris
        self.ident = 10_000

    def position(self) -> dict[str, Any]:
        pick = self.rng.random()
        if pick < 0.7:
            return {"line": self.rng.randrange(60), "character": self.rng.randrange(90)}
        big = self.rng.choice([0, 2**31 - 1, 10_000, 1])
        return {"line": big, "character": self.rng.choice([0, 2**31 - 1, 5])}

    def good(self) -> dict[str, Any]:
        """A well-formed request or notification about one of the documents."""
        rng, uri = self.rng, self.rng.choice(self.uris)
        document = {"uri": uri}
        at = {"textDocument": document, "position": self.position()}
        choices: list[tuple[str, Any]] = [
            ("textDocument/hover", at),
            ("textDocument/definition", at),
            ("textDocument/completion", at),
            ("textDocument/documentSymbol", {"textDocument": document}),
            (
                "textDocument/formatting",
                {"textDocument": document, "options": {"tabSize": 2, "insertSpaces": True}},
            ),
            ("textDocument/didSave", {"textDocument": document}),
            ("$/cancelRequest", {"id": rng.randrange(5)}),
            ("workspace/didChangeConfiguration", {"settings": {}}),
            ("textDocument/unknownThing", {"textDocument": document}),
            ("textDocument/didChange", self.change(uri)),
        ]
        method, params = rng.choice(choices)
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        is_notification = method.startswith(("$/", "workspace/didChange", "textDocument/did"))
        if not is_notification:
            self.ident += 1
            message["id"] = self.ident
        return message

    def change(self, uri: str) -> dict[str, Any]:
        changes = []
        for _ in range(self.rng.choice([1, 1, 2, 3])):
            start, end = self.position(), self.position()
            if self.rng.random() < 0.5:  # mostly small, ordered edits, sometimes reversed
                end = {"line": start["line"], "character": start["character"] + 2}
            changes.append({"range": {"start": start, "end": end}, "text": self.rng.choice(TEXTS)})
        return {
            "textDocument": {"uri": uri, "version": self.rng.randrange(10**6)},
            "contentChanges": changes,
        }

    def mutate(self, message: dict[str, Any]) -> dict[str, Any]:
        """`message` with one to three things broken."""
        message = copy.deepcopy(message)
        for _ in range(self.rng.choice([1, 1, 2, 3])):
            slots = list(_slots(message))
            holder, key = self.rng.choice(slots)
            what = self.rng.random()
            if what < 0.45:
                holder[key] = copy.deepcopy(self.rng.choice(WEIRD))
            elif what < 0.65 and isinstance(holder, dict):
                holder.pop(key, None)
            elif what < 0.8 and isinstance(holder, dict):
                holder[self.rng.choice(["extra", "range", "id", "uri", "text"])] = self.rng.choice(
                    WEIRD
                )
            elif isinstance(holder[key], int) and not isinstance(holder[key], bool):
                holder[key] = self.rng.choice([-1, 2**31, 2**31 - 1, -(10**20), 10**20])
            else:
                holder[key] = self.rng.choice(TEXTS)
        return message

    def body(self) -> tuple[bytes, Any]:
        """A frame to send and the id the server must answer (None: no answer expected)."""
        pick = self.rng.random()
        if pick < 0.05:
            return self.rng.choice(RAW_BODIES), None
        message = self.good()
        if pick < 0.35:
            message = self.mutate(message)
        text = json.dumps(message, allow_nan=True, ensure_ascii=self.rng.random() < 0.5)
        return text.encode("utf-8", errors="surrogatepass"), _expected_id(message)


def _slots(value: Any, holder: Any = None, key: Any = None):
    """Every (container, key) in `value`, itself first when it is held."""
    if holder is not None:
        yield holder, key
    if isinstance(value, dict):
        for k in list(value):
            yield from _slots(value[k], value, k)
    elif isinstance(value, list):
        for i in range(len(value)):
            yield from _slots(value[i], value, i)


def _expected_id(message: Any) -> Any:
    """The id a response must carry: a request's own id when it is an int or a string."""
    if not isinstance(message, dict) or "method" not in message or "id" not in message:
        return None
    ident = message["id"]
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None
    return ident


def run(seed: int, count: int, cwd: Path = ROOT) -> LspClient:
    """Fuzz a fresh server with `count` frames; return the client, the server still running.

    Raises AssertionError when a request goes unanswered or the server dies."""
    rng = random.Random(seed)
    lsp = LspClient(cwd, "--stdio")
    lsp.initialize(cwd)
    specs = [cwd / "specs" / "clinic.clm", cwd / "specs" / "common" / "channels.clm"]
    uris = [lsp.open(path) for path in specs if path.exists()]
    fuzzer = Fuzzer(rng, [*uris, "file:///nowhere/never.clm", "untitled:Untitled-1"])
    for n in range(count):
        body, ident = fuzzer.body()
        lsp.send_body(body)
        if ident is not None:
            try:
                answer = lsp.response(ident)
            except ServerGone as gone:
                raise AssertionError(
                    f"{gone} to frame {n}: {body[:400]!r}\n{lsp.stderr()}"
                ) from None
            assert ("result" in answer) != ("error" in answer), (n, body[:300], answer)
        if lsp.process.poll() is not None:
            raise AssertionError(f"the server died after frame {n}: {body[:300]!r}\n{lsp.stderr()}")
    return lsp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    lsp = run(args.seed, args.count)
    try:
        hover = lsp.reply("textDocument/hover", {"textDocument": {"uri": "x"}, "position": {}})
        print("still answering:", hover.get("error", hover.get("result")))
    finally:
        code = lsp.close()
    stderr = lsp.stderr()
    print(f"exit {code}; stderr tail:\n{stderr[-1500:]}")
    assert "Traceback" not in stderr


if __name__ == "__main__":
    main()
