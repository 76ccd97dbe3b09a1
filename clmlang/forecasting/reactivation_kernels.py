"""The reactivation score's recursion over the gaps as one compiled loop (`core/compiled.py`).

`reactivation_score._recursion_grad` runs the recursion on whole arrays: per gap, a few numpy
calls over a (3, degree, rows, nodes) stack, then sums over the degree by einsum. Each step
is small (a few thousand numbers) and the stack is walked many times, so numpy's per-call
cost and the memory traffic dominate. The kernel walks each (history, lambda node) once: its
coefficients and their two tangents in three short arrays, updated in place from the highest
degree down, then the Beta-weighted sums the score needs. The same arithmetic in the same
order per number, so it agrees with the numpy path to rounding (tests/test_reactivation_
kernels.py: 1e-12 relative); `loglik_and_score(compiled=...)` says which one runs. A second
kernel, `recursion_parts`, makes of its sums the group's G and slopes per (history, node) in
one pass, where numpy took a dozen calls over the group (0.038 -> 0.031 s a score at CDNOW's
full size).
"""

from __future__ import annotations

import numpy as np

from ..core.compiled import kernel

__all__ = ["recursion_sums"]


@kernel
def recursion_sums(table, u, v, scale, c_lam, c_omega, beta, beta_a, beta_b, out, log_scale):
    """For each row of `table` (the gaps' indices, -1: the padding, the tables' last row)
    and each lambda node: the coefficients of p^k (1 - p)^(m - k) after the gaps and their
    tangents in lambda and omega (a gap's factor e^scale [(1 - p) u + p v], v's log-slope
    c_lam, c_omega), into out[lo, q, row, node] for lo = 0 (times 1 - p: beta[0:m]) and 1
    (times p: beta[1:m + 1]): q = 0 the sum of coefficients x beta, 1 and 2 the tangents'
    in lambda and omega, 3 and 4 the coefficients' x beta_a and x beta_b; log_scale[row,
    node] the sum of the gaps' scales."""
    rows, width = table.shape
    m = width + 1
    nodes = u.shape[1]
    coef = np.zeros(m)
    t_lam = np.zeros(m)
    t_omega = np.zeros(m)
    for i in range(rows):
        for n in range(nodes):
            for k in range(m):
                coef[k] = 0.0
                t_lam[k] = 0.0
                t_omega[k] = 0.0
            coef[0] = 1.0
            total_scale = 0.0
            for j in range(m - 1):
                gap = table[i, j]
                if gap < 0:
                    gap += u.shape[0]
                uu, vv = u[gap, n], v[gap, n]
                cl, co = c_lam[gap, n], c_omega[gap, n]
                # the top degree, j + 1, was 0: it takes the moved part alone
                moved = coef[j] * vv
                t_lam[j + 1] = t_lam[j] * vv + moved * cl
                t_omega[j + 1] = t_omega[j] * vv + moved * co
                coef[j + 1] = moved
                for k in range(j, 0, -1):
                    moved = coef[k - 1] * vv
                    t_lam[k] = t_lam[k] * uu + (t_lam[k - 1] * vv + moved * cl)
                    t_omega[k] = t_omega[k] * uu + (t_omega[k - 1] * vv + moved * co)
                    coef[k] = coef[k] * uu + moved
                coef[0] *= uu
                t_lam[0] *= uu
                t_omega[0] *= uu
                total_scale += scale[gap, n]
            log_scale[i, n] = total_scale
            for lo in range(2):
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                s3 = 0.0
                s4 = 0.0
                for k in range(m):
                    w = beta[lo + k]
                    s0 += w * coef[k]
                    s1 += w * t_lam[k]
                    s2 += w * t_omega[k]
                    s3 += beta_a[lo + k] * coef[k]
                    s4 += beta_b[lo + k] * coef[k]
                out[lo, 0, i, n] = s0
                out[lo, 1, i, n] = s1
                out[lo, 2, i, n] = s2
                out[lo, 3, i, n] = s3
                out[lo, 4, i, n] = s4


@kernel
def recursion_parts(
    sums, log_scale, keep, drop, silence, x, t_x, lam, stretch, drop_lam, drop_omega, out
):
    """What `reactivation_score._recursion_grad` makes of `recursion_sums`' sums, per row
    and lambda node, in one pass instead of a dozen numpy calls over the group: into
    out[q, row, node], q = 0 G (head and the gaps' scale included), 1 to 4 its slopes in
    lambda, omega, a and b. The silence after the last purchase ends active (keep) or
    dormant (drop), weighted by each one's share of their sum; `silence[row]` indexes the
    silences' tables (keep, drop, drop_lam, drop_omega: silences x nodes), `stretch[row]`
    is its length in weeks."""
    rows, nodes = log_scale.shape
    for i in range(rows):
        s = silence[i]
        for n in range(nodes):
            w0 = sums[0, 0, i, n]
            w1 = sums[1, 0, i, n]
            stays = np.log(w0) if w0 > 0 else -np.inf
            drops = np.log(w1) if w1 > 0 else -np.inf
            a = stays + keep[s, n]
            b = drops + drop[s, n]
            by_rate = np.logaddexp(a, b)
            kept = np.exp(a - by_rate)
            if not np.isfinite(kept):
                kept = 0.0
            left = 1.0 - kept
            L = lam[n]
            u1 = sums[0, 1, i, n] / w0 if w0 > 0 else 0.0
            u2 = sums[0, 2, i, n] / w0 if w0 > 0 else 0.0
            u3 = sums[0, 3, i, n] / w0 if w0 > 0 else 0.0
            u4 = sums[0, 4, i, n] / w0 if w0 > 0 else 0.0
            d1 = sums[1, 1, i, n] / w1 if w1 > 0 else 0.0
            d2 = sums[1, 2, i, n] / w1 if w1 > 0 else 0.0
            d3 = sums[1, 3, i, n] / w1 if w1 > 0 else 0.0
            d4 = sums[1, 4, i, n] / w1 if w1 > 0 else 0.0
            # the numpy twin's operations in its order
            out[0, i, n] = x[i] * np.log(L) - t_x[i] * L + log_scale[i, n] + by_rate
            out[1, i, n] = (
                x[i] / L - t_x[i] + kept * (-stretch[i] + u1) + left * (drop_lam[s, n] + d1)
            )
            out[2, i, n] = kept * u2 + left * (drop_omega[s, n] + d2)
            out[3, i, n] = kept * u3 + left * d3
            out[4, i, n] = kept * u4 + left * d4
