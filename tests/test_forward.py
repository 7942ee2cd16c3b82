"""Forward mode: dual numbers, jvp, jacfwd == jacrev == finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw as mf
import minifw.functional as F
from minifw.autodiff.dual import EPS, Dual
from minifw.testing import numerical_grad


def test_dual_sin_lesson():
    a, b = 0.7, 3.0
    assert F.sin(a + EPS * b) == Dual(math.sin(a), b * math.cos(a))
    d = F.exp(Dual(1.0, 1.0)) * Dual(2.0, 0.0)
    assert d.primal == pytest.approx(2 * math.e) and d.tangent == pytest.approx(2 * math.e)


def test_dual_on_tensors():
    x = mf.tensor([1.0, 2.0], dtype=mf.float64)
    d = F.tanh(Dual(x, mf.ones_like(x))) * 2.0
    np.testing.assert_allclose(d.tangent.numpy(), 2 * (1 - np.tanh([1.0, 2.0]) ** 2))


def test_jvp_floats_and_tensors():
    y, t = mf.jvp(lambda x, y: F.log(x) + x * y - F.sin(y), (2.0, 5.0), (1.0, 0.0))
    assert y == pytest.approx(11.652071455223084) and t == pytest.approx(5.5)
    x = mf.tensor([0.5, 1.5], dtype=mf.float64)
    y, t = mf.jvp(lambda x: (F.sin(x) * x).sum(), (x,), (mf.ones_like(x),))
    assert isinstance(t, mf.Tensor)
    assert float(t.item()) == pytest.approx(float(np.sum(np.cos([0.5, 1.5]) * [0.5, 1.5] + np.sin([0.5, 1.5]))))


def test_tensor_times_dual_defers_to_the_dual():
    x = mf.tensor([1.0, 2.0], dtype=mf.float64)
    d = x * Dual(x, mf.ones_like(x))
    assert isinstance(d, Dual)
    np.testing.assert_allclose(d.tangent.numpy(), [1.0, 2.0])


def test_jacobians_of_tanh_matmul_agree():
    rng = np.random.default_rng(0)
    A = mf.tensor(rng.standard_normal((3, 4)), dtype=mf.float64)
    x = rng.standard_normal(4)
    f = lambda v: F.tanh(A @ v)  # noqa: E731
    jf, jr = mf.jacfwd(f)(x), mf.jacrev(f)(x)
    assert jf.shape == (3, 4) and isinstance(jf, np.ndarray)
    np.testing.assert_allclose(jf, jr, rtol=1e-12)
    exact = (1 - np.tanh(A.numpy() @ x) ** 2)[:, None] * A.numpy()
    np.testing.assert_allclose(jf, exact, rtol=1e-12)


def test_hessian_forms_agree():
    x = np.array([0.3, -1.2, 2.0])
    h = lambda v: (F.sin(v) * v).sum()  # noqa: E731
    expect = np.diag(2 * np.cos(x) - x * np.sin(x))
    np.testing.assert_allclose(mf.hessian(h)(x), expect, atol=1e-12)
    np.testing.assert_allclose(mf.jacfwd(mf.jacfwd(h))(x), expect, atol=1e-12)
    np.testing.assert_allclose(mf.jacrev(mf.jacrev(h))(x), expect, atol=1e-12)


def test_hessian_of_two_floats_nested_tuple():
    f = lambda x, y: x * y + F.exp(x * y)  # noqa: E731
    H = mf.hessian(f, (0, 1))(1.0, 2.0)
    e2 = math.exp(2)
    np.testing.assert_allclose(np.array(H, dtype=float), [[4 * e2, 1 + 3 * e2], [1 + 3 * e2, e2]], rtol=1e-12)


# --- random expressions: jacfwd == jacrev == finite differences -----------------------------
UNARY = ["sin", "cos", "tanh", "exp", "sigmoid"]


@st.composite
def expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["x", "y", "z", "0.5", "1.3"]))
    kind = draw(st.sampled_from(["unary", "binary"]))
    if kind == "unary":
        return f"{draw(st.sampled_from(UNARY))}({draw(expressions(depth - 1))})"
    op = draw(st.sampled_from(["+", "-", "*"]))
    return f"({draw(expressions(depth - 1))} {op} {draw(expressions(depth - 1))})"


@settings(max_examples=40)
@given(expressions(), st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_jacfwd_equals_jacrev_equals_fd(text, point):
    from minifw.expr import parse

    ex = parse(f"{text} + 0*x + 0*y + 0*z")
    f = ex.function()

    def g(v):
        return f(v[0], v[1], v[2])

    x = np.array(point)
    jf, jr = mf.jacfwd(g)(x), mf.jacrev(g)(x)
    fd = numerical_grad(lambda v: float(np.asarray(g(mf.tensor(v, dtype=mf.float64)).numpy())), [x], 0)
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jf, fd, rtol=1e-5, atol=1e-6)
