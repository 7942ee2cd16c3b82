"""A primitive defined here, outside minifw, is its scalar function plus one registry row.

``softplus(x) = ln(1 + e^x)`` is registered with :func:`minifw.ops.define` (the
helper minifw's own elementwise rows use) and then checked everywhere a built-in
primitive runs: eager value and gradient, the static graph (Session, function, symbolic
gradient), ``mf.jit``, the trace tables (rows, notation, LaTeX), the CPU numba
kernel, a fused kernel, ``gradcheck`` to second order, and the CUDA backend under
numba's simulator (a subprocess: the simulator must be chosen before numba loads).

The registry is global, so the row is registered by a module fixture and
unregistered after it (with every name made from it): the other tests, which
walk ``all_primitives()``, never see it.  Its scalar function calls ``math``
(not one arithmetic expression), so the fused kernel calls it by module and
name rather than inlining it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minifw as mf
from minifw import functional as F
from minifw import static
from minifw.ops import define, unregister


def softplus(x):
    """ln(1 + e^x) without overflow: ln(1 + e^-|x|) + max(x, 0)."""
    return math.log1p(math.exp(-abs(x))) + (x if x > 0.0 else 0.0)


def register_softplus():
    return define("softplus", "unary", lambda x: np.logaddexp(0.0, x), softplus,
                  [lambda x, out: F.sigmoid(x)], "softplus {0}", ["σ({0})"], float_result=True,
                  latex={"softplus": r"\operatorname{{softplus}}"}, method=True, public=True)


@pytest.fixture(scope="module")
def prim():
    p = register_softplus()
    yield p
    unregister("softplus")
    assert not hasattr(F, "softplus") and not hasattr(mf.Tensor, "softplus") and "softplus" not in mf.__all__


X = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_the_row_makes_its_names(prim):
    assert F.softplus._mf_prim is prim and F.softplus.__module__ == "minifw.functional"
    assert "softplus" in F.__all__ and "softplus" in mf.__all__ and mf.softplus is F.softplus
    assert F.softplus.__doc__ and "softplus x" in F.softplus.__doc__
    assert F.softplus(0.0) == pytest.approx(math.log(2.0))  # floats: the scalar function itself


def test_eager_value_gradient_and_method(prim):
    x = mf.tensor(X, requires_grad=True)
    y = x.softplus()
    np.testing.assert_allclose(y.numpy(), np.logaddexp(0.0, X), rtol=1e-12)
    (y * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * _sigmoid(X), rtol=1e-12)


def test_static_session_function_and_symbolic_gradient(prim):
    with static.Graph() as g:
        xp = static.placeholder((5,), dtype=np.float64, name="x")
        y = mf.sum(xp.softplus())
        (gx,) = static.gradients(y, [xp])
        f = static.function([xp], [y, gx])
    with static.Session(g) as sess:
        v, gv = sess.run([y, gx], {xp: X})
    assert float(v) == pytest.approx(np.logaddexp(0.0, X).sum(), rel=1e-12)
    np.testing.assert_allclose(gv, _sigmoid(X), rtol=1e-12)
    fv, fg = f(X)
    np.testing.assert_allclose(fg, gv, rtol=1e-12)
    assert float(fv) == pytest.approx(float(v), rel=1e-12)


def test_jit(prim):
    h = mf.jit(mf.value_and_grad(lambda t: F.softplus(t * 3.0).sum()))
    v, g = h(mf.tensor(X))
    assert float(v.numpy()) == pytest.approx(np.logaddexp(0.0, 3.0 * X).sum(), rel=1e-12)
    np.testing.assert_allclose(g.numpy(), 3.0 * _sigmoid(3.0 * X), rtol=1e-10)


def test_trace_table_rows_notation_and_latex(prim):
    from minifw.autodiff.trace import trace

    t = trace(lambda x1, x2: F.softplus(x1 * x2), {"x1": 0.5, "x2": 2.0})
    row = t.rows[-1]
    assert row.op == "softplus" and row.formula() == "v_2 = softplus v_1"
    assert row.value == pytest.approx(math.log1p(math.e))
    assert row.partials == [pytest.approx(_sigmoid(1.0))]
    assert row.tangent_formula() == "v̇_2 = v̇_1 × σ(v_1)"
    assert t.gradient == {"x1": pytest.approx(2.0 * _sigmoid(1.0)), "x2": pytest.approx(0.5 * _sigmoid(1.0))}
    assert t.reverse_steps[0].formula() == "v̄_1 = v̄_2 × σ(v_1)"
    from minifw.expr import trace as trace_text  # the expression parser knows every unary row by name

    assert trace_text("softplus(x1 * x2)", {"x1": 0.5, "x2": 2.0}).value == t.value
    tex = t.to_latex()
    assert r"\operatorname{softplus} v_{1}" in tex and r"\bar{v}_{2} \times \sigma(v_{1})" in tex


def test_scalar_engine_method(prim):
    from minifw.autodiff.scalar import Scalar

    s = Scalar(0.3)
    y = s.softplus() * 2.0
    y.backward()
    assert s.grad == pytest.approx(2.0 * _sigmoid(0.3), rel=1e-12)


def test_cpu_kernel(prim):
    from minifw.kernels import cpu

    for dtype in (np.float64, np.float32):
        x = np.linspace(-30.0, 30.0, 257).astype(dtype)
        got = cpu.map(prim, x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, np.logaddexp(0.0, x), rtol=1e-6 if dtype == np.float32 else 1e-13)
        strided = x.reshape(257, 1)[::2]  # a non-contiguous view takes the 3-D loop
        np.testing.assert_allclose(cpu.map(prim, strided), np.logaddexp(0.0, strided), rtol=1e-6)


def test_fused_with_other_elementwise_ops(prim):
    with static.Graph():
        a = static.placeholder((4, 6), dtype=np.float64, name="a")
        b = static.placeholder((6,), dtype=np.float64, name="b")
        out = (a * b + 1.0).softplus() * a.tanh()
    compiled = static.compile([out], inputs=[a, b])
    kernels = compiled.kernels()
    assert any("softplus" in k.spec.summary() and "tanh" in k.spec.summary() for k in kernels), \
        [k.spec.summary() for k in kernels]
    rng = np.random.default_rng(3)
    av, bv = rng.standard_normal((4, 6)), rng.standard_normal(6)
    got = compiled.run([av, bv])[0][0]
    np.testing.assert_allclose(got, np.logaddexp(0.0, av * bv + 1.0) * np.tanh(av), rtol=1e-12)


def test_gradcheck_first_and_second_order(prim):
    from minifw.testing import gradcheck

    x = np.linspace(-2.0, 2.0, 7).reshape(7, 1) * np.array([1.0, -0.5])
    assert gradcheck(lambda t: F.softplus(t) * t, [x])

    def first_derivative(t):  # d/dt sum(softplus(t) * t), kept differentiable
        if not t.requires_grad:  # gradcheck's central differences pass plain tensors
            t.requires_grad_(True)
        (g,) = mf.autograd.grad((F.softplus(t) * t).sum(), t, create_graph=True)
        return g

    assert gradcheck(first_derivative, [x])
    assert mf.grad(mf.grad(F.softplus))(0.3) == pytest.approx(_sigmoid(0.3) * (1 - _sigmoid(0.3)), rel=1e-12)


CUDA_SIM = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("new_primitive_case", sys.argv[1])
case = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = case
spec.loader.exec_module(case)
import minifw as mf
from minifw.kernels import cuda as C
case.register_softplus()
x = np.linspace(-3, 3, 7).astype(np.float32)
out = {}
for device in ("cpu", "cuda"):
    t = mf.tensor(x, device=device, requires_grad=True)
    y = t.softplus()
    (y * y).sum().backward()
    out[device] = [C.to_host(a.data) if device == "cuda" else a.numpy() for a in (y, t.grad)]
assert type(y.data) is C.CudaArray
for c, d in zip(out["cpu"], out["cuda"]):
    np.testing.assert_allclose(c, d, rtol=2e-5, atol=2e-6)
np.testing.assert_allclose(out["cpu"][0], np.logaddexp(0, x), rtol=1e-6)
print("ok")
"""


def test_cuda_simulator_forward_and_backward():
    """Its own process: numba's simulator must be chosen before numba is first imported."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-c", CUDA_SIM, str(Path(__file__).resolve())], env=env,
                       capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout[-3000:] + r.stderr[-3000:]
