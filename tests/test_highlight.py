"""Highlighting: the Pygments lexer and the TextMate grammar of editors/vscode.

Both are checked against the grammar (every keyword of clm.lark, read here from the grammar
text, is highlighted as a keyword: a new keyword without highlighting fails), against every
example spec (no error token, nothing unscoped), and against each other (a word gets the
same kind of colour from both).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import markdown
import pytest
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String, Token

from clmlang.language.highlight import ClmLexer

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").rglob("*.clm"))
VSCODE = ROOT / "editors" / "vscode"
TMLANGUAGE = VSCODE / "syntaxes" / "clm.tmLanguage.json"


def grammar_keywords() -> set[str]:
    """Every quoted word of clm.lark, found here independently of clmlang.keywords."""
    text = (ROOT / "clmlang" / "language" / "grammar" / "clm.lark").read_text()
    text = re.sub(r"//[^\n]*", "", text)
    return set(re.findall(r'"([a-z_]+)"', text))


def tokens(text: str) -> list[tuple[object, str]]:
    return [(kind, value) for kind, value in ClmLexer().get_tokens(text) if value.strip()]


# ---- Pygments ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_lexer_has_no_error_on_any_spec(path: Path):
    text = path.read_text()
    lexed = list(ClmLexer().get_tokens(text))
    assert [v for k, v in lexed if k in Error] == []
    assert "".join(v for _, v in lexed) == text  # every character accounted for


def test_lexer_token_types():
    text = (
        'program "Clinic" currency RUB  # the header\n'
        "stage loyal when purchases in 8..21 goal return within 60 days\n"
        "rule r { on 2026-12-20 when owns(line x) and not rfm.r >= 4 "
        'send sms "a \\"b\\"" offer facial discount 10% tag promo }\n'
    )
    got = {value: kind for kind, value in tokens(text)}
    assert got["program"] is Keyword.Declaration and got["stage"] is Keyword.Declaration
    assert got['"Clinic"'] in String and got['"a \\"b\\""'] in String
    assert got["# the header"] in Comment
    assert got["RUB"] is Keyword.Type and got["days"] is Keyword.Type and got["%"] is Keyword.Type
    assert got["60"] in Number and got["8"] in Number and got["2026-12-20"] in Number
    assert got["loyal"] in Name and got["r"] is Name.Function
    assert got["when"] in Keyword and got["goal"] in Keyword and got["offer"] in Keyword
    assert got["and"] is Operator.Word and got["not"] is Operator.Word
    assert got["purchases"] is Name.Builtin and got["owns"] is Name.Builtin
    assert got["rfm.r"] is Name.Builtin and got[".."] is Operator and got[">="] is Operator
    assert got["facial"] is Name and got["promo"] is Name


def test_lexer_highlights_every_grammar_keyword():
    for word in sorted(grammar_keywords()):
        (kind,) = [k for k, _ in tokens(word)]
        assert kind in Keyword or kind is Operator.Word, (word, kind)


def test_lexer_survives_broken_text():
    for text in ['send "unterminated\nstage', "@@@ $ ` ~", "\x00", "", "rule { ( ] }"]:
        lexed = list(ClmLexer().get_tokens(text))
        assert "".join(v for _, v in lexed).rstrip("\n") == text.rstrip("\n")


def test_pygments_finds_the_plugin():
    """The `pygments.lexers` entry point: Pygments, and so Markdown, find the lexer by name."""
    assert type(get_lexer_by_name("clm")) is ClmLexer
    assert find_lexer_class_for_filename("specs/clinic.clm") is ClmLexer
    html = highlight(
        "stage new when purchases == 0  # first\n", get_lexer_by_name("clm"), HtmlFormatter()
    )
    assert '<span class="kd">stage</span>' in html and '<span class="c1"># first</span>' in html


def test_the_plugin_loads_without_the_simulator():
    """Pygments imports every plugin when it looks a lexer up by file name: the lexer must not
    pull in numpy, pandas or the simulator (seconds, for every `pygmentize x.py`)."""
    code = (
        "import sys; from pygments.lexers import find_lexer_class_for_filename as find; "
        "assert find('x.clm').__name__ == 'ClmLexer'; "
        "print(sorted(m for m in ('numpy', 'pandas', 'lark', 'clmlang.api') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_markdown_renders_clm_blocks_highlighted():
    page = '# Tour\n\n```clm\nrule thanks {\n  send email "Thanks"\n}\n```\n'
    html = markdown.markdown(page, extensions=["fenced_code", "codehilite"])
    assert '<span class="kd">rule</span>' in html and '<span class="s2">"Thanks"</span>' in html


# ---- TextMate ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def tm_grammar() -> dict:
    return json.loads(TMLANGUAGE.read_text())


def _regexes(node: object):
    """Every regex of a TextMate grammar, with the scope of the rule it belongs to."""
    if isinstance(node, dict):
        for key in ("match", "begin", "end", "while"):
            if key in node:
                yield node[key], node.get("name", "")
        for value in node.values():
            yield from _regexes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _regexes(value)


def _python(regex: str) -> str:
    r"""Oniguruma to Python `re` for the features these grammars use: `\G` (here: nothing)
    and, in an `end` or `while`, back-references to the `begin` (here: any text)."""
    return re.sub(r"\\[1-9]", ".*?", regex.replace("\\G", ""))


@pytest.mark.parametrize("path", sorted((VSCODE / "syntaxes").glob("*.json")), ids=lambda p: p.name)
def test_textmate_grammars_are_json_and_compile(path: Path):
    grammar = json.loads(path.read_text())
    assert grammar["scopeName"]
    found = list(_regexes(grammar))
    assert found
    for regex, _ in found:
        re.compile(_python(regex))


def test_vscode_manifest_points_at_real_files():
    manifest = json.loads((VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "clm" and language["extensions"] == [".clm"]
    json.loads((VSCODE / language["configuration"]).read_text())
    for grammar in manifest["contributes"]["grammars"]:
        assert (
            json.loads((VSCODE / grammar["path"]).read_text())["scopeName"] == grammar["scopeName"]
        )
    assert (VSCODE / manifest["main"]).is_file() and (VSCODE / "README.md").is_file()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_vscode_extension_script_is_valid_javascript():
    subprocess.run(["node", "--check", str(VSCODE / "extension.js")], check=True, timeout=60)


def test_textmate_covers_every_grammar_keyword():
    patterns = [
        (re.compile(_python(regex)), scope)
        for regex, scope in _regexes(tm_grammar()["repository"])
        if scope.startswith(("keyword.", "storage.", "constant.language"))
    ]
    missing = [
        word
        for word in sorted(grammar_keywords())
        if not any(regex.fullmatch(word) for regex, _ in patterns)
    ]
    assert missing == [], f"keywords without highlighting in {TMLANGUAGE.name}: {missing}"


# A TextMate scanner small enough for this grammar: at each point the leftmost match of the
# top-level patterns wins, the first listed on a tie; begin/end rules run to their end.
def _rules() -> list[dict]:
    grammar = tm_grammar()

    def flatten(rule: dict) -> list[dict]:
        if "include" in rule:
            return flatten(grammar["repository"][rule["include"].lstrip("#")])
        if "patterns" in rule and "match" not in rule and "begin" not in rule:
            return [r for sub in rule["patterns"] for r in flatten(sub)]
        return [rule]

    return [r for top in grammar["patterns"] for r in flatten(top)]


def scopes(line: str) -> list[str]:
    """The scope of each character of one line ('' where no rule applies)."""
    out = [""] * len(line)
    rules = [(rule, re.compile(_python(rule.get("match") or rule["begin"]))) for rule in _rules()]
    at = 0
    while at < len(line):
        best = None
        for rule, regex in rules:
            found = regex.search(line, at)
            if (
                found
                and found.end() > found.start()
                and (best is None or found.start() < best[1].start())
            ):
                best = (rule, found)
        if best is None:
            break
        rule, found = best
        end = found.end()
        if "begin" in rule:
            closing = re.compile(_python(rule["end"])).search(line, end)
            end = closing.end() if closing else len(line)
        for i in range(found.start(), end):
            out[i] = rule.get("name", "")
        for group, capture in rule.get("captures", {}).items():
            if found.group(int(group)) is not None:
                for i in range(*found.span(int(group))):
                    out[i] = capture["name"]
        at = end
    return out


# The TextMate scope each Pygments token type must get.
_AGREE = [
    (Comment, "comment."),
    (String, "string."),
    (Number, "constant.numeric"),
    (Keyword.Type, "keyword.other.unit"),
    (Keyword.Declaration, "storage.type"),
    (Keyword.Constant, "constant.language"),
    (Keyword, ("keyword.control", "keyword.other")),
    (Operator.Word, "keyword.operator.word"),
    (Operator, "keyword.operator"),
    (Name.Builtin, "support."),
    (Name.Variable, "entity.name"),
    (Name.Class, "entity.name"),
    (Name.Attribute, "entity.name"),
    (Name.Label, "entity.name"),
    (Name.Constant, "entity.name"),
    (Name.Function, "entity.name"),
    (Name, "variable.other"),
    (Token.Punctuation, "punctuation."),
]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_textmate_and_pygments_agree_on_every_spec(path: Path):
    """Every non-blank character of every spec is scoped, as Pygments sees it."""
    text = path.read_text()
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    per_line = [scopes(line) for line in text.split("\n")]
    offset = 0
    for kind, value in ClmLexer().get_tokens(text):
        if value.strip():
            line = text.count("\n", 0, offset)
            scope = per_line[line][offset - line_starts[line]]
            wanted = next(prefix for token, prefix in _AGREE if kind in token)
            assert scope.startswith(wanted), (path.name, line + 1, value, kind, scope)
        offset += len(value)
