"""vmap: one batched pass equals the loop over examples, for every primitive's batching rule; and the
Jacobians built on it agree with central differences, with the per-basis-vector Jacobians they replace, and
between eager and jit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw as mf
import minifw.functional as F
from minifw.registry import _REGISTRY
from minifw.vmap import VmapError, VmapLoopWarning, vmap

RNG = np.random.default_rng(0)


def looped(f, *args, in_axes=0):
    """The specification: f on each example, stacked."""
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    n = next(np.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None)
    outs = []
    for k in range(n):
        ex = [a if ax is None else np.asarray(np.take(a, k, axis=ax)) for a, ax in zip(args, axes)]
        o = f(*ex)
        outs.append(o.numpy() if hasattr(o, "numpy") else np.asarray(o))
    return np.stack(outs)


def check(f, *args, in_axes=0, rtol=1e-12):
    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapLoopWarning)  # a rule must run, not the fallback
        got = vmap(f, in_axes=in_axes)(*args)
    np.testing.assert_allclose(np.asarray(got), looped(f, *args, in_axes=in_axes), rtol=rtol, atol=1e-12)


def test_every_primitive_has_a_rule_except_the_documented_loops():
    assert {p.name for p in _REGISTRY.values() if p.batch is None} == {"im2col", "col2im", "conv2d_weight_grad"}


UNARY = [p.name for p in _REGISTRY.values() if p.kind == "unary"]
BINARY = [p.name for p in _REGISTRY.values() if p.kind in ("binary", "compare")]


@pytest.mark.parametrize("name", UNARY)
def test_unary_rules(name):
    x = RNG.uniform(0.2, 1.5, (4, 3, 2))
    check(getattr(F, name), x)


@pytest.mark.parametrize("name", BINARY)
def test_binary_rules_batched_and_shared_operands(name):
    fn = getattr(F, name)
    x, y = RNG.uniform(0.2, 1.5, (4, 3, 2)), RNG.uniform(0.2, 1.5, (4, 2))
    check(fn, x, y)  # per example (3, 2) with (2,): broadcasting inside an example
    check(fn, x, y[0], in_axes=(0, None))
    check(fn, x[0], y, in_axes=(None, 0))  # the batched operand has the lower rank
    check(fn, y, 0.5, in_axes=(0, None))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3), st.integers(1, 4), st.sampled_from(["sum", "mean",
                                                                                                   "max", "argmin"]),
       st.booleans(), st.data())
def test_reduction_rules(shape, batch, name, keepdims, data):
    x = RNG.standard_normal((batch, *shape))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1) if shape else st.none()))
    check(lambda v: getattr(F, name)(v, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("sx, sy, in_axes", [
    ((3,), (3,), (0, 0)), ((3,), (3, 2), (0, None)), ((2, 3), (3,), (None, 0)), ((2, 3), (3,), (0, 0)),
    ((2, 3), (3, 4), (0, 0)), ((2, 3), (3, 4), (None, 0)), ((5, 2, 3), (3, 4), (0, None)), ((3,), (2, 3, 4), (0, 0)),
    ((2, 3), (5, 3, 4), (None, 0)), ((2, 3), (3, 4), (0, None)), ((3,), (3,), (None, 0)), ((2, 3), (3,), (0, None)),
    ((2, 3), (3, 1), (None, 0)),  # matmul's vjp under a batch of cotangents (jacrev)
])
def test_matmul_rule(sx, sy, in_axes):
    b = 4
    x = RNG.standard_normal(((b,) if in_axes[0] == 0 else ()) + sx)
    y = RNG.standard_normal(((b,) if in_axes[1] == 0 else ()) + sy)
    check(F.matmul, x, y, in_axes=in_axes)


def test_shape_rules():
    x = RNG.standard_normal((3, 2, 4))
    check(lambda v: F.reshape(v, (4, 2)), x)
    check(lambda v: F.transpose(v), x)
    check(lambda v: F.broadcast_to(v, (5, 2, 4)), x)
    check(lambda v: F.broadcast_to(v[0], (3, 4)), x)
    check(lambda v, w: F.concatenate([v, w], axis=1), x, x[0], in_axes=(0, None))
    check(lambda v: F.stack([v, v * 2.0], axis=-1), x)
    check(lambda v: v[1, ::2], x)
    check(lambda v: v[np.array([1, 0, 1]), 1:3], x)
    check(lambda v: F.scatter_add(v, (np.array([0, 2]),), (3, 4)), x)
    check(lambda v: F.softmax(v, axis=0), x)
    check(lambda v: F.log_softmax(v, axis=-1), x)
    check(lambda v: F.cast(v, np.float32), x, rtol=1e-6)
    check(lambda v, w: F.where(v > 0.0, v, w), x, x[0] * 10.0, in_axes=(0, None))


def test_a_primitive_without_a_rule_loops_and_says_so():
    x = RNG.standard_normal((2, 1, 1, 4, 4))
    from minifw.ops.conv import im2col

    f = lambda v: im2col(v, 3, padding=1)  # noqa: E731
    with pytest.warns(VmapLoopWarning, match="im2col"):
        got = vmap(f)(x)
    np.testing.assert_allclose(got, looped(f, x))


def test_split_advanced_indices_fall_back_to_the_loop():
    x = RNG.standard_normal((3, 2, 4, 5))
    f = lambda v: v[np.array([0, 1]), :, np.array([1, 2])]  # noqa: E731  numpy moves these dims to the front
    with pytest.warns(VmapLoopWarning, match="getitem"):
        got = vmap(f)(x)
    np.testing.assert_allclose(got, looped(f, x))


def test_in_axes_none_zero_one_and_out_axes():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))
    f = lambda a, b: F.tanh(a @ b)  # noqa: E731
    np.testing.assert_allclose(vmap(f, in_axes=(0, None))(x, w), np.tanh(x @ w), rtol=1e-12)
    np.testing.assert_allclose(vmap(f, in_axes=(1, None))(x.T, w), np.tanh(x @ w), rtol=1e-12)
    np.testing.assert_allclose(vmap(f, in_axes=(0, None), out_axes=1)(x, w), np.tanh(x @ w).T, rtol=1e-12)
    both = vmap(lambda a: (a.sum(), a * 2.0), out_axes=(0, 1))(x)
    np.testing.assert_allclose(both[0], x.sum(1))
    np.testing.assert_allclose(both[1], (x * 2.0).T)
    # an output that does not depend on the mapped argument is repeated once per example
    np.testing.assert_allclose(vmap(lambda a, b: b, in_axes=(0, None))(x, w), np.broadcast_to(w, (4, 3, 2)))


def test_gradients_flow_through_vmap_to_a_shared_tensor():
    x, w = RNG.standard_normal((4, 3)), mf.tensor(RNG.standard_normal(3), requires_grad=True)
    out = vmap(lambda a, b: F.tanh(a * b).sum(), in_axes=(0, None))(x, w)
    assert isinstance(out, mf.Tensor)
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), (x * (1 - np.tanh(x * w.numpy()) ** 2)).sum(0), rtol=1e-12)


def test_nested_vmap_is_a_double_loop():
    x, y = RNG.standard_normal((3, 5)), RNG.standard_normal((4, 5))
    dots = vmap(vmap(lambda a, b: (a * b).sum(), in_axes=(None, 0)), in_axes=(0, None))(x, y)
    np.testing.assert_allclose(dots, x @ y.T, rtol=1e-12)


@pytest.mark.slow  # compiles fused kernels
def test_tensors_in_tensors_out_and_jit_equals_eager():
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    f = vmap(lambda a: F.softmax(F.tanh(a) * 2.0, axis=0).sum())
    eager = f(mf.tensor(x))
    assert isinstance(eager, mf.Tensor)
    np.testing.assert_allclose(mf.jit(f)(x).numpy(), eager.numpy(), rtol=1e-6)


def test_vmap_refuses_what_does_not_fit():
    with pytest.raises(VmapError, match="argument 1 has size 3 along axis 0"):
        vmap(F.add)(np.ones((2, 4)), np.ones((3, 4)))
    with pytest.raises(VmapError, match="every entry is None"):
        vmap(F.add, in_axes=None)(np.ones(2), np.ones(2))
    with pytest.raises(VmapError, match="in_axes 2 is out of range for argument 0 of shape"):
        vmap(F.neg, in_axes=2)(np.ones((2, 3)))
    with pytest.raises(VmapError, match="in_axes has 1 entries but the function takes 2"):
        vmap(F.add, in_axes=(0,))(np.ones(2), np.ones(2))
    with pytest.raises(mf.MinifwError):
        vmap(F.neg)(3.0)


# --- the Jacobians built on vmap ----------------------------------------------------------------------
def jac_per_basis(f, x, mode):
    """The implementation vmap replaced: one jvp per input element, or one vjp per output element."""
    n = x.size
    if mode == "fwd":
        cols = [mf.jvp(f, (x,), (np.eye(n)[k].reshape(x.shape),))[1] for k in range(n)]
        out = np.asarray(cols[0])
        return np.stack([np.asarray(c).reshape(-1) for c in cols], -1).reshape(out.shape + x.shape)
    out, pull = mf.vjp(f, x)
    out = np.asarray(out.numpy() if hasattr(out, "numpy") else out)
    rows = [np.asarray(pull(np.eye(out.size)[k].reshape(out.shape))[0]).reshape(-1) for k in range(out.size)]
    return np.stack(rows).reshape(out.shape + x.shape)


def central(f, x, h=1e-6):
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.reshape(-1)[k] = h
        cols.append(((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)).reshape(-1))
    y = np.asarray(f(x))
    return np.stack(cols, -1).reshape(y.shape + x.shape)


FUNCS = {
    "tanh(A@x)": lambda A: (lambda v: F.tanh(mf.tensor(A) @ v)),
    "softmax(x)*sum": lambda A: (lambda v: F.softmax(v) * v.sum()),
    "matrix in": lambda A: (lambda v: F.sin(v).sum(axis=0) * F.exp(-v[0])),
}


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jacobians_match_central_differences_and_the_per_basis_version(name, mode):
    A = RNG.standard_normal((5, 3))
    x = RNG.standard_normal((2, 3)) if name == "matrix in" else RNG.standard_normal(3)
    f = FUNCS[name](A)
    jac = (mf.jacfwd if mode == "fwd" else mf.jacrev)(f)
    got = np.asarray(jac(x))
    np.testing.assert_allclose(got, central(lambda v: np.asarray(f(v).numpy()), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, jac_per_basis(f, x, mode), rtol=1e-12, atol=1e-14)


@pytest.mark.slow  # compiles fused kernels (seconds on a cold cache)
@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jit_jacobians_equal_eager(name, mode):
    A = RNG.standard_normal((5, 3))
    x = RNG.standard_normal((2, 3)) if name == "matrix in" else RNG.standard_normal(3)
    jac = (mf.jacfwd if mode == "fwd" else mf.jacrev)(FUNCS[name](A))
    np.testing.assert_allclose(mf.jit(jac)(x).numpy(), jac(x), rtol=1e-12, atol=1e-14)


def test_jacobians_of_batched_functions_nest():
    x = RNG.standard_normal((4, 3))
    f = lambda v: F.tanh(v) * v.sum()  # noqa: E731
    per_example = vmap(mf.jacrev(f))(x)
    np.testing.assert_allclose(per_example, np.stack([mf.jacfwd(f)(r) for r in x]), rtol=1e-12)
    g = lambda a, b: F.sin(a) * b  # noqa: E731
    ja, jb = vmap(mf.jacrev(g, (0, 1)))(x, x[::-1])
    np.testing.assert_allclose(ja, np.stack([np.diag(np.cos(a) * b) for a, b in zip(x, x[::-1])]), rtol=1e-12)
    np.testing.assert_allclose(jb, np.stack([np.diag(np.sin(a)) for a in x]), rtol=1e-12)
    shared = vmap(mf.jacrev(g, 1), in_axes=(None, 0))(x[0], x)  # the rows' batch and the examples' meet
    np.testing.assert_allclose(shared, np.broadcast_to(np.diag(np.sin(x[0])), (4, 3, 3)), rtol=1e-12)
    h = lambda v: (F.sin(v) * v).sum()  # noqa: E731
    for hess in (mf.jacrev(mf.jacfwd(h)), mf.jacrev(mf.jacrev(h)), mf.jacfwd(mf.jacfwd(h))):
        np.testing.assert_allclose(hess(x[0]), np.diag(2 * np.cos(x[0]) - x[0] * np.sin(x[0])), rtol=1e-12,
                                   atol=1e-14)


@pytest.mark.slow  # compiles fused kernels (seconds on a cold cache)
def test_jit_jacrev_traces_one_unbatched_forward_pass():
    """Under jit the traced graph holds f once, on the unbatched input: one matrix-vector product forward and one
    matrix product for the whole batch of cotangents (the repeated-inputs path staged a second, batched forward)."""
    A = RNG.standard_normal((5, 3))
    seen = []

    def f(v):
        seen.append(F.shape_of(v))
        return F.tanh(mf.tensor(A) @ v)

    x = RNG.standard_normal(3)
    jac = mf.jit(mf.jacrev(f))
    np.testing.assert_allclose(jac(x).numpy(), (1 - np.tanh(A @ x) ** 2)[:, None] * A, rtol=1e-12, atol=1e-14)
    assert seen == [(3,)]
    assert [n.shape for n in jac.lower(x).nodes() if n.op == "matmul"] == [(5,), (3, 5)]


def test_convolution_and_pooling_fold_the_batch_into_the_images_n():
    """conv2d, max pooling and the input gradient run once on N·batch images, equal to the loop, no warning."""
    import warnings

    import minifw as mf
    from minifw.nn import functional as NF

    x, w = RNG.standard_normal((3, 2, 2, 6, 6)), RNG.standard_normal((4, 2, 3, 3))
    wt = mf.tensor(w)

    def f(v):
        return NF.max_pool2d(NF.conv2d(v, wt, padding=1), 2)

    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapLoopWarning)
        got = vmap(f)(x)
        grads = vmap(mf.grad(lambda v: (f(v) ** 2).sum()))(x)
    np.testing.assert_allclose(np.asarray(got), looped(f, x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads), looped(mf.grad(lambda v: (f(v) ** 2).sum()), x), rtol=1e-10)


# --- jacrev: one forward pass, then the pullback mapped over the rows of the identity ----------------------------
def test_jacrev_runs_the_function_once_on_the_unbatched_inputs():
    """As in JAX and torch.func: the forward pass is not repeated per output row; only the cotangent is batched."""
    A = mf.tensor(RNG.standard_normal((4, 3)))
    seen = []

    def f(v):
        seen.append(type(v))
        return F.tanh(A @ v) * v.sum()

    x = RNG.standard_normal(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapLoopWarning)
        got = mf.jacrev(f)(x)
    assert seen == [mf.Tensor]
    np.testing.assert_allclose(got, jac_per_basis(f, x, "rev"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, central(lambda v: f(mf.tensor(v)).numpy(), x), rtol=1e-6, atol=1e-8)


def test_jacrev_through_convolution_and_max_pooling():
    """The pullback's conv2d_input_grad and pool_scatter meet a batch of cotangents and the forward's shared
    filters and pooling index: both fold the batch into N (the index repeated), no loop; float64 central
    differences and the per-row vjps agree."""
    from minifw.nn import functional as NF

    w = mf.tensor(RNG.standard_normal((2, 1, 3, 3)))

    def f(v):
        return NF.max_pool2d(NF.conv2d(v, w, padding=1), 2)

    x = RNG.standard_normal((1, 1, 4, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", VmapLoopWarning)
        got = mf.jacrev(f)(x)
    assert got.shape == (1, 2, 2, 2, 1, 1, 4, 4)
    np.testing.assert_allclose(got, central(lambda v: f(mf.tensor(v)).numpy(), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, jac_per_basis(f, x, "rev"), rtol=1e-12, atol=1e-14)


def test_pool_scatter_batches_cotangents_against_a_shared_index():
    """max pooling's backward under jacrev: the cotangents are batched, the index saved by the forward is not."""
    from minifw.ops.conv import POOL_ARGMAX, pool_scatter

    x = RNG.standard_normal((2, 3, 4, 4))
    index = F.bind(POOL_ARGMAX, x, kernel=(2, 2), stride=(2, 2), padding=((0, 0), (0, 0)))
    g = RNG.standard_normal((5, 2, 3, 2, 2))
    check(lambda c: pool_scatter(c, index, x.shape), g)


def test_a_batch_of_cotangents_must_fit_the_output():
    out, pull = mf.vjp(lambda v: F.sin(v) * 2.0, np.ones(3))
    with pytest.raises(mf.MinifwError, match=r"gradient has shape \(4,\) per example but the output has shape \(3,\)"):
        vmap(pull)(np.ones((2, 4)))
