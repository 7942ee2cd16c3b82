"""Eager tensors behave like PyTorch's: grads, grad mode, conversions, dtypes,
and the JAX-shaped functional transforms built on the same tape."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest

import minifw as mf
from minifw import functional as F


def t64(data, requires_grad=False):
    return mf.tensor(data, dtype=np.float64, requires_grad=requires_grad)


# --- .grad and .backward() ---------------------------------------------------------------
def test_grad_is_none_before_backward():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad is None
    y = x * 3.0
    assert x.grad is None and y.grad is None


def test_backward_accumulates_across_calls():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_zero_grad_in_place_then_accumulate_again():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    assert x.grad is g
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_grad_has_the_leaf_shape_and_dtype():
    x = mf.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = mf.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x + b).sum().backward()
    assert x.grad.shape == (2, 3) and x.grad.dtype == np.float32
    assert b.grad.shape == (3,) and b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0, 2.0])  # summed over the broadcast axis


def test_a_tensor_used_twice_gets_both_contributions():
    x = t64(3.0, requires_grad=True)
    y = x * x + x  # x reaches y along three paths
    y.backward()
    assert x.grad.item() == 7.0


def test_non_leaves_keep_no_grad_unless_retained():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    k = x * 3.0
    k.retain_grad()
    (h * k).sum().backward()
    assert h.grad is None and not h.is_leaf
    np.testing.assert_allclose(k.grad.numpy(), h.numpy())


def test_backward_with_explicit_gradient_for_non_scalar():
    x = mf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(mf.tensor([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 12.0])


def test_user_can_modify_grad_in_place():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    (x.sum() * 1.0).backward()  # the cotangent of sum is a broadcast (read-only) view inside the sweep
    x.grad.data *= 2
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


# --- grad mode ---------------------------------------------------------------------------
def test_no_grad_context_records_nothing():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    with mf.no_grad():
        assert not mf.is_grad_enabled()
        y = (x * 2.0).exp()
    assert mf.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_no_grad_decorator_records_nothing():
    @mf.no_grad()
    def step(a):
        return a * 2.0

    x = mf.tensor([1.0], requires_grad=True)
    y = step(x)
    assert not y.requires_grad and y.grad_fn is None
    assert mf.is_grad_enabled()


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with mf.no_grad():
            raise KeyError("boom")
    assert mf.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = mf.tensor([1.0], requires_grad=True)
    with mf.no_grad():
        with mf.enable_grad():
            y = x * 2.0
    assert y.requires_grad


def test_detach_shares_data_but_not_the_tape():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.numpy())
    (d * x).sum().backward()  # d is a constant: dx = d
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_requires_grad_():
    x = mf.tensor([1.0, 2.0])
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad and not (x * 2.0).requires_grad


def test_operations_on_tensors_that_need_no_grad_are_not_recorded():
    y = mf.tensor([1.0]) * 2.0
    assert not y.requires_grad and y.grad_fn is None


@pytest.mark.parametrize("data", [[1, 2], [True, False]])
def test_only_float_tensors_can_require_grad(data):
    with pytest.raises(TypeError, match="floating-point"):
        mf.tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        mf.tensor(data).requires_grad_()


def test_comparisons_are_not_differentiable():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    assert not (x > 1.5).requires_grad


# --- create_graph and higher order -------------------------------------------------------
def test_backward_create_graph_gives_a_differentiable_grad():
    x = t64(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    g = x.grad
    assert g.item() == pytest.approx(12.0) and g.requires_grad
    (g2,) = mf.autograd.grad(g, x)
    assert g2.item() == pytest.approx(12.0)  # d/dx 3x^2 = 6x


def test_autograd_grad_returns_and_leaves_grad_alone():
    x = t64([1.0, 2.0], requires_grad=True)
    w = t64([3.0, 4.0], requires_grad=True)
    loss = (x * w).sum()
    gx, gw = mf.autograd.grad(loss, [x, w])
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_autograd_grad_single_input_returns_a_tuple():
    x = t64(2.0, requires_grad=True)
    out = mf.autograd.grad(x * x, x)
    assert isinstance(out, tuple) and len(out) == 1 and out[0].item() == 4.0


def test_autograd_grad_create_graph_second_derivative():
    x = t64(0.7, requires_grad=True)
    (g,) = mf.autograd.grad(mf.sin(x) * x, x, create_graph=True)
    (h,) = mf.autograd.grad(g, x)
    assert h.item() == pytest.approx(2 * math.cos(0.7) - 0.7 * math.sin(0.7), rel=1e-12)


def test_autograd_grad_allow_unused():
    x = t64(1.0, requires_grad=True)
    unused = t64(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        mf.autograd.grad(x * 2.0, [x, unused])
    gx, gu = mf.autograd.grad(x * 2.0, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_autograd_grad_with_respect_to_an_intermediate():
    x = t64([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    (gh,) = mf.autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), [4.0, 8.0])


# --- conversions and repr ----------------------------------------------------------------
def test_numpy_and_array_protocol():
    x = mf.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x), a)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.sum(np.asarray(x)) == 10.0


def test_item_and_tolist():
    assert mf.tensor(3.5).item() == 3.5 and isinstance(mf.tensor(3.5).item(), float)
    assert mf.tensor([[7]]).item() == 7 and isinstance(mf.tensor([[7]]).item(), int)
    assert mf.tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError, match="one element"):
        mf.tensor([1.0, 2.0]).item()
    assert float(mf.tensor(2.0)) == 2.0 and int(mf.tensor(3)) == 3


def test_repr_is_readable():
    assert repr(mf.tensor([1.5, 2.0])) == "tensor([1.5, 2. ])"
    assert repr(mf.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(t64([1.0])) == "tensor([1.], dtype=float64)"
    assert repr(mf.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(mf.tensor([1.0], requires_grad=True) * 2.0) == "tensor([2.], grad_fn=<mul>)"


def test_tensor_copies_numpy_input():
    a = np.array([1.0, 2.0])
    x = mf.tensor(a)
    a[0] = 99.0
    assert x.tolist() == [1.0, 2.0]


# --- dtypes ------------------------------------------------------------------------------
def test_python_floats_default_to_float32_ints_to_int64():
    assert mf.tensor(1.0).dtype == np.float32
    assert mf.tensor([1.0, 2.0]).dtype == np.float32
    assert mf.tensor([1, 2]).dtype == np.int64
    assert mf.tensor([True]).dtype == np.bool_


def test_float64_is_preserved():
    assert mf.tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert mf.tensor(np.float64(1.0)).dtype == np.float64
    x = t64([1.0, 2.0], requires_grad=True)
    y = (x * 2.0 + 1).exp().sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64


def test_float32_stays_float32_with_python_and_numpy_scalars():
    x = mf.tensor([1.0, 2.0])
    for y in (x * 2.5, 2.5 * x, x + 1, x - 1.5, 1.5 - x, x / 3, 3 / x, x**2, x**0.5, 2.0**x,
              x * np.float64(2.0), F.maximum(x, 0.5), F.where(x > 1.5, x, 0.0)):
        assert y.dtype == np.float32, y


def test_integer_tensors_promote_to_the_default_float_as_in_pytorch():
    """numpy (NEP 50) would make these float64; PyTorch and minifw's shape
    rules give the default float, float32."""
    i = mf.tensor([1, 2])
    assert (i * 1.5).dtype == np.float32
    assert (i / 2).dtype == np.float32
    assert mf.mean(i).dtype == np.float32
    assert mf.exp(i).dtype == np.float32
    assert (i + 1).dtype == np.int64
    assert mf.cast(i, np.float64).dtype == np.float64


def test_float64_arrays_widen_float32():
    x = mf.tensor([1.0, 2.0])
    assert (x * t64([1.0, 1.0])).dtype == np.float64
    assert x.double().dtype == np.float64 and t64([1.0]).float().dtype == np.float32


def test_cast_gradient_returns_to_the_input_dtype():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


# --- the tape: deep graphs, no cycles ---------------------------------------------------------
def test_a_100000_op_chain_backprops_without_recursion():
    x = t64(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_a_deep_chain_is_freed_without_recursion_when_dropped():
    x = t64(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 0.0
    del y  # dropping the head frees 100,000 nodes one after another


def test_the_tape_has_no_reference_cycles():
    """Outputs point at inputs, never back: once the output is dropped every
    intermediate is freed by reference counting alone, with the cyclic
    garbage collector switched off.  The tape holds values, not tensors: an
    intermediate tensor dies when the user drops it (as in PyTorch), its array
    lives on in the records until the output goes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = mf.tensor([1.0, 2.0], requires_grad=True)
        h1 = x * 2.0
        h2 = mf.sin(h1)
        loss = (h2 * h2 + h1[0]).sum()
        tensors = [weakref.ref(t) for t in (h1, h2)]
        arrays = [weakref.ref(t.data) for t in (h1, h2, loss)]
        del h1, h2
        assert [r() for r in tensors] == [None, None]
        loss.backward()
        assert all(r() is not None for r in arrays)  # alive while the output's tape holds them
        del loss
        assert [r() for r in arrays] == [None, None, None]
        assert x.grad is not None and weakref.ref(x)() is x
    finally:
        if was_enabled:
            gc.enable()


def test_create_graph_and_transforms_leave_no_cycles():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = t64([0.5, 1.5], requires_grad=True)
        h = x * 2.0
        ref = weakref.ref(h)
        (g,) = mf.autograd.grad((mf.sin(h) ** 2).sum(), x, create_graph=True)
        del h
        g.sum().backward()
        del g
        assert ref() is None

        seen = []

        def f(a):
            y = mf.sin(a) * a
            seen.append(weakref.ref(y))
            return y.sum()

        mf.grad(mf.grad(lambda a: f(a)))(0.3)
        assert seen and all(r() is None for r in seen)
    finally:
        if was_enabled:
            gc.enable()


# --- functional transforms (JAX's shape) ---------------------------------------------------------
def f2(x, y):
    return F.sum(F.sin(x) * y + x * x)


def test_grad_on_python_floats_returns_floats():
    g = mf.grad(lambda x: x * x * x)(2.0)
    assert isinstance(g, float) and g == 12.0


def test_grad_on_numpy_arrays_returns_numpy_arrays():
    x = np.array([0.1, 0.2, 0.3])
    g = mf.grad(lambda a: F.sum(F.sin(a)))(x)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-12)


def test_grad_on_tensors_returns_tensors():
    x = t64([0.1, 0.2])
    g = mf.grad(lambda a: F.sum(F.exp(a)))(x)
    assert isinstance(g, mf.Tensor) and not g.requires_grad
    np.testing.assert_allclose(g.numpy(), np.exp([0.1, 0.2]), rtol=1e-12)
    assert x.grad is None and not x.requires_grad  # the caller's tensor is untouched


@pytest.mark.parametrize("kind", ["float", "numpy", "tensor"])
def test_argnums_int_and_tuple(kind):
    xv, yv = 0.4, 1.7
    conv = {"float": lambda v: v, "numpy": lambda v: np.array(v), "tensor": lambda v: t64(v)}[kind]
    x, y = conv(xv), conv(yv)
    dx = math.cos(xv) * yv + 2 * xv
    dy = math.sin(xv)
    assert float(np.asarray(mf.grad(f2)(x, y))) == pytest.approx(dx, rel=1e-12)
    assert float(np.asarray(mf.grad(f2, argnums=1)(x, y))) == pytest.approx(dy, rel=1e-12)
    assert float(np.asarray(mf.grad(f2, argnums=-1)(x, y))) == pytest.approx(dy, rel=1e-12)
    gx, gy = mf.grad(f2, argnums=(0, 1))(x, y)
    assert float(np.asarray(gx)) == pytest.approx(dx, rel=1e-12)
    assert float(np.asarray(gy)) == pytest.approx(dy, rel=1e-12)
    (only_y,) = mf.grad(f2, argnums=(1,))(x, y)
    assert float(np.asarray(only_y)) == pytest.approx(dy, rel=1e-12)


def test_value_and_grad():
    value, g = mf.value_and_grad(f2, argnums=(0, 1))(0.4, 1.7)
    assert float(value) == pytest.approx(math.sin(0.4) * 1.7 + 0.16, rel=1e-12)
    assert g[0] == pytest.approx(math.cos(0.4) * 1.7 + 0.8, rel=1e-12)
    assert g[1] == pytest.approx(math.sin(0.4), rel=1e-12)


def test_vjp_with_a_non_scalar_output():
    x = np.array([1.0, 2.0, 3.0])
    out, vjp_fn = mf.vjp(lambda a: a * a, x)
    np.testing.assert_array_equal(np.asarray(out), x * x)
    (ct,) = vjp_fn(mf.tensor(np.array([1.0, 0.5, 0.0])))
    np.testing.assert_allclose(ct, [2.0, 2.0, 0.0])
    (again,) = vjp_fn(mf.tensor(np.array([0.0, 0.0, 1.0])))  # the pullback can be reused
    np.testing.assert_allclose(again, [0.0, 0.0, 6.0])


def test_vjp_argnums():
    out, vjp_fn = mf.vjp(lambda a, b: a * b, 3.0, 4.0, argnums=1)
    assert float(out) == 12.0
    (gb,) = vjp_fn(mf.tensor(np.float64(1.0)))
    assert gb == 3.0


def test_grad_of_unused_argument_is_zero():
    assert mf.grad(lambda x, y: x * 2.0, argnums=1)(1.0, 5.0) == 0.0


def test_nested_grad():
    f = lambda x: x**4  # noqa: E731
    assert mf.grad(f)(2.0) == pytest.approx(32.0)
    assert mf.grad(mf.grad(f))(2.0) == pytest.approx(48.0)
    assert mf.grad(mf.grad(mf.grad(f)))(2.0) == pytest.approx(48.0)


def test_nested_grad_mixed_partial_across_arguments():
    """d/dy (d/dx x^2 y^3) = 6 x y^2: the inner grad differentiates x while
    the outer differentiates y, so the inner result must stay on the tape."""
    f = lambda x, y: x * x * y * y * y  # noqa: E731
    d = mf.grad(mf.grad(f, argnums=0), argnums=1)(1.5, 2.0)
    assert isinstance(d, float) and d == pytest.approx(6 * 1.5 * 4.0)


def test_nested_grad_through_a_closure():
    """The inner function closes over the outer variable (JAX's classic
    perturbation-confusion example): d/dy [d/dx (x*y)] at x=1 is 1."""
    def outer(y):
        return mf.grad(lambda x: x * y)(1.0)

    assert mf.grad(outer)(3.0) == pytest.approx(1.0)
    # and the inner derivative alone is y
    assert outer(3.0) == pytest.approx(3.0)


def test_grad_closing_over_a_parameter_does_not_build_a_graph_for_it():
    w = mf.tensor(np.array([2.0]), requires_grad=True)
    g = mf.grad(lambda x: F.sum(x * w))(np.array([1.0]))
    assert isinstance(g, np.ndarray) and g.tolist() == [2.0]
    assert w.grad is None
