"""minifw.jit: tracing, caching by shape, composing with value_and_grad."""

import numpy as np
import pytest

import minifw as mf


def mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = mf.relu(x @ w1 + b1)
    logits = h @ w2 + b2
    return -mf.mean(mf.sum(mf.log_softmax(logits, axis=1) * y, axis=1))


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in [(6, 8), (8,), (8, 3), (3,)]]
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    return params, x, y


def test_jit_matches_eager_and_returns_tensors(problem):
    params, x, y = problem
    f = mf.jit(mlp_loss)
    got = f(params, x, y)
    want = mlp_loss([mf.tensor(p) for p in params], mf.tensor(x), mf.tensor(y))
    assert isinstance(got, mf.Tensor)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


def test_jit_value_and_grad_is_one_graph_and_matches_eager(problem):
    params, x, y = problem
    step = mf.jit(mf.value_and_grad(mlp_loss))
    value, grads = step(params, x, y)
    pe = [mf.tensor(p, requires_grad=True) for p in params]
    loss = mlp_loss(pe, mf.tensor(x), mf.tensor(y))
    loss.backward()
    np.testing.assert_allclose(value.numpy(), loss.numpy(), rtol=1e-5)
    for g, p in zip(grads, pe):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-6)
    compiled = step.lower(params, x, y)
    assert compiled.graph.count("input") == 6 and len(compiled.graph.outputs) == 5


def test_cache_by_shape_and_retrace_on_new_shape():
    f = mf.jit(lambda a: mf.relu(a * 2.0) - a)
    x = np.ones((3, 2), np.float32)
    f(x)
    f(x + 1)
    assert f.trace_count == 1
    f(np.ones((4, 2), np.float32))
    assert f.trace_count == 2
    f(np.ones((3, 2), np.float64))  # a new dtype is a new signature too
    assert f.trace_count == 3
    np.testing.assert_allclose(f(x).numpy(), np.ones((3, 2)))


def test_jit_of_grad_of_grad():
    d2 = mf.jit(mf.grad(lambda x: mf.sum(mf.grad(lambda z: mf.sum(z * z * z))(x))))
    x = np.array([1.0, 2.0, -1.0], np.float32)
    np.testing.assert_allclose(d2(x).numpy(), 6 * x, rtol=1e-6)


def test_jit_options_switch_passes_off():
    f = mf.jit(disable=("fusion",))(lambda a: mf.relu(a) * 3.0)
    c = f.lower(np.ones(4, np.float32))
    assert c.graph.count("fused") == 0 and "fusion" not in c.passes
