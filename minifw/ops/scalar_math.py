"""Scalar functions on Python floats: the reference definitions.

These are what the evaluation-trace tables evaluate and what numba compiles
into kernels (``minifw.kernels`` imports this module; nothing here imports
numba).  ``math`` is used for the reference: it is exact to the last bit in
float64, which is what the textbook tables need.
"""

from __future__ import annotations

import math


def neg(x):
    return -x


def exp(x):
    return math.exp(x)


def log(x):
    return math.log(x)


def sin(x):
    return math.sin(x)


def cos(x):
    return math.cos(x)


def tan(x):
    return math.tan(x)


def tanh(x):
    return math.tanh(x)


def sigmoid(x):
    # Two branches keep exp's argument non-positive: no overflow for any x.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def relu(x):
    return x if x > 0 else 0.0 * x


def sqrt(x):
    return math.sqrt(x)


def abs_(x):
    return abs(x)


def square(x):
    return x * x


def reciprocal(x):
    return 1.0 / x


def step(x):
    return 1.0 if x > 0 else 0.0


def sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def div(x, y):
    return x / y


def pow_(x, y):
    return x**y


def maximum(x, y):
    return x if x >= y else y


def minimum(x, y):
    return x if x <= y else y


def lt(x, y):
    return x < y


def le(x, y):
    return x <= y


def gt(x, y):
    return x > y


def ge(x, y):
    return x >= y


def eq(x, y):
    return x == y


def ne(x, y):
    return x != y


def where(c, x, y):
    return x if c else y


# =============================================================================
# Vectorisable scalar transcendentals (the kernels' versions)
# =============================================================================
# pip's llvmlite has no SVML, so ``math.exp`` inside a numba loop is a scalar
# libm call and the loop does not vectorise (BENCHMARKS.md, hazards).  The
# functions below are plain arithmetic -- adds, multiplies, compares, int <->
# float conversions -- which LLVM turns into SIMD code.  They run unchanged on
# Python floats (tests compare them with ``math``), and numba compiles them
# once ``minifw.kernels`` has registered them (it also swaps the two bit
# helpers ``_pow2i`` / ``_frexp`` for integer-bit versions).
#
# Numerical contract: float64 arithmetic throughout (a float32 kernel rounds
# the float64 result once, so float32 outputs are within ~0.5 ulp).  They rely
# on IEEE evaluation order (Cody-Waite and compensated sums): compile them with
# at most the fastmath flags in SAFE_FASTMATH, never 'reassoc' or 'nnan'.

SAFE_FASTMATH = frozenset({"contract"})
"""fastmath flags that keep the v* functions' error bounds (FMA contraction only)."""

_INF = float("inf")
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with 32 significant bits: k * _LN2_HI is exact for |k| < 2**21
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_INV_LN2 = 1.44269504088896338700e00
_EXP_HI = 710.0  # exp(710) overflows; clamping keeps the integer k in range
_EXP_LO = -746.0  # exp(-746) underflows to 0
_TINY = 2.2250738585072014e-308  # smallest normal float64


def _pow2i(k):
    """2**k for an integer ``k`` with |k| <= 1022 (pure arithmetic; the kernels use exponent bits)."""
    return 2.0**k


def _frexp(x):
    """(m, e) with x = m * 2**e and 0.5 <= m < 1, for a positive normal float ``x``.

    A slow but exact pure-arithmetic fallback (halving and doubling are exact);
    the kernels replace it with a read of the exponent bits.
    """
    m = x
    e = 0
    while m >= 1.0:
        m *= 0.5
        e += 1
    while m < 0.5:
        m *= 2.0
        e -= 1
    return m, e


def _round_int(t):
    """Nearest integer (ties away from zero) without math.floor: truncation vectorises."""
    return int(t + 0.5) if t >= 0.0 else int(t - 0.5)


def _expm1_poly(r):
    """exp(r) - 1 for |r| <= ln2/2: degree-13 Taylor, written r + r^2 q(r) so the small part is summed last.

    Truncation error |r|^14/14! < 5e-18 relative; Horner in float64 adds < 0.5 ulp.
    """
    q = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)  # 1/12!, 1/13!
    q = 1.0 / 39916800.0 + r * q
    q = 1.0 / 3628800.0 + r * q
    q = 1.0 / 362880.0 + r * q
    q = 1.0 / 40320.0 + r * q
    q = 1.0 / 5040.0 + r * q
    q = 1.0 / 720.0 + r * q
    q = 1.0 / 120.0 + r * q
    q = 1.0 / 24.0 + r * q
    q = 1.0 / 6.0 + r * q
    q = 0.5 + r * q
    return r + (r * r) * q


def vexp(x):
    """exp(x) in vectorisable arithmetic: max error ~1 ulp in float64 (normal results).

    Cody-Waite range reduction x = k ln2 + r with |r| <= ln2/2 (ln2 split in a
    high part whose products with k are exact, and a low part), a polynomial for
    exp(r), and 2**k built from exponent bits in two halves so that results near
    overflow and gradual underflow (subnormals) come out right.
    exp(+inf) = inf, exp(-inf) = 0, exp(nan) = nan.
    """
    xc = x if x > _EXP_LO else _EXP_LO  # NaN goes to _EXP_LO here, restored at the end
    xc = xc if xc < _EXP_HI else _EXP_HI
    k = _round_int(xc * _INV_LN2)
    kf = float(k)
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    p = _expm1_poly(r)
    k1 = k >> 1  # 2**k = 2**k1 * 2**k2, each factor a normal number even for k = 1024 or -1076
    y = ((1.0 + p) * _pow2i(k1)) * _pow2i(k - k1)
    return y if x == x else x


def vexpm1(x):
    """exp(x) - 1, accurate also for tiny |x| (where exp(x) - 1 would cancel): ~2 ulp in float64."""
    xc = x if x > -40.0 else -40.0  # expm1(x) = -1 to float64 precision below -37.5
    xc = xc if xc < _EXP_HI else _EXP_HI
    k = _round_int(xc * _INV_LN2)
    kf = float(k)
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    p = _expm1_poly(r)
    k1 = k >> 1
    s1 = _pow2i(k1)
    s2 = _pow2i(k - k1)
    t = s1 * s2
    # small k: 2^k (1 + p) - 1 = (2^k - 1) + 2^k p, where 2^k - 1 is exact; large k: the "- 1" is invisible
    y = (t - 1.0) + t * p if k < 56 else ((1.0 + p) * s1) * s2 - 1.0
    return y if x == x else x


def vtanh(x):
    """tanh(x) = e / (e + 2) with e = expm1(2x): no cancellation for small |x|; ~3 ulp in float64."""
    xc = x if x > -20.0 else -20.0  # tanh(+-20) rounds to +-1 in float64
    xc = xc if xc < 20.0 else 20.0
    e = vexpm1(2.0 * xc)
    t = e / (e + 2.0)
    t = x if abs(x) < 1e-9 else t  # tanh(x) = x to float64 precision; keeps -0.0
    return t if x == x else x


def vsigmoid(x):
    """1 / (1 + exp(-x)) with exp's argument kept <= 0, so it never overflows: ~2 ulp in float64."""
    e = vexp(-abs(x))
    s = 1.0 / (1.0 + e)
    return s if x >= 0.0 else e * s  # for x < 0: e / (1 + e); NaN falls through to e * s = NaN


_LG1 = 6.666666666666735130e-01  # fdlibm e_log.c: minimax for log(1+f) via s = f / (2 + f)
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT_HALF = 0.70710678118654752440


def vlog(x):
    """Natural log in vectorisable arithmetic (fdlibm's algorithm): < 1 ulp in float64.

    x = m 2^e with sqrt(1/2) <= m < sqrt(2) (exponent bits read directly in the
    kernels), f = m - 1, s = f / (2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)).
    log(0) = -inf, log(x < 0) = nan, log(inf) = inf, log(nan) = nan; subnormals are scaled up first.
    """
    sub = x < _TINY
    xs = x * 18014398509481984.0 if sub else x  # 2**54 lifts subnormals into the normal range
    ok = xs > 0.0 and xs < _INF
    xs = xs if ok else 1.0  # keep the arithmetic below finite; specials are chosen at the end
    m, e = _frexp(xs)
    if m < _SQRT_HALF:
        m = m + m
        e = e - 1
    e = e - 54 if sub else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    dk = float(e)
    y = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    if x == 0.0:
        y = -_INF
    if x < 0.0:
        y = _INF - _INF  # nan
    if x == _INF:
        y = x
    return y if x == x else x


# --- sin, cos, tan ------------------------------------------------------------------
# Range reduction x = n pi/2 + (y0 + y1) by Cody-Waite with pi/2 in three 33-bit
# parts (fdlibm's "medium" case, done branch-free): n * part is exact while
# |n| < 2**20, so the reduced argument is good to ~2**-100 for |x| <= 2**20 pi/2.
# Beyond that these functions lose accuracy; VECTOR_DOMAIN says where they hold
# and the kernels fall back to numpy for arrays that leave it.
_INV_PIO2 = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e00
_PIO2_1T = 6.07710050650619224932e-11
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_2T = 2.02226624879595063154e-21
_PIO2_3 = 2.02226624871116645580e-21
_PIO2_3T = 8.47842766036889956997e-32
_S1 = -1.66666666666666324348e-01  # fdlibm k_sin.c
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02  # fdlibm k_cos.c
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11

TRIG_MAX_ABS = 1647099.0
"""|x| up to which vsin, vcos and vtan keep their error bound (2**20 * pi/2)."""


def _rem_pio2(x):
    """(n, y0, y1): x = n pi/2 + y0 + y1, |y0| <= pi/4, y1 the tail of y0 (valid for |x| <= TRIG_MAX_ABS)."""
    xc = x if abs(x) <= TRIG_MAX_ABS else 0.0  # NaN, inf and out-of-domain: keep the integers sane
    n = _round_int(xc * _INV_PIO2)
    fn = float(n)
    r = xc - fn * _PIO2_1
    w = fn * _PIO2_1T
    # second and third correction steps of fdlibm, always applied (they are exact when not needed)
    t = r
    w = fn * _PIO2_2
    r = t - w
    w = fn * _PIO2_2T - ((t - r) - w)
    t = r
    w = fn * _PIO2_3
    r = t - w
    w = fn * _PIO2_3T - ((t - r) - w)
    y0 = r - w
    y1 = (r - y0) - w
    return n, y0, y1


def _ksin(x, y):
    """sin(x + y) on [-pi/4, pi/4], y a tail of x (fdlibm __kernel_sin)."""
    z = x * x
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    v = z * x
    return x - ((z * (0.5 * y - v * r) - y) - v * _S1)


def _kcos(x, y):
    """cos(x + y) on [-pi/4, pi/4] (fdlibm __kernel_cos)."""
    z = x * x
    w = z * z
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


def vsin(x):
    """sin(x), ~1 ulp in float64 for |x| <= TRIG_MAX_ABS (beyond it, see VECTOR_DOMAIN); sin(+-inf) = nan."""
    n, y0, y1 = _rem_pio2(x)
    s = _ksin(y0, y1)
    c = _kcos(y0, y1)
    q = n & 3
    y = s if q == 0 else (c if q == 1 else (-s if q == 2 else -c))
    y = x if abs(x) < 1e-9 else y  # sin(x) = x to float64 precision; keeps -0.0
    return y if abs(x) < _INF else x - x  # inf - inf = nan, nan stays nan


def vcos(x):
    """cos(x), ~1 ulp in float64 for |x| <= TRIG_MAX_ABS; cos(+-inf) = nan."""
    n, y0, y1 = _rem_pio2(x)
    s = _ksin(y0, y1)
    c = _kcos(y0, y1)
    q = n & 3
    y = c if q == 0 else (-s if q == 1 else (-c if q == 2 else s))
    return y if abs(x) < _INF else x - x


def vtan(x):
    """tan(x) as sin/cos of the reduced argument (-cos/sin for odd quadrants): ~2 ulp for |x| <= TRIG_MAX_ABS."""
    n, y0, y1 = _rem_pio2(x)
    s = _ksin(y0, y1)
    c = _kcos(y0, y1)
    y = s / c if (n & 1) == 0 else -c / s
    y = x if abs(x) < 1e-9 else y
    return y if abs(x) < _INF else x - x


# --- small helpers whose math versions disagree with numpy on NaN ---------------------
def vsign(x):
    """sign(x) that keeps NaN (numpy's np.sign(nan) is nan; ``sign`` above returns 0)."""
    return 1.0 if x > 0 else (-1.0 if x < 0 else x)


def vmaximum(x, y):
    """max(x, y) propagating NaN from either side, like np.maximum."""
    return x if (x >= y or x != x) else y


def vminimum(x, y):
    """min(x, y) propagating NaN from either side, like np.minimum."""
    return x if (x <= y or x != x) else y


VECTOR_DOMAIN = {"vsin": TRIG_MAX_ABS, "vcos": TRIG_MAX_ABS, "vtan": TRIG_MAX_ABS}
"""Scalar function name -> largest |x| where it keeps its error bound (absent: everywhere).

A kernel that runs one of these checks its inputs and falls back to the
reference (numpy) when an input is outside, so results are never silently wrong.
"""
