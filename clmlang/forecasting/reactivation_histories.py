"""The distinct histories the reactivation model's likelihood reads (`reactivation.py`).

The likelihood of a history depends only on its number of repeat purchases, the time of the
last one, the multiset of its gaps after the first repeat purchase and its silence after the
last purchase, all in whole days: customers with the same such history are counted once, and
the gaps and silences become indices into tables of their distinct lengths, so each factor
is computed once per length. Repeat histories are grouped by their number of purchases
(padded with neutral gaps to a few sizes) so that the recursion over the gaps runs on whole
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .distinct import distinct_rows
from .history import Summary, repeat_gaps

__all__ = ["NODES_RATE", "QUADRATURE_FROM", "Histories", "HistoryGroup", "prepare"]

NODES_RATE = 16  # Gauss-Laguerre nodes for lambda
# more for groups of histories with more repeat purchases (median) than these: their
# likelihood is narrow in lambda, far in the prior's tail
NODES_HEAVY = ((12, 32), (60, 48))
# a group of histories goes by quadrature when rows x degree^2 (the recursion's work) is at
# least this: below it the quadrature's fixed costs (its nodes, a sparse slice) dominate
QUADRATURE_FROM = 20_000


@dataclass(frozen=True)
class HistoryGroup:
    """Repeat histories with about the same number of purchases, integrated together: their
    later gaps (padded with -1, a neutral gap, to one width), the same as counts of the gap
    lengths they use, each one's silence after the last purchase, and how many nodes
    lambda's integral takes for them. Gaps and silences index the tables in `Histories`."""

    rows: np.ndarray  # into the repeat histories
    table: np.ndarray  # rows x width: indices into `Histories.gaps`, -1 for padding
    used: np.ndarray  # the indices into `Histories.gaps` these histories have
    counts: sparse.csr_matrix  # rows x used: how often each gap occurs
    silence: np.ndarray  # rows: indices into `Histories.stretches`
    nodes: int  # lambda's nodes: more for heavy buyers, whose lambda is in the prior's tail


@dataclass(frozen=True)
class Histories:
    """The distinct histories of a summary: the likelihood depends only on the number of
    repeat purchases, the time of the last one, the multiset of gaps after the first repeat
    purchase and the silence after the last one, all in whole days, as indices into tables
    of their distinct lengths (weeks)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weight: np.ndarray  # customers sharing each distinct history
    index: np.ndarray  # each customer's distinct history
    repeat: np.ndarray  # bool: the history has a repeat purchase
    gaps: np.ndarray  # distinct lengths of the gaps after the first repeat purchase, weeks
    stretches: np.ndarray  # distinct lengths of the silence after the last purchase, weeks
    shift: float  # where lambda's nodes are placed: half the median T (rate_nodes)
    groups: tuple[HistoryGroup, ...]  # the repeat histories, by size
    needs: dict[int, tuple[np.ndarray, np.ndarray]]  # per node count: its gaps and silences


def _groups(later: np.ndarray, x: np.ndarray, stretch: np.ndarray, gaps: np.ndarray):
    """Repeat histories by their number of later gaps (`later`: one row each, the gaps in
    days, -1 after the last), rounded up to 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, ...: few
    groups, little padding."""
    sizes = (later >= 0).sum(axis=1)
    edges = [0, 1, 2, 3, 4]
    while edges[-1] < max(int(sizes.max(initial=0)), 1):
        edges.append(edges[-1] * 3 // 2 if len(edges) % 2 else edges[-1] * 4 // 3)
    index = np.where(later >= 0, np.searchsorted(gaps, later), -1)
    out = []
    lower = -1
    for edge in edges:
        rows = np.flatnonzero((sizes > lower) & (sizes <= edge))
        lower = edge
        if not rows.size:
            continue
        table = np.full((rows.size, edge), -1, dtype=np.int64)
        width = min(edge, index.shape[1])
        table[:, :width] = index[rows, :width]
        used, local = np.unique(table[table >= 0], return_inverse=True)
        row, _ = np.nonzero(table >= 0)
        counts = sparse.csr_matrix(
            (np.ones(row.size), (row, local.reshape(-1))), shape=(rows.size, used.size)
        )
        typical = np.median(x[rows])
        nodes = max([NODES_RATE, *(k for above, k in NODES_HEAVY if typical > above)])
        out.append(HistoryGroup(rows, table, used, counts, stretch[rows], nodes))
    return tuple(out)


def prepare(summary: Summary) -> Histories:
    n, x = summary.x.size, summary.x.astype(np.int64)
    owner, position, weeks = repeat_gaps(summary)
    gap = np.rint(weeks * 7).astype(np.int64)
    first = np.full(n, -1, dtype=np.int64)
    first[owner[position == 0]] = gap[position == 0]
    # the later gaps, sorted within each customer (their order does not matter)
    later_of, later_gap = owner[position > 0], gap[position > 0]
    order = np.lexsort((later_gap, later_of))
    later_of, later_gap = later_of[order], later_gap[order]
    width = max(int(x.max(initial=1)) - 1, 1)
    later = np.full((n, width), -1, dtype=np.int64)
    rank = (
        np.arange(later_of.size)
        - (np.cumsum(np.maximum(x - 1, 0)) - np.maximum(x - 1, 0))[later_of]
    )
    later[later_of, rank] = later_gap
    silent_days = np.rint((summary.T - summary.t_x) * 7).astype(np.int64)
    keys = np.column_stack([silent_days, first, later])
    who, index = distinct_rows(keys)
    repeat = x[who] > 0
    rows_later = later[who][repeat]
    gaps = np.unique(rows_later[rows_later >= 0])
    stretches, stretch = np.unique(silent_days[who][repeat], return_inverse=True)
    groups = _groups(rows_later, x[who][repeat], stretch.reshape(-1), gaps)
    return Histories(
        x=x[who].astype(float),
        t_x=summary.t_x[who],
        T=summary.T[who],
        weight=np.bincount(index, minlength=who.size).astype(float),
        index=index,
        repeat=repeat,
        gaps=gaps / 7.0,
        stretches=stretches / 7.0,
        shift=float(np.median(summary.T)) / 2,
        groups=groups,
        needs={k: _needs(groups, k) for k in {NODES_RATE, *(g.nodes for g in groups)}},
    )


def _needs(groups: tuple[HistoryGroup, ...], nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The gap lengths and silences the groups with `nodes` lambda nodes have."""
    mine = [g for g in groups if g.nodes == nodes]
    none = np.zeros(0, dtype=np.int64)
    return (
        np.unique(np.concatenate([none, *(g.used for g in mine)])),
        np.unique(np.concatenate([none, *(g.silence for g in mine)])),
    )
