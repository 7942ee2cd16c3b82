"""eager == static (every pass on, every pass off) == jit, for values and gradients.

Each function is written once with minifw ops and run by every frontend; the
gradient is the gradient of the scalar output with respect to every input.
Fused kernels with transcendental functions take seconds to compile cold, so
those combinations are in the slow tier.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw as mf
from minifw import static


def elementwise_chain(x):
    return mf.sum(mf.relu(x * 2.0 - 1.0) * x + mf.maximum(x, 0.1) - x / 4.0)


def transcendental_chain(x):
    return mf.sum(mf.tanh(x) * mf.sigmoid(x) + mf.exp(-x * x) + mf.log(x * x + 1.0))


def reductions(x):
    return mf.sum(mf.mean(x, axis=1, keepdims=True) * x) + mf.max(x) - mf.sum(mf.min(x, axis=0))


def broadcasting(x, b, w):
    return mf.sum(mf.relu(x + b) * w) + mf.sum(b * b)


def matmul_chain(x, w1, w2):
    return mf.sum(mf.square((x @ w1) @ w2))


def mlp_loss(x, y, w1, b1, w2, b2):
    h = mf.relu(x @ w1 + b1)
    return -mf.mean(mf.sum(mf.log_softmax(h @ w2 + b2, axis=1) * y, axis=1))


rng = np.random.default_rng(0)


def _r(*s):
    return rng.standard_normal(s).astype(np.float32)


CASES = {
    "elementwise": (elementwise_chain, [_r(3, 5)], False),
    "transcendental": (transcendental_chain, [_r(4, 3)], True),
    "reductions": (reductions, [_r(3, 4)], False),
    "broadcasting": (broadcasting, [_r(3, 4), _r(4), _r(3, 1)], False),
    "matmul": (matmul_chain, [_r(2, 3), _r(3, 4), _r(4, 2)], False),
    "mlp": (mlp_loss, [_r(5, 6), np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]], _r(6, 8) * 0.5, _r(8) * 0.1,
                       _r(8, 3) * 0.5, _r(3) * 0.1], False),
}

MODES = {
    "static_no_passes": dict(passes=[]),
    "static_no_fusion": dict(disable=("fusion",)),
    "static_all_passes": dict(),
    "jit": None,
}


def eager(fn, args):
    ts = [mf.tensor(a, requires_grad=True) for a in args]
    out = fn(*ts)
    out.backward()
    return out.numpy(), [t.grad.numpy() for t in ts]


def run_static(fn, args, options):
    with static.Graph():
        xs = [static.placeholder(a.shape, name=f"x{k}") for k, a in enumerate(args)]
        out = fn(*xs)
        grads = static.gradients(out, xs)
        f = static.function(xs, [out, *grads], **options)
    value, *grads = f(*args)
    return value, grads


def run_jit(fn, args):
    vg = mf.jit(mf.value_and_grad(fn, argnums=tuple(range(len(args)))))
    value, grads = vg(*args)
    return value.numpy(), [g.numpy() for g in grads]


def _params():
    out = []
    for name, (_, _, heavy) in CASES.items():
        for mode in MODES:
            fused = mode in ("static_all_passes", "jit")
            marks = [pytest.mark.slow] if heavy and fused else []
            out.append(pytest.param(name, mode, marks=marks, id=f"{name}-{mode}"))
    return out


@pytest.mark.parametrize("case,mode", _params())
def test_frontends_agree(case, mode):
    fn, args, _ = CASES[case]
    want_v, want_g = eager(fn, args)
    got_v, got_g = run_jit(fn, args) if MODES[mode] is None else run_static(fn, args, MODES[mode])
    np.testing.assert_allclose(got_v, want_v, rtol=2e-5, atol=1e-6)
    assert len(got_g) == len(want_g)
    for g, w in zip(got_g, want_g):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def fused_elementwise():
    with static.Graph():
        x = static.placeholder((8,), name="x")
        out = elementwise_chain(x)
        f = static.function([x], [out, static.gradients(out, x)])
    assert f.compiled(np.zeros(8, np.float32)).graph.count("fused") >= 1
    return f


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-50, 50, width=32), min_size=8, max_size=8))
def test_fused_static_equals_eager_for_any_input(fused_elementwise, values):
    x = np.array(values, np.float32)
    v, g = fused_elementwise(x)
    want_v, (want_g,) = eager(elementwise_chain, [x])
    np.testing.assert_allclose(v, want_v, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(g, want_g, rtol=1e-6, atol=1e-6)
