"""The one topological order and reverse sweep (minifw.sweep), and the tuned copy the scalar engine keeps.

(The 100,000-op chain that proves the sort iterative is in test_tensor.py.)
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw as mf
import minifw.functional as F
from minifw.autodiff.scalar import Scalar
from minifw.sweep import reverse_sweep, toposort

UNARY = [F.sin, F.cos, F.tanh, F.sigmoid, lambda x: F.exp(0.1 * x), F.square]
BINARY = [F.add, F.sub, F.mul, lambda x, y: x / (2.0 + F.square(y))]


def _build(program, leaves):
    """A random DAG: each step applies an op to earlier values, so values are shared along several paths."""
    vals = list(leaves)
    for op, i, j in program:
        a, b = vals[i % len(vals)], vals[j % len(vals)]
        vals.append(UNARY[op % len(UNARY)](a) if op % 2 else BINARY[op % len(BINARY)](a, b))
    return vals[-1]


programs = st.lists(st.tuples(st.integers(0, 11), st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=25)
points = st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3)


def _scalar_parents(n):
    return [a for a in n.args if type(a) is Scalar]


def _scalar_values(node, inputs):
    return node.value, [a.value if type(a) is Scalar else a for a in inputs]


@settings(max_examples=60, deadline=None)
@given(programs, points)
def test_scalar_engine_sweep_equals_the_shared_sweep(program, xs):
    leaves = [Scalar(x) for x in xs]
    out = _build(program, leaves)
    if type(out) is not Scalar or out.prim is None:
        return
    out.backward()
    found = reverse_sweep(toposort([out], _scalar_parents), {id(out): 1.0}, unpack=_scalar_values)
    for leaf in leaves:
        shared = found.get(id(leaf), (None, 0.0))[1]
        assert math.isclose(leaf.grad, shared, rel_tol=1e-12, abs_tol=1e-12), (leaf.grad, shared)


@settings(max_examples=30, deadline=None)
@given(programs, points)
def test_eager_and_static_gradients_agree_through_the_one_sweep(program, xs):
    from minifw import static

    x = [mf.tensor(v, dtype=mf.float64, requires_grad=True) for v in xs]
    out = _build(program, x)
    if not getattr(out, "requires_grad", False):
        return
    out.backward()
    with static.Graph():
        ph = [static.placeholder((), np.float64, name=f"x{k}") for k in range(3)]
        grads = static.gradients(_build(program, ph), ph)
        want = [g for g in grads if g is not None]
        got = static.Session(disable=("fusion",)).run(want, {p: v for p, v in zip(ph, xs)})  # no kernel compiles
    it = iter(got)
    for t, g in zip(x, grads):
        expected = 0.0 if g is None else float(next(it))
        assert math.isclose(float(t.grad.item()) if t.grad is not None else 0.0, expected, rel_tol=1e-9, abs_tol=1e-12)


def test_hooks_run_in_the_sweep_and_may_replace_a_gradient():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10.0)
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])  # 3 * (6, 12), times 10 by the leaf's hook


def test_backward_twice_needs_retain_graph():
    import pytest

    x = mf.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # the tape was kept: gradients accumulate, as in PyTorch
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])  # nothing was added by the refused sweep
    z = (x * 3.0).sum()
    (gx,) = mf.autograd.grad(z, [x])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        mf.autograd.grad(z, [x])
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0])
