"""`clm forecast` keeps Python's garbage collector off what it loaded (cli/history.py's
`_long_lived`): the imports run with the collector off, then what is loaded is frozen and
the collector back on; at the end the caller's collector is as it was."""

from __future__ import annotations

import gc

import pytest

from clmlang.cli.history import _long_lived

from .conftest import ROOT, clm


@pytest.fixture
def collector():
    """The collector as a test finds it, given back after (a failing test must not leave it
    off or frozen for the rest of the suite)."""
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    yield
    gc.enable() if enabled else gc.disable()
    if not frozen:
        gc.unfreeze()


def test_off_while_loading_then_frozen_then_back(collector):
    gc.enable()
    gc.unfreeze()
    with _long_lived() as loaded:
        assert not gc.isenabled()  # the imports: no collection
        assert gc.get_freeze_count() == 0
        kept = [[] for _ in range(1000)]  # objects "loaded" before the call: frozen by it
        loaded()
        assert gc.isenabled()  # the command's own work is collected as before
        assert gc.get_freeze_count() >= len(kept)
        young = []
        young.append(young)  # a cycle made after: collectable
        del young
        assert gc.collect() >= 1
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # the caller's heap is whole again


def test_given_back_as_it_was_on_an_error(collector):
    gc.enable()
    gc.unfreeze()
    with pytest.raises(RuntimeError), _long_lived() as loaded:
        loaded()
        raise RuntimeError("a failing command")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), _long_lived():  # fails before `loaded`
        raise RuntimeError("a usage error")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_caller_s_own_settings_are_kept(collector):
    """A caller that turned the collector off keeps it off; one that froze objects of its
    own keeps them frozen, and none of the command's joins them (they would never be
    collected after it)."""
    gc.disable()
    with _long_lived() as loaded:
        loaded()
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()
    gc.freeze()
    before = gc.get_freeze_count()
    assert before > 0
    with _long_lived() as loaded:
        kept = [[] for _ in range(1000)]  # the command's objects, alive when it calls `loaded`
        loaded()
        assert gc.get_freeze_count() <= before  # not frozen (the count falls as objects die)
        assert gc.isenabled()
    assert gc.get_freeze_count() <= before
    tracked = {id(o) for o in gc.get_objects()}  # (frozen objects are not listed)
    assert all(id(k) in tracked for k in kept)


def test_a_forecast_in_process_leaves_the_collector_as_it_was(collector, tmp_path):
    gc.enable()
    gc.unfreeze()
    history = ROOT / "tests" / "data" / "cdnow_sample.csv"
    done = clm(
        "forecast",
        "--history",
        history,
        "--calibration-end",
        "1997-09-30",
        "--until",
        "1998-06-30",
        "--replications",
        "2",
        "--out",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "forecast.json").exists()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    bad = clm("forecast", "--history", history, "--calibration-end", "nonsense", "--until", "x")
    assert bad.returncode == 2
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
