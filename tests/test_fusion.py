"""Elementwise fusion: groups, broadcasting, reduction epilogues, the kernel cache.

Kernels here use arithmetic, relu and maximum (they compile in about a
second); the transcendental W2 kernel takes several seconds cold and is in
the slow tier.
"""

import numpy as np
import pytest

import minifw as mf
from minifw import static


def _compile(build, shapes, **kw):
    with static.Graph():
        xs = [static.placeholder(s, name=f"x{k}") for k, s in enumerate(shapes)]
        outs = build(*xs)
    outs = [outs] if isinstance(outs, static.Symbol) else list(outs)
    return static.compile(outs, inputs=xs, **kw)


@pytest.fixture(scope="module")
def mlp_layer():
    """relu(x @ w + b) and its gradient: a broadcast bias, fused forward and backward."""

    def build(x, w, b):
        h = mf.relu(x @ w + b)
        loss = mf.sum(h * h)
        gx, gw, gb = static.gradients(loss, [x, w, b])
        return loss, gx, gw, gb

    return _compile(build, [(8, 5), (5, 3), (3,)])


def test_broadcast_bias_and_relu_fuse_into_one_kernel(mlp_layer):
    lowered = mlp_layer.graph_after("lowered")
    fused = mlp_layer.graph
    assert fused.count("fused") >= 1
    assert len(fused.compute_nodes()) < len(lowered.compute_nodes())
    k = mlp_layer.kernels()[0]
    assert "relu" in k.spec.summary() or "maximum" in k.spec.summary() or "add" in k.spec.summary()


def test_fused_values_and_gradients_match_unfused(mlp_layer):
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(s).astype(np.float32) for s in [(8, 5), (5, 3), (3,)]]
    plain = _compile(lambda x, w, b: _layer_grads(x, w, b), [(8, 5), (5, 3), (3,)], passes=[])
    got = mlp_layer.run(args)[0]
    want = plain.run(args)[0]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _layer_grads(x, w, b):
    h = mf.relu(x @ w + b)
    loss = mf.sum(h * h)
    return (loss, *static.gradients(loss, [x, w, b]))


def test_full_sum_becomes_a_kernel_epilogue():
    c = _compile(lambda x, y: mf.sum(mf.maximum(x * y, 0.25) - y), [(3000,), (3000,)])
    assert c.graph.count("fused") == 1 and c.graph.count("sum") == 0
    assert c.kernels()[0].spec.reductions
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(3000).astype(np.float32), rng.standard_normal(3000).astype(np.float32)
    np.testing.assert_allclose(c.run([x, y])[0][0], np.sum(np.maximum(x * y, 0.25) - y), rtol=1e-5)


def test_groups_never_form_cycles_through_unfused_nodes():
    # u feeds a matmul whose result meets u's group again: fusing across it would be a cycle
    def build(x, w):
        u = x * 2.0 + 1.0
        v = u @ w
        return mf.relu(v) * 3.0 + mf.sum(u)

    c = _compile(build, [(4, 4), (4, 4)])
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 4)).astype(np.float32), rng.standard_normal((4, 4)).astype(np.float32)
    u = x * 2 + 1
    np.testing.assert_allclose(c.run([x, w])[0][0], np.maximum(u @ w, 0) * 3 + u.sum(), rtol=1e-5)


def test_kernel_source_is_cached_by_structure_not_size(tmp_path, monkeypatch):
    from minifw.kernels import fusion as K

    build = lambda x: mf.relu(x * 0.5 - 0.25) * x  # noqa: E731
    small = _compile(build, [(16,)])
    large = _compile(build, [(4, 40)])
    assert small.kernels()[0].key == large.kernels()[0].key  # same structure, collapsed to 1-D both times
    assert (K.cache_dir() / f"fused_{small.kernels()[0].key}.py").exists()
    x = np.linspace(-1, 1, 160).astype(np.float32).reshape(4, 40)
    np.testing.assert_allclose(large.run([x])[0][0], np.maximum(x * 0.5 - 0.25, 0) * x, rtol=1e-6)


def test_fusion_groups_are_visible_for_drawing(mlp_layer):
    groups = {n.fusion_group for n in mlp_layer.graph_after("dce").compute_nodes()} - {None}
    assert groups
    assert "fused" in str(mlp_layer.graph)


def test_in_place_buffers_inside_fused_chains_do_not_corrupt_values():
    def build(x):
        a = mf.relu(x * 2.0)
        b = a @ mf.transpose(a)  # breaks the group
        return mf.maximum(b - 1.0, 0.0) * 2.0

    c = _compile(build, [(6, 6)])
    x = np.linspace(-1, 1, 36).astype(np.float32).reshape(6, 6)
    a = np.maximum(x * 2, 0)
    want = np.maximum(a @ a.T - 1, 0) * 2
    for _ in range(2):
        np.testing.assert_allclose(c.run([x])[0][0], want, rtol=1e-5)


@pytest.mark.slow
def test_w2_forward_and_backward_fuse_into_one_kernel_with_accurate_gradient():
    def build(x, w, b):
        y = mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))
        return y, static.gradients(y, x)

    c = _compile(build, [(5000,), (), ()])
    assert c.graph.count("fused") == 1  # reads x once, writes dx once, sums y in the same pass
    rng = np.random.default_rng(4)
    x = rng.standard_normal(5000).astype(np.float32)
    w, b = np.asarray(0.7, np.float32), np.asarray(0.1, np.float32)
    y, g = c.run([x, w, b])[0]
    x64 = x.astype(np.float64)
    t, s, e = np.tanh(x64 * 0.7 + 0.1), 1 / (1 + np.exp(-x64)), np.exp(-x64 * x64)
    g64 = (1 - t * t) * 0.7 * s + t * s * (1 - s) - 2 * x64 * e
    assert np.max(np.abs(g - g64)) / np.max(np.abs(g64)) < 1e-6
    np.testing.assert_allclose(y, np.sum(t * s + e), rtol=1e-6)
