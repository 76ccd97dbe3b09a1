"""`use`: shared definitions, resolved relative to the using file, each parsed once, no cycles."""

from __future__ import annotations

from pathlib import Path

from clmlang.language import syntax as s
from clmlang.language.loader import load_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_used_definitions_come_first(tmp_path: Path):
    """Declarations of a used file precede the user's own."""
    write(tmp_path, "common/channels.clm", "channel sms cost 3\n")
    main = write(tmp_path, "main.clm", 'use "common/channels.clm"\nprogram "x"\n')
    spec = load_path(main)
    assert spec.diagnostics == ()
    kinds = [type(i) for i in spec.items()]
    assert kinds == [s.Channel, s.Use, s.Program]


def test_path_is_relative_to_the_using_file(tmp_path: Path):
    """A nested `use` resolves against the folder of the file that says it."""
    write(tmp_path, "lib/a.clm", 'use "b.clm"\nchannel email cost 1\n')
    write(tmp_path, "lib/b.clm", "channel sms cost 3\n")
    spec = load_path(write(tmp_path, "main.clm", 'use "lib/a.clm"\n'))
    assert spec.diagnostics == ()
    assert [f.path.split("/")[-1] for f in spec.files] == ["b.clm", "a.clm", "main.clm"]


def test_diamond_is_loaded_once(tmp_path: Path):
    """A file used by two others is parsed and listed once."""
    write(tmp_path, "d.clm", "channel sms cost 3\n")
    write(tmp_path, "b.clm", 'use "d.clm"\n')
    write(tmp_path, "c.clm", 'use "d.clm"\n')
    spec = load_path(write(tmp_path, "a.clm", 'use "b.clm"\nuse "c.clm"\n'))
    names = [Path(f.path).name for f in spec.files]
    assert names.count("d.clm") == 1 and spec.diagnostics == ()


def test_cycle_is_reported_with_the_chain(tmp_path: Path):
    """A cycle of `use` is CLM010 naming every file in it."""
    write(tmp_path, "b.clm", 'use "c.clm"\n')
    write(tmp_path, "c.clm", 'use "a.clm"\n')
    spec = load_path(write(tmp_path, "a.clm", 'use "b.clm"\n'))
    (d,) = spec.diagnostics
    assert d.code == "CLM010"
    assert "a.clm -> b.clm -> c.clm -> a.clm" in d.message
    assert d.span.file.endswith("c.clm")
    assert len(d.related) == 2


def test_self_use_is_a_cycle(tmp_path: Path):
    """A file that uses itself is a cycle too."""
    spec = load_path(write(tmp_path, "a.clm", 'use "a.clm"\n'))
    assert [d.code for d in spec.diagnostics] == ["CLM010"]


def test_missing_file(tmp_path: Path):
    """A used file that does not exist is CLM005 at the `use`."""
    spec = load_path(write(tmp_path, "a.clm", 'program "x"\nuse "nope.clm"\n'))
    (d,) = spec.diagnostics
    assert d.code == "CLM005" and d.span.line == 2


def test_missing_root_file(tmp_path: Path):
    """A spec path that does not exist is CLM005 with no span."""
    spec = load_path(tmp_path / "nope.clm")
    assert [d.code for d in spec.diagnostics] == ["CLM005"]
    assert spec.files == ()


def test_errors_in_used_file_point_there(tmp_path: Path):
    """A syntax error in a used file is reported at that file's line."""
    write(tmp_path, "lib.clm", "channel sms cost\n")
    spec = load_path(write(tmp_path, "a.clm", 'use "lib.clm"\n'))
    (d,) = spec.diagnostics
    assert d.span.file.endswith("lib.clm") and d.code == "CLM001"


def test_shared_file_is_parsed_once_across_specs(tmp_path: Path, monkeypatch):
    """Two specs using one file parse it once; each root spec is always parsed afresh."""
    import clmlang.language.loader as loader

    write(tmp_path, "common.clm", "channel sms cost 3\n")
    a = write(tmp_path, "a.clm", 'use "common.clm"\n')
    b = write(tmp_path, "b.clm", 'use "common.clm"\n')
    parsed: list[str] = []
    real = loader.parse
    monkeypatch.setattr(loader, "parse", lambda source: parsed.append(source.name) or real(source))
    loader._PARSED.clear()
    load_path(a)
    load_path(b)
    load_path(a)
    assert sorted(Path(p).name for p in parsed) == ["a.clm", "a.clm", "b.clm", "common.clm"]


def test_changed_shared_file_is_parsed_again(tmp_path: Path):
    """The cache is keyed by content: an edited shared file is not served stale."""
    common = write(tmp_path, "common.clm", "channel sms cost 3\n")
    main = write(tmp_path, "a.clm", 'use "common.clm"\n')
    assert load_path(main).files[0].items[0].cost.value == 3
    common.write_text("channel sms cost 4\n")
    assert load_path(main).files[0].items[0].cost.value == 4


BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_is_not_part_of_the_spec(tmp_path: Path):
    """Windows editors (Notepad) save UTF-8 with a BOM no editor shows: it was CLM001
    `unexpected character`; now the spec and a file it uses read as without it."""
    (tmp_path / "lib.clm").write_bytes(BOM + b"channel sms cost 3\n")
    (tmp_path / "main.clm").write_bytes(
        BOM + b'program "Shop" currency USD\nuse "lib.clm"\nstage all when purchases >= 0\n'
    )
    spec = load_path(tmp_path / "main.clm")
    assert spec.diagnostics == ()
    assert [type(i) for i in spec.items()] == [s.Channel, s.Program, s.Use, s.Stage]


def test_a_bad_byte_after_a_byte_order_mark_is_placed_where_the_editor_shows_it(tmp_path: Path):
    """`program "x\\xff"`: the bad byte is in column 11 of what the editor shows."""
    (tmp_path / "main.clm").write_bytes(BOM + b'program "x\xff" currency USD\n')
    (problem,) = load_path(tmp_path / "main.clm").diagnostics
    assert problem.code == "CLM003"
    assert (problem.span.line, problem.span.column) == (1, 11)


def test_clm_fmt_leaves_a_formatted_spec_with_a_byte_order_mark_alone(tmp_path: Path):
    """`clm fmt --check` on a canonical spec saved with a BOM: nothing to change."""
    from .conftest import ROOT, clm

    path = tmp_path / "clinic.clm"
    path.write_bytes(BOM + (ROOT / "specs" / "clinic.clm").read_bytes())
    result = clm("fmt", "--check", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
