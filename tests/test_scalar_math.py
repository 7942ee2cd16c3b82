"""Accuracy of the vectorisable scalar functions (minifw.ops.scalar_math.v*) against math, in float64.

Stated bounds (Python floats, no FMA; kernels with FMA contraction are at least as good):
vexp, vlog, vsin, vcos <= 1 ulp seen, tested at 2 ulp; vexpm1, vsigmoid <= 2 ulp, tested at 3;
vtanh, vtan <= 3 ulp, tested at 4 (all well under 1e-13 relative).  Trig holds for |x| <= TRIG_MAX_ABS.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw.ops import scalar_math as S

INF, NAN = math.inf, math.nan


def ulps(got: float, want: float) -> float:
    if got == want or (math.isnan(got) and math.isnan(want)):
        return 0.0
    return abs(got - want) / math.ulp(want if want != 0 else 5e-324)


def ref_sigmoid(x: float) -> float:
    return S.sigmoid(x)


def floats(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


CASES = [
    # name, reference, strategy, max ulp
    ("vexp", math.exp, floats(-708.0, 709.7), 2),
    ("vexpm1", math.expm1, floats(-60.0, 709.0), 3),
    ("vlog", math.log, floats(2.3e-308, 1.7e308), 2),
    ("vtanh", math.tanh, floats(-40.0, 40.0), 4),
    ("vsigmoid", ref_sigmoid, floats(-700.0, 700.0), 3),
    ("vsin", math.sin, floats(-S.TRIG_MAX_ABS, S.TRIG_MAX_ABS), 2),
    ("vcos", math.cos, floats(-S.TRIG_MAX_ABS, S.TRIG_MAX_ABS), 2),
    ("vtan", math.tan, floats(-S.TRIG_MAX_ABS, S.TRIG_MAX_ABS), 4),
]


@pytest.mark.parametrize("name,ref,strategy,bound", CASES, ids=[c[0] for c in CASES])
def test_accuracy_wide_range(name, ref, strategy, bound):
    f = getattr(S, name)

    @settings(max_examples=400, deadline=None)
    @given(strategy)
    def check(x):
        assert ulps(f(x), ref(x)) <= bound, (x, f(x), ref(x))

    check()


@pytest.mark.parametrize("name,ref,strategy,bound", CASES, ids=[c[0] for c in CASES])
def test_accuracy_small_arguments(name, ref, strategy, bound):
    """Tiny |x| (where cancellation would show) and numbers near the reduction boundaries."""
    f = getattr(S, name)
    xs = [s * 10.0**e for e in range(-30, 3) for s in (1.0, -1.0, 0.37, -0.71)]
    xs += [k * math.log(2) / 2 + d for k in range(-6, 7) for d in (-1e-12, 0.0, 1e-12)]
    for x in xs:
        if name == "vlog" and x <= 0:
            continue
        assert ulps(f(x), ref(x)) <= bound, (x, f(x), ref(x))


def test_exp_overflow_underflow_and_specials():
    assert S.vexp(709.78) == pytest.approx(math.exp(709.78), rel=1e-15)
    assert S.vexp(709.8) == INF and S.vexp(1e300) == INF and S.vexp(INF) == INF
    assert S.vexp(-746.0) == 0.0 and S.vexp(-INF) == 0.0
    assert math.isnan(S.vexp(NAN))
    for x in (-708.5, -720.0, -740.0, -745.0):  # gradual underflow: subnormal results, ~1 subnormal ulp
        assert abs(S.vexp(x) - math.exp(x)) <= 2 * 5e-324 + 2.3e-16 * math.exp(x)
    assert S.vexp(0.0) == 1.0 and S.vexp(-0.0) == 1.0


def test_log_specials_and_subnormals():
    assert S.vlog(0.0) == -INF and S.vlog(-0.0) == -INF
    assert math.isnan(S.vlog(-1.0)) and math.isnan(S.vlog(-INF)) and math.isnan(S.vlog(NAN))
    assert S.vlog(INF) == INF and S.vlog(1.0) == 0.0
    for x in (5e-324, 1e-320, 3.3e-310, 2.2e-308):
        assert ulps(S.vlog(x), math.log(x)) <= 2


def test_tanh_sigmoid_limits():
    assert S.vtanh(1e308) == 1.0 and S.vtanh(-1e308) == -1.0 and S.vtanh(INF) == 1.0 and S.vtanh(-INF) == -1.0
    assert math.copysign(1.0, S.vtanh(-0.0)) == -1.0 and math.isnan(S.vtanh(NAN))
    assert S.vsigmoid(INF) == 1.0 and S.vsigmoid(-INF) == 0.0 and S.vsigmoid(0.0) == 0.5
    assert S.vsigmoid(-740.0) == pytest.approx(math.exp(-740.0), rel=1e-12, abs=1e-323)  # no overflow for x << 0
    assert math.isnan(S.vsigmoid(NAN))


def test_trig_specials():
    for f in (S.vsin, S.vcos, S.vtan):
        assert math.isnan(f(INF)) and math.isnan(f(-INF)) and math.isnan(f(NAN))
    assert math.copysign(1.0, S.vsin(-0.0)) == -1.0 and S.vcos(0.0) == 1.0
    assert S.VECTOR_DOMAIN["vsin"] == S.TRIG_MAX_ABS


def test_nan_aware_helpers_match_numpy():
    import numpy as np

    vals = [-2.0, -0.0, 0.0, 3.0, NAN, INF]
    for x in vals:
        assert np.array_equal(S.vsign(x), np.sign(x), equal_nan=True)
        for y in vals:
            assert np.array_equal(S.vmaximum(x, y), np.maximum(x, y), equal_nan=True)
            assert np.array_equal(S.vminimum(x, y), np.minimum(x, y), equal_nan=True)


def test_reference_functions_untouched():
    # the trace tables rely on the exact math-based versions
    assert S.exp(1.0) == math.exp(1.0) and S.log(2.0) == math.log(2.0) and S.tanh(0.3) == math.tanh(0.3)


def test_every_v_function_has_a_docstring():
    for name in ("vexp", "vexpm1", "vlog", "vtanh", "vsigmoid", "vsin", "vcos", "vtan", "vsign", "vmaximum",
                 "vminimum"):
        assert getattr(S, name).__doc__
