"""A minimal LSP client for tests: `clm lsp` as a subprocess, JSON-RPC with Content-Length.

It speaks to the server as an editor does. A reader thread parses frames into a queue, so
every wait has a timeout and a dead or silent server fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

TIMEOUT = 15.0  # seconds for any one answer; the server answers in milliseconds


class ServerGone(AssertionError):
    """The server closed its output or did not answer in time."""


class LspClient:
    """Start the server, send requests and notifications, wait for answers."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = {**os.environ, "NO_COLOR": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clmlang", "lsp", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.next_id = 0
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    # ---- framing ----------------------------------------------------------------------
    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if length is None:
                    continue
                self.messages.put(json.loads(stream.read(length).decode("utf-8")))
        finally:
            self.messages.put(None)

    def _drain(self) -> None:
        """Keep stderr flowing, so a talkative server never blocks on a full pipe."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def send(self, message: dict[str, Any]) -> None:
        self.send_body(json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8"))

    def send_body(self, body: bytes) -> None:
        """Send `body` as one frame, whatever it is (the fuzzer sends broken JSON too)."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def _next(self, deadline: float) -> dict[str, Any]:
        try:
            message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise ServerGone("no answer from the server in time") from None
        if message is None:
            raise ServerGone("the server closed its output: " + self.stderr())
        return message

    # ---- requests and notifications ---------------------------------------------------
    def request(self, method: str, params: Any = None, timeout: float = TIMEOUT) -> Any:
        """Send a request and return its result; notifications that arrive meanwhile are kept."""
        message = self.reply(method, params, timeout)
        if "error" in message:
            raise AssertionError(f"{method} failed: {message['error']}")
        return message.get("result")

    def reply(self, method: Any, params: Any = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send a request and return the whole response (`result` or `error`)."""
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        return self.response(ident, timeout)

    def response(self, ident: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Wait for the response to the request `ident`; notifications meanwhile are kept."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline)
            if message.get("id") == ident and "method" not in message:
                return message
            self._keep(message)

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def _keep(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server: answer it
            self.send({"id": message["id"], "result": None})
        elif "method" in message:
            self.notifications.append(message)

    def diagnostics(self, uri: str, version: int | None = None, timeout: float = TIMEOUT):
        """Wait for the diagnostics of `uri` (of that version, when given) and return them."""
        deadline = time.monotonic() + timeout
        while True:
            for note in self.notifications:
                params = note["params"]
                ours = note["method"] == "textDocument/publishDiagnostics" and params["uri"] == uri
                if ours and (version is None or params.get("version") == version):
                    self.notifications.remove(note)
                    return params["diagnostics"]
            self._keep(self._next(deadline))

    # ---- life cycle -------------------------------------------------------------------
    def initialize(self, root: Path, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        params = {
            "processId": os.getpid(),
            "rootUri": root.as_uri(),
            "capabilities": capabilities or {},
        }
        result = self.request("initialize", params)
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.resolve().as_uri()
        text = path.read_text("utf-8") if text is None else text
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "clm", "version": version, "text": text}},
        )
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
        )

    def at(self, method: str, uri: str, line: int, character: int) -> Any:
        params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
        return self.request(method, params)

    def close(self) -> int:
        """Shut down politely; return the exit code (killing the server if it lingers)."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", timeout=5)
                self.notify("exit", None)
            return self.process.wait(timeout=5)
        except (ServerGone, OSError, ValueError, subprocess.TimeoutExpired):
            self.process.kill()
            return self.process.wait(timeout=5)
        finally:
            if self.process.stdin is not None:
                self.process.stdin.close()

    def stderr(self, last: int = 2000) -> str:
        """What the server wrote to stderr so far (its log), the `last` characters of it."""
        return b"".join(self._stderr).decode("utf-8", errors="replace")[-last:]
