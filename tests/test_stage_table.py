"""The stage a purchase leads to as a look-up of the buyer's purchase count
(stages.purchase_stage_table, buying_kernels.restage), where every stage reads the count
alone."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import clmlang
from clmlang.simulation.engine.buying_kernels import restage
from clmlang.simulation.engine.stages import COUNTS, purchase_stage_table

from .conftest import ROOT


def test_the_clinic_stages_by_count_as_the_spec_writes_them():
    table = purchase_stage_table(clmlang.load(ROOT / "specs" / "clinic.clm"))
    # potential: 0; newcomer: 1..2; forming: 3..7; loyal: 8..21; devoted: >= 22
    expected = np.array([0] + [1] * 2 + [2] * 5 + [3] * 14 + [4] * (COUNTS - 22))
    np.testing.assert_array_equal(table, expected)


def test_no_table_when_a_stage_reads_more_than_the_count():
    spec = (
        'program "p"\nproduct a role profit price 10\n'
        "stage new when purchases == 0\n"
        "stage lapsed when days_since_purchase > 90 days\n"
        "stage active when purchases >= 1\n"
    )
    assert purchase_stage_table(clmlang.loads(spec)) is None
    counted = spec.replace("days_since_purchase > 90 days", "purchases >= 5")
    table = purchase_stage_table(clmlang.loads(counted))
    # the first stage that holds: 0 new, 1..4 active, from 5 lapsed (listed before active)
    np.testing.assert_array_equal(table[:7], [0, 2, 2, 2, 2, 1, 1])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 50))
def test_restage_moves_those_whose_count_changes_their_stage(seed, size):
    rng = np.random.default_rng(seed)
    n = 60
    table = rng.integers(-1, 4, COUNTS).astype(np.int16)
    purchases = rng.integers(0, 30, n).astype(np.int32)
    stage = rng.integers(-1, 4, n).astype(np.int16)
    previous = rng.integers(-1, 4, n).astype(np.int16)
    since = rng.integers(0, 9, n).astype(np.float32)
    ids = rng.permutation(n)[:size].astype(np.int64)
    before = (stage.copy(), previous.copy(), since.copy())
    new, moved = restage(ids, table, purchases, stage, previous, since, np.float32(12))
    np.testing.assert_array_equal(new, table[purchases[ids]])
    np.testing.assert_array_equal(moved, np.flatnonzero(new != before[0][ids]))
    who = ids[moved]
    expected_stage, expected_previous, expected_since = before
    expected_previous[who] = expected_stage[who]
    expected_stage[who] = new[moved]
    expected_since[who] = 12
    np.testing.assert_array_equal(stage, expected_stage)
    np.testing.assert_array_equal(previous, expected_previous)
    np.testing.assert_array_equal(since, expected_since)
