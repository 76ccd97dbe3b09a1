"""The ```clm examples of the documentation never go stale.

Each ```clm block of README.md and docs/*.md is one of three things:

- an excerpt of an example spec, marked by a comment on the line above it:
  `<!-- from specs/clinic.clm:rule keep_rhythm -->`. The block must equal the current
  source of that declaration in that file, with the comment lines right above it. A
  selector is `KIND NAME` (`stage loyal`), `KIND` for the first of a kind (`program`,
  `rfm`, `cap` for the global cap; `cap sms`, `cap tag promo` for the others), or
  `FIRST..LAST` for everything from one declaration to another; no selector: the whole
  file. `CLM_UPDATE_DOCS=1 pytest tests/test_docs.py` rewrites marked blocks from the
  specs;
- a complete spec (it has a `program` and stages): it must check clean, no error and no
  warning;
- a fragment: it must parse, and the checker may only say what a fragment cannot help
  (no `program` or stages, a definition nothing uses, a name that some example spec
  declares); anything else, such as a unit mistake or a misspelt name, fails.

docs/diagnostics.md is left out: its examples are wrong on purpose (tests/fixtures/errors
holds them as snapshots).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import pytest

import clmlang
from clmlang.language import syntax as s
from clmlang.language.parser import parse_text
from clmlang.lsp.index import Index

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md")], key=lambda p: p.relative_to(ROOT)
)
DOCS = [p for p in DOCS if p.name != "diagnostics.md"]
UPDATE = os.environ.get("CLM_UPDATE_DOCS") == "1"

_BLOCK = re.compile(
    r"(?:^<!-- from (?P<marker>[^\s:]+)(?::(?P<selector>[^>]*?))? -->\n)?^```clm\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
# What a fragment cannot help: missing program or stages, unused definitions, other names.
_CONTEXT_CODES = {"CLM104", "CLM135", "CLM100"}


def blocks(path: Path):
    """(marker, selector, body, line) of each ```clm block of a Markdown file."""
    text = path.read_text()
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        yield match.group("marker"), match.group("selector"), match.group("body"), line


def _key(item: s.Item) -> str:
    """How a selector names a declaration: `stage loyal`, `cap sms`, `cap tag promo`, `rfm`."""
    kind = type(item).__name__.lower()
    match item:
        case s.Cap(channel=channel, tag=tag):
            return f"cap {channel.text}" if channel else f"cap tag {tag.text}" if tag else "cap"
        case s.Use(path=path):
            return f'use "{path}"'
        case _ if hasattr(item, "name"):
            return f"{kind} {item.name.text}"  # type: ignore[union-attr]
    return kind


def _with_comments_above(text: str, start: int) -> int:
    """Move `start` (a declaration's) up over the comment lines right above it."""
    begin = text.rfind("\n", 0, start) + 1
    while begin > 0:
        above = text.rfind("\n", 0, begin - 1) + 1
        if not text[above:begin].lstrip().startswith("#"):
            break
        begin = above
    return begin


def excerpt(spec: str, selector: str | None) -> str:
    """The current text of the declarations a marker names, with their comments."""
    path = ROOT / spec
    text = path.read_text()
    if not selector:
        return text
    result = parse_text(text, str(path))
    assert result.file is not None and result.ok, f"{spec} does not parse"
    items = list(result.file.items)
    keys = [_key(item) for item in items]
    first, _, last = selector.strip().partition("..")
    found = []
    for wanted in (first, last or first):
        wanted = " ".join(wanted.split())
        assert wanted in keys, f"no `{wanted}` in {spec}; there are: {', '.join(keys)}"
        found.append(items[keys.index(wanted)])
    begin, end = found[0].span.start, found[1].span.end
    assert begin <= end, f"`{selector}`: the first declaration comes after the last"
    return text[_with_comments_above(text, begin) : end] + "\n"


@lru_cache(maxsize=1)
def names_in_examples() -> frozenset[str]:
    """Every name declared (or a line or tag) by the example specs."""
    names: set[str] = set()
    for path in (ROOT / "specs").rglob("*.clm"):
        index = Index.build(clmlang.analyse(path, compile_policy=False, allow_module=True).spec)
        names.update(symbol.name for symbol in index.walk())
    return frozenset(names)


def _cases():
    for path in DOCS:
        for marker, selector, body, line in blocks(path):
            yield pytest.param(path, marker, selector, body, id=f"{path.name}:{line + 1}")


def test_docs_have_checked_examples():
    assert len(list(_cases())) >= 20
    tour = ROOT / "docs" / "tour.md"
    assert sum(marker is not None for marker, *_ in blocks(tour)) >= 10


@pytest.mark.parametrize(("path", "marker", "selector", "body"), list(_cases()))
def test_doc_example(path: Path, marker: str | None, selector: str | None, body: str):
    where = path.relative_to(ROOT)
    if marker is not None:
        current = excerpt(marker, selector)
        if UPDATE and current != body:
            text = path.read_text()
            head = f"<!-- from {marker}{':' + selector if selector else ''} -->\n```clm\n"
            path.write_text(text.replace(head + body, head + current, 1))
            return
        assert body == current, (
            f"{where}: the excerpt of {marker}:{selector or ''} is stale; "
            "CLM_UPDATE_DOCS=1 pytest tests/test_docs.py brings it up to date"
        )
        return
    # `use` paths in examples are written as from specs/
    name = str(ROOT / "specs" / f"{path.stem}-example.clm")
    if re.search(r"^program\b", body, re.MULTILINE) and re.search(r"^stage\b", body, re.MULTILINE):
        analysis = clmlang.analyse_text(body, name, compile_policy=False)
        assert analysis.diagnostics == (), [f"{d.code} {d.message}" for d in analysis.diagnostics]
        return
    parsed = parse_text(body, name)
    assert parsed.diagnostics == (), [d.message for d in parsed.diagnostics]
    analysis = clmlang.analyse_text(body, name, compile_policy=False)
    for d in analysis.diagnostics:
        assert d.code in _CONTEXT_CODES, f"{where}: {d.code} {d.message}\n{body}"
        if d.code == "CLM100" and d.span is not None:
            written = body[d.span.start : d.span.end]
            assert written in names_in_examples(), f"{where}: {d.message}, in no example spec"


def test_excerpt_selectors():
    clinic = (ROOT / "specs" / "clinic.clm").read_text()
    rule = excerpt("specs/clinic.clm", "rule welcome")
    assert rule.startswith("rule welcome") and rule.endswith("transactional\n}\n")
    caps = excerpt("specs/clinic.clm", "cap..cap tag promo")
    assert caps.startswith("# Burnout guard") and caps.endswith("cap tag promo 2 per 30 days\n")
    assert (
        excerpt("specs/common/channels.clm", None)
        == (ROOT / "specs/common/channels.clm").read_text()
    )
    assert excerpt("specs/clinic.clm", "program").startswith("# Clinic group") and clinic
    with pytest.raises(AssertionError, match="no `stage nowhere`"):
        excerpt("specs/clinic.clm", "stage nowhere")


def test_notebook_walk_through_names_what_exists():
    """docs/api.md's notebook walk-through (the ```python block after `<!-- notebook:
    forecast -->`) parses, and every name it uses exists: `clmlang.X` is public, the spec
    file is there, `forecast.X` is a Forecast member and each chart it asks for is one."""
    import ast
    import dataclasses

    from clmlang.simulation.charts import CHARTS

    text = (ROOT / "docs" / "api.md").read_text()
    match = re.search(r"^<!-- notebook: forecast -->\n```python\n(.*?)^```$", text, re.M | re.S)
    assert match, "docs/api.md has no notebook walk-through"
    tree = ast.parse(match.group(1))
    members = {f.name for f in dataclasses.fields(clmlang.Forecast)} | set(dir(clmlang.Forecast))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "clmlang":
                assert node.attr in clmlang.__all__, node.attr
            if node.value.id == "forecast":
                assert node.attr in members, node.attr
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "plot":
            assert all(isinstance(a, ast.Constant) and a.value in CHARTS for a in node.args)
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "charts":
            assert node.slice.value in CHARTS  # type: ignore[attr-defined]
        if isinstance(node, ast.Constant) and str(node.value).endswith(".clm"):
            assert (ROOT / node.value).is_file(), node.value
