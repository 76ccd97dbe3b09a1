"""numba's cache follows every kernel file: an edit to a kernel that another file's kernel
calls clears the cached machine code (numba itself checks only the caller's own file)."""

from __future__ import annotations

from clmlang.core.compiled import fresh_cache


def _cached(root):  # type: ignore[no-untyped-def]
    return sorted(p.name for p in root.rglob("__pycache__/*.nb[ic]"))


def _fill(root):  # type: ignore[no-untyped-def]
    for name in ("streams.salted-20.py311.nbi", "streams.salted-20.py311.1.nbc"):
        (root / "engine" / "__pycache__" / name).write_bytes(b"machine code")


def test_the_cache_is_cleared_when_a_kernel_file_changes_and_only_then(tmp_path):
    engine = tmp_path / "engine"
    (engine / "__pycache__").mkdir(parents=True)
    kernels = engine / "streams.py"
    kernels.write_text("@kernel\ndef salted(x):\n    return x\n")
    plain = engine / "report.py"
    plain.write_text("def page():\n    return ''\n")
    _fill(tmp_path)

    assert fresh_cache(tmp_path)  # no digest yet: the cache may be of any source
    assert _cached(tmp_path) == []
    _fill(tmp_path)
    assert not fresh_cache(tmp_path)  # the same sources
    plain.write_text("def page():\n    return 'changed'\n")
    assert not fresh_cache(tmp_path)  # a file without kernels
    assert len(_cached(tmp_path)) == 2
    kernels.write_text("@kernel\ndef salted(x):\n    return 0.25\n")
    assert fresh_cache(tmp_path)
    assert _cached(tmp_path) == []
    assert not fresh_cache(tmp_path)


def test_an_intrinsic_s_file_counts_as_a_kernel_file(tmp_path):
    """An intrinsic is compiled into the kernels that call it (engine/prefetch.py): an edit
    to its file clears the cache, whatever its words say of kernels."""
    engine = tmp_path / "engine"
    (engine / "__pycache__").mkdir(parents=True)
    hint = engine / "hint.py"
    hint.write_text("@intrinsic\ndef hint(typingctx, x):\n    return None\n")
    _fill(tmp_path)
    assert fresh_cache(tmp_path)
    _fill(tmp_path)
    assert not fresh_cache(tmp_path)
    hint.write_text("@intrinsic\ndef hint(typingctx, x):\n    return 1\n")
    assert fresh_cache(tmp_path)
    assert _cached(tmp_path) == []
