"""`clm lsp` driven over stdio as an editor drives it: initialize, didOpen, diagnostics,
hover, definition, completion, documentSymbol, formatting, shutdown and exit.

One server serves the whole module (starting Python with clmlang takes seconds); every
wait has a timeout (tests/lsp_client.py), so a broken server fails the tests, never hangs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from clmlang.api import analyse_text
from clmlang.language.formatter import format_text

from . import lsp_fuzz
from .lsp_client import LspClient

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
CLINIC = SPECS / "clinic.clm"
TYRES = SPECS / "tyre_shop.clm"


@pytest.fixture(scope="module")
def client() -> Iterator[LspClient]:
    lsp = LspClient(ROOT, "--stdio")  # as VS Code's client starts it
    lsp.capabilities = lsp.initialize(ROOT)["capabilities"]  # type: ignore[attr-defined]
    lsp.opened = set()  # type: ignore[attr-defined]
    yield lsp
    lsp.close()


def position(text: str, needle: str, into: int = 0) -> tuple[int, int]:
    """The (line, character) of `needle` in `text`, `into` characters in (`needle` "": at
    offset `into`). Columns count UTF-16 units, as the editor does."""
    offset = text.index(needle) + into
    begin = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, offset)
    return line, len(text[begin:offset].encode("utf-16-le")) // 2


def test_initialize_announces_the_features(client: LspClient):
    capabilities = client.capabilities  # type: ignore[attr-defined]
    for feature in (
        "hoverProvider",
        "definitionProvider",
        "completionProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
        "textDocumentSync",
    ):
        assert capabilities.get(feature) not in (None, False), feature
    assert capabilities["textDocumentSync"]["openClose"] is True


def test_diagnostics_as_you_type(client: LspClient, tmp_path: Path):
    """Open a spec with a typo: the same code, message, hint and place as `clm check`; fix the
    typo: no diagnostics."""
    path = tmp_path / "typo.clm"
    good = CLINIC.read_text()
    bad = good.replace("in stage forming\n", "in stage formng\n", 1)
    uri = client.open(path, bad, version=1)
    diagnostics = client.diagnostics(uri, version=1)
    expected = analyse_text(bad, str(path), compile_policy=False).diagnostics
    assert [d["code"] for d in diagnostics] == [d.code for d in expected]
    (typo,) = [d for d in diagnostics if d["code"] == "CLM100"]
    assert typo["severity"] == 1 and typo["source"] == "clm"
    assert typo["message"] == "undefined stage `formng`\nhint: did you mean `forming`?"
    line, character = position(bad, "formng")
    assert typo["range"] == {
        "start": {"line": line, "character": character},
        "end": {"line": line, "character": character + len("formng")},
    }
    # the editor sends the keystroke as an incremental change: `formng` -> `forming`
    edit = {
        "start": {"line": line, "character": character + 4},
        "end": {"line": line, "character": character + 4},
    }
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": edit, "text": "i"}],
        },
    )
    assert client.diagnostics(uri, version=2) == []


def test_half_typed_rule_keeps_the_server_answering(client: LspClient, tmp_path: Path):
    """A rule being typed is a syntax error; names elsewhere still hover and complete."""
    text = CLINIC.read_text() + "\nrule half {\n  in stage for"
    uri = client.open(tmp_path / "half.clm", text)
    diagnostics = client.diagnostics(uri)
    assert [d["code"] for d in diagnostics] == ["CLM001"]
    hover = client.at("textDocument/hover", uri, *position(text, "offer facial", 7))
    assert "**product** `facial`" in hover["contents"]["value"]
    for garbage in ['rule { { "', "\x00\x01 stage", "(((((", "", 'send "' * 50]:
        client.change(uri, garbage, version=3)
        client.diagnostics(uri, version=3)
        assert client.at("textDocument/hover", uri, 0, 3) is None
        client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        client.at("textDocument/completion", uri, 0, len(garbage))


def test_random_edits_never_break_the_server(client: LspClient, tmp_path: Path):
    """Sixty random keystrokes and deletions, as incremental changes, each followed by a
    request at a random place; at the end the server's diagnostics are `clm check`'s for the
    text the editor has."""
    rng = random.Random(11)
    text = CLINIC.read_text()
    path = tmp_path / "typing.clm"
    uri = client.open(path, text)
    client.diagnostics(uri)
    pieces = ["", "x", " ", "\n", "{", "}", '"', "stage ", "rule r {", "when ", "(", "10%", "é"]
    methods = ["textDocument/hover", "textDocument/completion", "textDocument/definition"]
    for version in range(2, 62):
        start = rng.randrange(len(text) + 1)
        end = min(len(text), start + rng.choice([0, 0, 1, 3, 12]))
        new = rng.choice(pieces)
        (a_line, a_char), (b_line, b_char) = position(text, "", start), position(text, "", end)
        edit = {
            "range": {
                "start": {"line": a_line, "character": a_char},
                "end": {"line": b_line, "character": b_char},
            },
            "text": new,
        }
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [edit]},
        )
        text = text[:start] + new + text[end:]
        client.diagnostics(uri, version=version)
        line, character = position(text, "", rng.randrange(len(text) + 1))
        client.at(rng.choice(methods), uri, line, character)
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert isinstance(symbols, list)
    client.change(uri, text, version=100)  # the same text once more, whole
    codes = [d["code"] for d in client.diagnostics(uri, version=100)]
    expected = analyse_text(text, str(path), compile_policy=False, allow_module=True)
    assert codes == [d.code for d in expected.diagnostics]


def hover_still_works(client: LspClient) -> None:
    """A good request after a bad one gets its full, right answer."""
    text = CLINIC.read_text()
    uri = CLINIC.resolve().as_uri()
    if uri not in client.opened:  # type: ignore[attr-defined]
        client.open(CLINIC, text)
        client.diagnostics(uri)
        client.opened.add(uri)  # type: ignore[attr-defined]
    hover = client.at("textDocument/hover", uri, *position(text, "in stage forming", 11))
    assert hover["contents"]["value"].startswith("**stage** `forming` — From the 3rd visit")
    assert client.process.poll() is None


def at(line, character, uri="CLINIC"):
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


BAD_REQUESTS = [
    # (method, params, what the error message says)
    ("textDocument/hover", 5, "params: expected HoverParams"),
    ("textDocument/hover", {"position": {"line": 0, "character": 0}}, "textDocument: required"),
    ("textDocument/definition", {"textDocument": {"uri": "CLINIC"}}, "position: required"),
    ("textDocument/completion", at(-1, 0), "Position.line should be in range"),
    ("textDocument/hover", at(2**40, 0), "Position.line should be in range"),
    ("textDocument/hover", at("x", 0), "position.line: expected int"),
    ("textDocument/formatting", {"textDocument": {"uri": "CLINIC"}, "options": {}}, "tabSize"),
    ("textDocument/documentSymbol", {"textDocument": {"uri": 7}}, "no open document 7"),
    ("textDocument/hover", at(0, 0, "file:///nowhere.clm"), "no open document file:///nowhere.clm"),
    ("textDocument/formatting", {"textDocument": {"uri": "untitled:1"}, "options": {"tabSize": 2, "insertSpaces": True}}, "no open document untitled:1"),
]  # fmt: skip


def _params(params, uri):
    if isinstance(params, dict) and params.get("textDocument", {}).get("uri") == "CLINIC":
        return {**params, "textDocument": {"uri": uri}}
    return params


@pytest.mark.parametrize(("method", "params", "says"), BAD_REQUESTS)
def test_bad_params_are_answered_with_invalid_params(client: LspClient, method, params, says):
    """A request whose params do not fit its method, or name a document that is not open, is
    answered with InvalidParams under its id; the next good request is answered as usual."""
    hover_still_works(client)
    response = client.reply(method, _params(params, CLINIC.resolve().as_uri()))
    assert response["id"] == client.next_id and "result" not in response
    assert response["error"]["code"] == -32602
    assert says in response["error"]["message"]
    hover_still_works(client)


def test_bad_notifications_and_broken_frames(client: LspClient):
    """A notification that does not fit is dropped (nothing to answer); a body that is not
    JSON is answered with ParseError and no id; a notification sent with an id is answered
    InvalidRequest. The server answers the next request every time."""
    hover_still_works(client)
    uri = CLINIC.resolve().as_uri()
    for method, params in [
        ("textDocument/didOpen", 5),
        ("textDocument/didOpen", {"textDocument": {"uri": uri}}),
        ("textDocument/didChange", {"textDocument": {"uri": uri, "version": 9}}),
        ("textDocument/didChange", {"textDocument": {"uri": "file:///no.clm", "version": 1},
                                    "contentChanges": [{"text": "rule {"}]}),
        ("textDocument/didSave", []),
        ("$/cancelRequest", {"id": {}}),
    ]:  # fmt: skip
        client.notify(method, params)
        hover_still_works(client)
    for body in [b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000]:
        client.send_body(body)
        error = client.response(None)["error"]
        assert error["code"] == -32700 and error["message"].startswith("the message is not JSON")
        hover_still_works(client)
    client.send({"id": "c1", "method": "$/cancelRequest", "params": {"id": 1}})
    error = client.response("c1")["error"]
    assert error["code"] == -32600 and "is a notification" in error["message"]
    for message in [[1, 2], {"jsonrpc": "2.0", "id": 5, "method": 5}, {"id": 6, "method": "x"}]:
        client.send_body(json.dumps(message).encode())
        error = client.response(None if isinstance(message, list) else message["id"])
        assert error["error"]["code"] == -32600
        hover_still_works(client)


def test_a_line_separator_in_a_message_text_is_not_a_line(client: LspClient, tmp_path: Path):
    """U+2028 and a form feed inside a string are no line breaks for LSP: an edit on a later
    line lands where the editor made it (pygls's own copy of the text split lines there)."""
    text = CLINIC.read_text().replace('"Time for your', '"\u2028Time\x0c for your', 1)
    path = tmp_path / "separator.clm"
    uri = client.open(path, text)
    assert client.diagnostics(uri) == []
    line, character = position(text, "in stage forming, loyal", len("in stage "))
    edit = {"start": {"line": line, "character": character},
            "end": {"line": line, "character": character + len("forming")}}  # fmt: skip
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2},
         "contentChanges": [{"range": edit, "text": "formng"}]},
    )  # fmt: skip
    (typo,) = client.diagnostics(uri, version=2)
    assert typo["message"].startswith("undefined stage `formng`")
    assert typo["range"]["start"] == {"line": line, "character": character}


def test_a_reversed_range_counts_from_its_earlier_end(client: LspClient, tmp_path: Path):
    """A change whose range ends before it starts replaces the same text as the range the
    right way round (as vscode-languageserver's TextDocument does)."""
    text = CLINIC.read_text()
    uri = client.open(tmp_path / "reversed.clm", text)
    client.diagnostics(uri)
    line, character = position(text, "stage forming", len("stage "))
    backwards = {"start": {"line": line, "character": character + len("forming")},
                 "end": {"line": line, "character": character}}  # fmt: skip
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2},
         "contentChanges": [{"range": backwards, "text": "shaping"}]},
    )  # fmt: skip
    client.diagnostics(uri, version=2)
    hover = client.at("textDocument/hover", uri, line, character + 1)
    assert hover["contents"]["value"].startswith("**stage** `shaping`")


def test_fuzzed_messages_are_all_answered(client: LspClient):
    """Four hundred seeded messages, a third of them mutated (tests/lsp_fuzz.py): every
    request is answered, the server lives, and a good request still gets its answer."""
    lsp = lsp_fuzz.run(seed=7, count=400)
    lsp.opened = set()  # type: ignore[attr-defined]
    try:
        hover_still_works(lsp)
    finally:
        assert lsp.close() == 0
    assert "Traceback" not in lsp.stderr(last=10**9)


def test_hover_on_a_stage(client: LspClient):
    text = CLINIC.read_text()
    uri = client.open(CLINIC, text)
    client.diagnostics(uri)
    hover = client.at("textDocument/hover", uri, *position(text, "in stage forming", 11))
    value = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert value.startswith("**stage** `forming` — From the 3rd visit")
    assert "Stage 3 of 5 in the lifecycle" in value and "```clm\nstage forming" in value
    line, character = position(text, "in stage forming", 9)
    assert hover["range"]["start"] == {"line": line, "character": character}


def test_definition_across_use_files(client: LspClient):
    text = TYRES.read_text()
    uri = client.open(TYRES, text)
    client.diagnostics(uri)
    location = client.at("textDocument/definition", uri, *position(text, "send email", 6))
    channels = SPECS / "common" / "channels.clm"
    assert location["uri"] == channels.as_uri()
    line, character = position(channels.read_text(), "channel email", 8)
    assert location["range"]["start"] == {"line": line, "character": character}
    # on the `use` line itself: the used file
    used = client.at("textDocument/definition", uri, *position(text, 'use "', 6))
    assert used["uri"] == channels.as_uri()
    hover = client.at("textDocument/hover", uri, *position(text, 'use "', 6))
    assert "channels: `email`, `sms`, `push`, `call`" in hover["contents"]["value"]
    # and within the file: a rule's product to its declaration
    local = client.at("textDocument/definition", uri, *position(text, "offer tyre_change", 7))
    assert local["uri"] == uri
    assert local["range"]["start"]["line"] == position(text, "product tyre_change")[0]


def test_completion_of_names_and_keywords(client: LspClient, tmp_path: Path):
    text = CLINIC.read_text() + '\nrule more {\n  send sms "Hello" offer '
    uri = client.open(tmp_path / "more.clm", text)
    client.diagnostics(uri)
    lines = text.splitlines()
    result = client.at("textDocument/completion", uri, len(lines) - 1, len(lines[-1]) + 1)
    items = {item["label"]: item for item in result["items"]}
    assert {"facial", "hygiene", "line", "discount"} <= set(items)
    assert items["facial"]["kind"] == 7  # Class: a product
    assert items["line"]["kind"] == 14  # Keyword
    client.change(uri, text.rsplit("\n", 1)[0] + "\n  ", version=2)
    client.diagnostics(uri, version=2)
    result = client.at("textDocument/completion", uri, len(lines) - 1, 2)
    labels = {item["label"] for item in result["items"]}
    assert {"send", "holdout", "reentry", "keep_rhythm"} <= labels


def test_document_symbols_outline(client: LspClient):
    path = SPECS / "ecommerce_rfm.clm"
    uri = client.open(path)
    client.diagnostics(uri)
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    names = [s["name"] for s in symbols]
    assert "second_order" in names and "champions" in names
    rule = next(s for s in symbols if s["name"] == "second_order")
    assert rule["kind"] == 12 and rule["detail"] == "The second order is the hardest"
    untitled = next(s for s in symbols if s["name"] == "big_spender_thanks")
    assert untitled["detail"] == "rule"  # no title: the kind
    assert [c["name"] for c in rule["children"]] == ["plain", "discount"]
    start, end = rule["range"]["start"]["line"], rule["range"]["end"]["line"]
    assert start < rule["selectionRange"]["start"]["line"] + 1 <= end + 1


def test_formatting_through_clm_fmt(client: LspClient, tmp_path: Path):
    messy = 'program   "x"\nstage all when purchases>=0\nrule r { on first purchase\n send email "hi" }\n'
    uri = client.open(tmp_path / "messy.clm", messy)
    client.diagnostics(uri)
    options = {"tabSize": 2, "insertSpaces": True}
    params = {"textDocument": {"uri": uri}, "options": options}
    (edit,) = client.request("textDocument/formatting", params)
    assert edit["newText"] == format_text(messy)
    assert edit["range"]["start"] == {"line": 0, "character": 0}
    assert edit["range"]["end"] == {"line": 4, "character": 0}
    client.change(uri, format_text(messy), version=2)
    client.diagnostics(uri, version=2)
    assert client.request("textDocument/formatting", params) == []  # already formatted
    client.change(uri, "rule {", version=3)
    client.diagnostics(uri, version=3)
    assert client.request("textDocument/formatting", params) == []  # does not parse


def test_positions_in_utf16(client: LspClient, tmp_path: Path):
    """A non-BMP character before a name: the editor's UTF-16 column still finds it."""
    text = CLINIC.read_text().replace(
        '"Time for your next visit" offer', '"\U0001f600 Time for your next visit" offer', 1
    )
    uri = client.open(tmp_path / "emoji.clm", text)
    client.diagnostics(uri)
    line, character = position(text, "offer line cosmetology", len("offer line c"))
    begin = text.index("offer line cosmetology") - text.rfind("\n", 0, text.index("offer line"))
    assert character == begin - 1 + len("offer line c") + 1  # the emoji is two UTF-16 units
    hover = client.at("textDocument/hover", uri, line, character)
    assert hover is not None and "**line** `cosmetology`" in hover["contents"]["value"]
    assert hover["range"]["start"]["character"] == character - len("c")


def test_positions_in_utf8_when_the_editor_prefers_it(tmp_path: Path):
    """Neovim offers UTF-8 positions first: the server agrees, and columns count bytes."""
    lsp = LspClient(ROOT)
    try:
        general = {"general": {"positionEncodings": ["utf-8", "utf-16"]}}
        assert lsp.initialize(ROOT, general)["capabilities"]["positionEncoding"] == "utf-8"
        text = CLINIC.read_text().replace('"Time for your', '"\u00e9\U0001f600 Time for your', 1)
        uri = lsp.open(tmp_path / "utf8.clm", text)
        lsp.diagnostics(uri)
        offset = text.index("offer line cosmetology") + len("offer line c")
        line = text.count("\n", 0, offset)
        byte = len(text[text.rfind("\n", 0, offset) + 1 : offset].encode("utf-8"))
        hover = lsp.at("textDocument/hover", uri, line, byte)  # é: 2 bytes, emoji: 4
        assert hover is not None and "**line** `cosmetology`" in hover["contents"]["value"]
        assert hover["range"]["start"]["character"] == byte - 1
        # an editor that dies closes the pipe without `exit`: the server ends too
        assert lsp.process.stdin is not None
        lsp.process.stdin.close()
        assert lsp.process.wait(timeout=15) == 0, lsp.stderr()
    finally:
        lsp.close()


def test_saving_a_used_file_checks_its_users_again(client: LspClient, tmp_path: Path):
    module = tmp_path / "common.clm"
    module.write_text("channel email cost 0.1\n")
    text = 'use "common.clm"\nprogram "x"\nstage all when purchases >= 0\n'
    text += 'rule r {\n  on purchase\n  send email "hi"\n}\n'
    uri = client.open(tmp_path / "spec.clm", text)
    assert client.diagnostics(uri) == []
    module.write_text("channel mail cost 0.1\n")  # the editor saves the used file
    used = client.open(module)
    (alone,) = client.diagnostics(used)  # a module, checked alone as `clm check` does
    assert alone["code"] == "CLM115" and alone["range"]["start"] == {"line": 0, "character": 8}
    client.notify("textDocument/didSave", {"textDocument": {"uri": used}})
    problems = {d["code"]: d for d in client.diagnostics(uri)}
    assert set(problems) == {"CLM100", "CLM115"}
    assert "`email`" in problems["CLM100"]["message"]
    assert problems["CLM100"]["range"]["start"]["line"] == 5
    # `mail` has no kind: a problem in the used file, shown on the `use` line
    in_module = problems["CLM115"]
    assert in_module["range"]["start"]["line"] == 0
    assert in_module["message"].startswith(f"in {module}:1:9: channel `mail` needs a `kind`")
    assert in_module["relatedInformation"][0]["location"]["uri"] == used


def test_closing_clears_the_diagnostics(client: LspClient, tmp_path: Path):
    uri = client.open(tmp_path / "closing.clm", "rule {")
    assert client.diagnostics(uri)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri) == []
    params = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}
    error = client.reply("textDocument/hover", params)["error"]  # closed: not known any more
    assert error["code"] == -32602 and error["message"].startswith(f"no open document {uri}")


def test_shutdown_and_exit(client: LspClient):
    """Last: `shutdown` then `exit` ends the server with code 0 (the module's server), which
    never wrote a traceback, whatever the tests above sent it."""
    assert client.close() == 0, client.stderr()
    assert "Traceback" not in client.stderr(last=10**9)
    assert "Traceback" not in client.stderr()
