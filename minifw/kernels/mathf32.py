"""float32 versions of the kernels' vectorisable transcendentals (exp, log, tanh, sigmoid).

The ``v*`` functions of :mod:`minifw.ops.scalar_math` compute in float64: a
float32 kernel that calls them converts every element up and back and runs
its polynomial on half as many SIMD lanes (8 doubles instead of 16 floats in a
512-bit register, 4 instead of 8 in a 256-bit one).  For float32 inputs the
fused-kernel generator (:func:`minifw.kernels.codegen.lower` with
``float32_math=True``) calls the functions here instead: the same algorithms
(cephes' single-precision ones) with float32 constants, so every operation
stays in float32 and LLVM vectorises the whole loop body.

* :func:`vexpf`: Cody-Waite range reduction x = k ln2 + r (ln2 split in a
  9-bit high part, exact times any |k| <= 150, and a low part), a degree-6
  polynomial for exp(r) on |r| <= ln2/2, and 2**k built from exponent bits in
  two halves so that subnormal results and overflow come out right.
* :func:`vlogf`: x = m 2**e with sqrt(1/2) <= m < sqrt(2) read from the
  exponent bits, log(1 + f) = f - f^2/2 + f^3 P(f) with a degree-8 P; e ln2 is
  added in two parts.  Subnormal inputs are scaled by 2**25 first.
* :func:`vtanhf`: an odd polynomial for |x| < 0.625 (no cancellation near 0),
  ``1 - 2 / (exp(2|x|) + 1)`` above; tanh rounds to +-1 beyond |x| = 9.01.
* :func:`vsigmoidf`: ``1 / (1 + e)`` or ``e / (1 + e)`` with e = exp(-|x|).

Error bounds (checked against numpy's float64 results rounded to float32 over
their whole range, in tests/test_mathf32.py): exp <= 2 ulp, log <= 2 ulp,
tanh <= 3 ulp, sigmoid <= 3 ulp for normal results; subnormal results of exp
are within 2 units of 2**-149.  Specials follow numpy: exp(-inf) = 0,
exp(inf) = inf, log(0) = -inf, log(x < 0) = nan, log(inf) = inf, tanh(+-inf)
= +-1, tanh(-0) = -0, and nan in gives nan out.

Every constant is an ``np.float32`` module global, so numba types the
arithmetic as float32 (a Python float literal would promote it to float64).
Like ``scalar_math``'s versions they rely on IEEE evaluation order (the
rounding constant ``_MAGIC`` and Cody-Waite): compile them with at most the
fastmath flags in ``scalar_math.SAFE_FASTMATH``.  They also run unchanged on
``np.float32`` scalars in plain Python; :mod:`minifw.kernels.jitable` registers
them with numba and swaps the two bit helpers for exponent-bit versions.
Nothing here imports numba.
"""

from __future__ import annotations

import math

import numpy as np

_f = np.float32
_ZERO, _HALF, _ONE, _TWO = _f(0.0), _f(0.5), _f(1.0), _f(2.0)
_INF = _f(np.inf)
_MAGIC = _f(12582912.0)  # 1.5 * 2**23: (t + _MAGIC) - _MAGIC rounds t to the nearest integer (|t| < 2**22)

_EXPF_HI = _f(89.0)  # exp(88.73) overflows float32; clamping keeps k in range (the result is still inf)
_EXPF_LO = _f(-104.0)  # exp(-103.98) rounds to 0
_LOG2EF = _f(1.44269504088896341)
_LN2F_HI = _f(0.693359375)  # 9 significant bits: k * _LN2F_HI is exact for |k| < 2**15
_LN2F_LO = _f(-2.12194440e-4)  # ln 2 - _LN2F_HI
_EP = tuple(_f(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                            1.6666665459e-1, 5.0000001201e-1))  # cephes expf: exp(r) = 1 + r + r^2 P(r)
_EP0, _EP1, _EP2, _EP3, _EP4, _EP5 = _EP

_SQRTHF = _f(0.707106781186547524)
_MIN_NORMAL = _f(1.17549435e-38)
_TWO25 = _f(33554432.0)  # 2**25 lifts subnormals into the normal range
_TWENTYFIVE = _f(25.0)
_LP = tuple(_f(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                            1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                            3.3333331174e-1))  # cephes logf
_LP0, _LP1, _LP2, _LP3, _LP4, _LP5, _LP6, _LP7, _LP8 = _LP

_TANH_SMALL = _f(0.625)
_TANH_TINY = _f(1e-4)  # below it x^3/3 is under half an ulp of x
_TANH_CLAMP = _f(10.0)  # tanh(x) rounds to 1 in float32 from x = 9.01 on
_TP = tuple(_f(c) for c in (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                            -3.33332819422e-1))  # cephes tanhf, |x| < 0.625
_TP0, _TP1, _TP2, _TP3, _TP4 = _TP


# --- bit helpers (plain arithmetic here; exponent bits in the kernels) --------------------
def _pow2f(kf):
    """2**kf as float32, for an integral float32 ``kf`` in [-126, 127]."""
    return _f(2.0 ** int(kf))


def _mantf(x):
    """m with x = m 2**e, 0.5 <= m < 1, for a positive normal float32 ``x``."""
    return _f(math.frexp(float(x))[0])


def _expof(x):
    """e with x = m 2**e, 0.5 <= m < 1, as a float32, for a positive normal float32 ``x``."""
    return _f(math.frexp(float(x))[1])


# --- the functions ------------------------------------------------------------------------
def vexpf(x):
    """exp(x) for float32 ``x`` in float32 arithmetic: <= 2 ulp (normal results)."""
    xc = x if x > _EXPF_LO else _EXPF_LO  # NaN goes to _EXPF_LO here, restored at the end
    xc = xc if xc < _EXPF_HI else _EXPF_HI
    kf = (xc * _LOG2EF + _MAGIC) - _MAGIC
    r = (xc - kf * _LN2F_HI) - kf * _LN2F_LO
    p = ((((_EP0 * r + _EP1) * r + _EP2) * r + _EP3) * r + _EP4) * r + _EP5
    y = (p * (r * r) + r) + _ONE
    h = (kf * _HALF + _MAGIC) - _MAGIC  # 2**k = 2**h * 2**(k - h), each factor normal for -150 <= k <= 129
    y = (y * _pow2f(h)) * _pow2f(kf - h)
    return y if x == x else x


def vlogf(x):
    """log(x) for float32 ``x`` in float32 arithmetic: <= 2 ulp."""
    sub = x < _MIN_NORMAL
    xs = x * _TWO25 if sub else x
    ok = (xs > _ZERO) & (xs < _INF)
    xs = xs if ok else _ONE  # keep the arithmetic below finite; specials are chosen at the end
    m = _mantf(xs)
    e = _expof(xs)
    low = m < _SQRTHF
    e = e - _ONE if low else e
    f = ((m + m) - _ONE) if low else (m - _ONE)
    e = e - _TWENTYFIVE if sub else e
    z = f * f
    p = (((((((_LP0 * f + _LP1) * f + _LP2) * f + _LP3) * f + _LP4) * f + _LP5) * f + _LP6) * f + _LP7) * f + _LP8
    y = (f * z) * p + e * _LN2F_LO
    y = y - _HALF * z
    y = (f + y) + e * _LN2F_HI
    y = -_INF if x == _ZERO else y
    y = _INF - _INF if x < _ZERO else y  # nan
    y = x if x == _INF else y
    return y if x == x else x


def vtanhf(x):
    """tanh(x) for float32 ``x`` in float32 arithmetic: <= 3 ulp."""
    a = abs(x)
    a = a if a < _TANH_CLAMP else _TANH_CLAMP  # NaN goes to the clamp, restored at the end
    big = _ONE - _TWO / (vexpf(a + a) + _ONE)
    z = x * x
    small = x + (x * z) * ((((_TP0 * z + _TP1) * z + _TP2) * z + _TP3) * z + _TP4)
    big = big if x > _ZERO else -big
    t = small if a < _TANH_SMALL else big
    t = x if a < _TANH_TINY else t  # tanh(x) = x to float32 precision; keeps -0.0
    return t if x == x else x


def vsigmoidf(x):
    """1 / (1 + exp(-x)) for float32 ``x`` in float32 arithmetic, exp's argument kept <= 0: <= 3 ulp."""
    e = vexpf(-abs(x))
    s = _ONE / (_ONE + e)
    return s if x >= _ZERO else e * s  # NaN falls through to e * s = NaN


FLOAT32_VERSIONS = {"vexp": "vexpf", "vlog": "vlogf", "vtanh": "vtanhf", "vsigmoid": "vsigmoidf"}
"""``scalar_math`` kernel scalar name -> the float32 version here (used for float32 operands)."""
