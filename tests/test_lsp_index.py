"""The language server's pure parts, without the protocol: positions, index, hover, completion,
and a document's diagnostics. Fast: no subprocess."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from clmlang.api import analyse
from clmlang.lsp.completion import complete
from clmlang.lsp.document import Document
from clmlang.lsp.hover import describe, describe_use
from clmlang.lsp.index import Index, Reference
from clmlang.lsp.positions import Positions

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
CLINIC = SPECS / "clinic.clm"
TYRES = SPECS / "tyre_shop.clm"


def open_doc(path: Path, text: str | None = None) -> Document:
    name = str(path)
    return Document.open(path.as_uri(), name, path.read_text() if text is None else text)


def labels(doc: Document, text: str) -> list[str]:
    """Completions with the cursor at the end of `text` (the document is `text`)."""
    return [c.label for c in complete(doc.index, text, len(text))]


# ---- positions -------------------------------------------------------------------------


def test_positions_count_utf16_units():
    """An emoji is one character but two UTF-16 units: positions after it shift by one."""
    text = 'rule a {\n  send sms "\U0001f600 hi" offer x\n}\n'
    offset = text.index("offer")
    utf16 = Positions(text, "utf-16")
    assert utf16.position(offset) == (1, 19)
    assert utf16.offset(1, 19) == offset
    assert Positions(text, "utf-32").position(offset) == (1, 18)
    assert Positions(text, "utf-8").position(offset) == (1, 21)
    assert utf16.offset(1, 999) == text.index("\n}")  # past the line's end: its end
    assert utf16.offset(99, 0) == len(text) and utf16.offset(-1, 5) == 0


# ---- index -----------------------------------------------------------------------------


def test_outline_lists_declarations_in_order():
    index = open_doc(CLINIC).index
    outline = [(s.kind, s.name) for s in index.outline(str(CLINIC))]
    assert outline[0] == ("program", "Clinic group")
    assert ("stage", "forming") in outline and ("rule", "keep_rhythm") in outline
    assert [n for k, n in outline if k == "stage"] == [
        "potential",
        "newcomer",
        "forming",
        "loyal",
        "devoted",
    ]
    assert not [k for k, _ in outline if k in ("line", "tag")]  # implicit: not in the outline


def test_rule_variants_are_children():
    index = open_doc(SPECS / "ecommerce_rfm.clm").index
    rule = index.declared("rule")["second_order"]
    assert [c.name for c in rule.children] == ["plain", "discount"]


def test_reference_resolves_to_declaration():
    doc = open_doc(CLINIC)
    offset = doc.text.index("in stage forming") + len("in stage f")
    symbol = doc.index.symbol_at(doc.name, offset)
    assert symbol is not None and (symbol.kind, symbol.name) == ("stage", "forming")
    assert doc.text[symbol.name_span.start : symbol.name_span.end] == "forming"
    # on the declaration's own name, the declaration itself
    own = doc.text.index("stage forming") + len("stage f")
    assert doc.index.symbol_at(doc.name, own) is symbol


def test_reference_across_use_files():
    doc = open_doc(TYRES)
    offset = doc.text.index("send email") + len("send e")
    symbol = doc.index.symbol_at(doc.name, offset)
    assert symbol is not None and symbol.kind == "channel"
    assert symbol.span.file == str(SPECS / "common" / "channels.clm")
    use, path = doc.index.use_at(doc.name, doc.text.index('use "'))
    assert path == symbol.span.file and use.path == "common/channels.clm"


def test_condition_names_resolve_by_kind():
    doc = open_doc(CLINIC)
    text = doc.text
    segment = doc.index.symbol_at(doc.name, text.index("for cosmetology_only") + 5)
    assert segment is not None and segment.kind == "segment"
    audience = doc.index.symbol_at(doc.name, text.index("audience is premium") + 13)
    assert audience is not None and audience.kind == "audience"
    line = doc.index.symbol_at(doc.name, text.index("offer line cosmetology") + 12)
    assert line is not None and (line.kind, line.name) == ("line", "cosmetology")


# ---- hover -----------------------------------------------------------------------------


def hover_at(doc: Document, needle: str, into: int) -> str | None:
    ref = doc.index.reference_at(doc.name, doc.text.index(needle) + into)
    return None if ref is None else describe(doc.index, ref, doc.analysis.sources)


def test_hover_stage_shows_definition_and_place():
    text = hover_at(open_doc(CLINIC), "in stage forming", 10)
    assert text is not None
    assert text.startswith("**stage** `forming` — From the 3rd visit")
    assert "```clm\nstage forming" in text
    assert "Stage 3 of 5 in the lifecycle; goal: return within 74 days." in text
    assert "`keep_rhythm`" in text  # the rules that use it


def test_hover_product_shows_role():
    text = hover_at(open_doc(CLINIC), "offer facial", 7)
    assert text is not None and "Role **profit**: the core product that makes the money" in text
    assert "In line `cosmetology`." in text


def test_hover_channel_in_used_file_says_where():
    text = hover_at(open_doc(TYRES), "send sms", 6)
    assert text is not None and text.startswith("**channel** `sms`")
    assert "text message; 2.5 a message" in text
    assert "Defined in `" in text and "channels.clm`, line 5." in text


def test_hover_rule_fields_and_functions():
    doc = open_doc(CLINIC)
    rule = hover_at(doc, "rule keep_rhythm", 6)
    assert rule is not None and "Communication rule, in forming." in rule
    field = hover_at(doc, "days_since_purchase >= 60", 3)
    assert field is not None and "**field** `days_since_purchase`" in field
    function = hover_at(doc, "owns(line cosmetology)", 1)
    assert function is not None and "**function** `owns(product|line)`" in function
    assert (
        describe(doc.index, Reference("nothing", ("stage",), doc.index.symbols[0].span), {}) is None
    )
    segment = hover_at(doc, "for cosmetology_only", 5)
    assert segment is not None and "Segment: a named condition" in segment
    assert "`into_dentistry`" in segment
    attribute = hover_at(doc, "anniversary of birthday", 16)
    assert attribute is not None and "Customer attribute, a date." in attribute
    tag = hover_at(doc, "tag promo\n", 5)
    assert tag is not None and "Message tag, capped by `cap tag promo 2 per 30 days`." in tag


def test_hover_on_a_use_line_lists_the_file():
    doc = open_doc(TYRES)
    _, path = doc.index.use_at(doc.name, doc.text.index('use "'))
    text = describe_use(doc.index, path)
    assert text.startswith(f"**use** `{path}`")
    assert "channels: `email`, `sms`, `push`, `call`" in text and "3 frequency caps" in text


# ---- completion ------------------------------------------------------------------------


def test_completion_by_context():
    doc = open_doc(CLINIC)
    body = doc.text + "\nrule more {\n"
    assert labels(doc, body + "  send ") == ["email", "sms", "call"]
    assert labels(doc, body + "  send s") == ["sms"]
    assert "forming" in labels(doc, body + "  in stage ")
    assert labels(doc, body + "  in stage forming, lo") == ["loyal"]
    assert labels(doc, body + "  in stage forming, loyal, d") == ["devoted"]
    assert labels(doc, "product x attach to facial, hy") == ["hygiene"]
    assert labels(doc, body + '  send sms "x" tag promo, pr') == ["promo"]
    assert labels(doc, body + "  continue with keep") == ["keep_rhythm"]
    offer = labels(doc, body + '  send sms "x" offer ')
    assert "facial" in offer and "line" in offer and "discount" in offer
    condition = labels(doc, body + "  when ")
    assert {"days_since_purchase", "owns", "cosmetology_only", "birthday"} <= set(condition)
    assert labels(doc, body + "  on enter d") == ["devoted", "dentistry_only"]  # stage, segment
    assert labels(doc, body + "  for audience is ") == ["premium", "budget"]
    assert labels(doc, body + "  for audience is not b") == ["budget"]
    assert labels(doc, body + "  when last_product is fa") == ["facial"]
    assert "loyal" in labels(doc, body + "  when stage is ")
    assert labels(doc, "stage ") == [] and labels(doc, body[:-12] + "\nrule ") == []
    assert "role" in labels(doc, "product x ")
    assert "profit" in labels(doc, "product x role ")
    assert set(labels(doc, doc.text + "\n")) >= {"rule", "stage", "product", "channel"}


def test_completion_keywords_come_from_the_grammar():
    doc = open_doc(CLINIC)
    everything = labels(doc, doc.text + "\nrule r {\n  x ")
    assert {"holdout", "reentry", "success", "transactional", "anniversary"} <= set(everything)


# ---- diagnostics and robustness ----------------------------------------------------------


def test_document_diagnostics_are_those_of_clm_check(tmp_path: Path):
    path = tmp_path / "typo.clm"
    text = CLINIC.read_text().replace("in stage forming\n", "in stage formng\n", 1)
    path.write_text(text)
    doc = open_doc(path)
    checked = analyse(path, compile_policy=False, allow_module=True)
    assert [p.diagnostic for p in doc.placed()] == list(checked.diagnostics)
    (typo,) = [p for p in doc.placed() if p.diagnostic.code == "CLM100"]
    assert (
        "undefined stage `formng`" in typo.message
        and "hint: did you mean `forming`?" in typo.message
    )
    assert typo.span is not None and text[typo.span.start : typo.span.end] == "formng"


def test_problem_in_used_file_shows_on_the_use_line(tmp_path: Path):
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "bits.clm").write_text("channel email cost 0.1\nchannel sms cost\n")
    spec = tmp_path / "spec.clm"
    text = 'program "x"\nuse "common/bits.clm"\nstage all when purchases >= 0\n'
    doc = open_doc(spec, text)
    (placed,) = doc.placed()
    assert placed.diagnostic.code == "CLM001"
    assert placed.span is not None and text[placed.span.start : placed.span.end].startswith("use")
    assert placed.message.startswith(f"in {tmp_path / 'common' / 'bits.clm'}:2:")


def test_module_file_is_only_parsed():
    doc = open_doc(SPECS / "common" / "channels.clm")
    assert doc.placed() == [] and doc.analysis.module


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.clm")), ids=lambda p: p.name)
def test_any_prefix_of_a_spec_is_survived(path: Path):
    """Half-typed text, cut anywhere: analysis, hover and completion never raise."""
    text = path.read_text()
    rng = random.Random(path.name)
    for cut in sorted(rng.sample(range(len(text)), 12)):
        prefix = text[:cut]
        doc = open_doc(path, prefix)
        for at in (0, cut // 2, cut):
            ref = doc.index.reference_at(doc.name, at)
            if ref is not None:
                describe(doc.index, ref, doc.analysis.sources)
            complete(doc.index, prefix, at)


def test_garbage_is_survived():
    rng = random.Random(7)
    alphabet = (
        'stage rule { } ( ) " # , . .. 1 2% days when in is not and offer send line \n\t\x00é'
    )
    for _ in range(30):
        text = "".join(rng.choice(alphabet.split(" ")) + " " for _ in range(60))
        doc = open_doc(ROOT / "garbage.clm", text)
        assert isinstance(doc.placed(), list)
        complete(doc.index, text, rng.randrange(len(text) + 1))
    assert isinstance(Index.build(open_doc(ROOT / "empty.clm", "").analysis.spec), Index)


def test_a_checker_bug_leaves_a_note_not_a_crash(monkeypatch: pytest.MonkeyPatch):
    """Should checking raise (a bug), the document still opens: parsed, with a note saying so."""

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("clmlang.lsp.document.analyse_text", broken)
    doc = open_doc(CLINIC)
    (note,) = doc.placed()
    assert note.diagnostic.code == "internal" and "could not check" in note.message
    assert doc.index.declared("stage")  # the parse is still there: hover and outline work


def test_failing_handler_answers_nothing():
    from clmlang.lsp.server import _quiet

    @_quiet(default=[])
    def handler(ls, params):
        raise ValueError("boom")

    assert handler(None, None) == []


def test_the_language_server_sits_on_top():
    """House rule: a module imports only what is upstream of it. The language server sits
    beside the command line: only `cli` imports it, and it imports no command."""
    package = ROOT / "clmlang"
    for path in package.rglob("*.py"):
        text = path.read_text()
        inside = path.parent.name in ("lsp", "cli")
        if not inside:
            assert "lsp" not in re.findall(r"^from \.+(\w+)", text, re.MULTILINE), path
        if path.parent.name == "lsp":
            assert not re.search(r"^from \.\.cli\b|^import clmlang\.cli", text, re.MULTILINE), path
