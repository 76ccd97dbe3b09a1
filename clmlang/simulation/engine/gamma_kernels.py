"""Quantiles of the Gamma distribution as compiled code (`buying._gamma_quantile` is the
numpy twin).

For a shape of 1 or more the quantile is Wilson-Hilferty's, which needs the standard normal
quantile: `ndtri` below is scipy's (the Cephes library's rational approximations, as
scipy.special.ndtri computes it: the same coefficients, the same Horner evaluations in the
same order, the same libm `log` and `sqrt`), so it gives the same bits as scipy's, which
tests/test_purchase_kernels.py checks on many values and at the edges. A shape below 1 takes
scipy's exact inverse (`gammaincinv`), which is not compiled.
"""

from __future__ import annotations

import math

import numpy as np

from ...core.compiled import kernel

# Cephes ndtri (Stephen L. Moshier, 1984-1989; as in scipy.special): rational approximations
# for |y - 0.5| <= 3/8 (P0/Q0), and for z = sqrt(-2 log y) in [2, 8) (P1/Q1) and [8, 64]
# (P2/Q2). The Q's leading coefficient, 1, is implicit.
_P0 = np.array([
    -5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
    1.39312609387279679503e1, -1.23916583867381258016e0,
])  # fmt: skip
_Q0 = np.array([
    1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
    -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
    1.59056225126211695515e1, -1.18331621121330003142e0,
])  # fmt: skip
_P1 = np.array([
    4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
    4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
    -1.40256079171354495875e-1, -3.50424626827848203418e-2, -8.57456785154685413611e-4,
])  # fmt: skip
_Q1 = np.array([
    1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
    1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
    -3.80806407691578277194e-2, -9.33259480895457427372e-4,
])  # fmt: skip
_P2 = np.array([
    3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
    1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
    3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9,
])  # fmt: skip
_Q2 = np.array([
    6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
    2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
    2.89247864745380683936e-6, 6.79019408009981274425e-9,
])  # fmt: skip
_SQRT_2PI = 2.50662827463100050242e0
_EXP_M2 = 0.13533528323661269189  # exp(-2)


@kernel
def _horner(x, coef):
    """coef[0] x^n + ... + coef[n] (Cephes `polevl`)."""
    out = coef[0]
    for j in range(1, coef.size):
        out = out * x + coef[j]
    return out


@kernel
def _horner1(x, coef):
    """x^n + coef[0] x^(n-1) + ... + coef[n-1]: a leading 1 (Cephes `p1evl`)."""
    out = x + coef[0]
    for j in range(1, coef.size):
        out = out * x + coef[j]
    return out


@kernel
def ndtri(y0):
    """The standard normal quantile of `y0` (scipy.special.ndtri): -inf at 0, inf at 1, NaN
    outside [0, 1]."""
    if y0 == 0.0:
        return -np.inf
    if y0 == 1.0:
        return np.inf
    if not (0.0 <= y0 <= 1.0):
        return np.nan
    negate = True
    y = y0
    if y > 1.0 - _EXP_M2:
        y = 1.0 - y
        negate = False
    if y > _EXP_M2:
        y = y - 0.5
        y2 = y * y
        x = y + y * (y2 * _horner(y2, _P0) / _horner1(y2, _Q0))
        return x * _SQRT_2PI
    x = math.sqrt(-2.0 * math.log(y))
    x0 = x - math.log(x) / x
    z = 1.0 / x
    if x < 8.0:
        x1 = z * _horner(z, _P1) / _horner1(z, _Q1)
    else:
        x1 = z * _horner(z, _P2) / _horner1(z, _Q2)
    x = x0 - x1
    return -x if negate else x


@kernel
def cube_root(shape, u):
    """The cube root of the Gamma(shape, 1) quantile of `u` over `shape`, by Wilson-Hilferty
    (shape >= 1): `buying._gamma_quantile` before its power. The power stays with numpy
    (`shape * root ** 3`): numpy's `power` is its own vectorised code (on this AVX-512 machine),
    whose last bit differs from libm's `pow` that numba calls, as its `log` does."""
    c = 1.0 / (9.0 * shape)
    root = 1.0 - c + ndtri(u) * math.sqrt(c)
    return 0.0 if root < 0.0 else root  # np.maximum(root, 0.0), NaN kept


@kernel
def ndtris(u):
    """`ndtri` of each of `u` (for the tests)."""
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = ndtri(u[i])
    return out


@kernel
def cube_roots(shape, u):
    """`cube_root` of each of `u`."""
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = cube_root(shape, u[i])
    return out
