"""Bad input gets a clear, specific error: a shape mismatch is a
``minifw.ShapeError`` whose message names the op and both shapes; bad axes
name the axis; misuse of backward and grad says what to do instead."""

from __future__ import annotations

import numpy as np
import pytest

import minifw as mf
from minifw import functional as F


def assert_names(err: pytest.ExceptionInfo, op: str, *shapes) -> None:
    msg = str(err.value)
    assert msg.startswith(f"{op}:"), msg
    for s in shapes:
        assert str(tuple(s)) in msg, f"{s} not named in: {msg}"


# --- shape mismatches ----------------------------------------------------------------------
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_elementwise_shapes_that_do_not_broadcast(op):
    a, b = mf.ones(2, 3), mf.ones(4, 5)
    with pytest.raises(mf.ShapeError) as err:
        getattr(F, op)(a, b)
    assert_names(err, op, (2, 3), (4, 5))


@pytest.mark.parametrize("expr, op", [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "div"), (lambda a, b: b + a, "add"),
])
def test_operators_raise_the_same_shape_error(expr, op):
    with pytest.raises(mf.ShapeError) as err:
        expr(mf.ones(3), mf.ones(4))
    assert_names(err, op, (3,), (4,))


def test_shape_error_is_a_value_error():
    assert issubclass(mf.ShapeError, ValueError)


@pytest.mark.parametrize("sa, sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5,), (4, 2)),
                                    ((2, 3, 4), (3, 4, 5))])
def test_matmul_mismatch(sa, sb):
    with pytest.raises(mf.ShapeError) as err:
        mf.ones(*sa) @ mf.ones(*sb)
    assert_names(err, "matmul", sa, sb)


def test_matmul_of_a_scalar():
    with pytest.raises(mf.ShapeError) as err:
        F.matmul(mf.tensor(2.0), mf.ones(2, 3))
    assert_names(err, "matmul", (), (2, 3))


def test_concatenate_mismatch():
    with pytest.raises(mf.ShapeError) as err:
        mf.concatenate([mf.ones(2, 3), mf.ones(4, 5)])
    assert_names(err, "concatenate", (2, 3), (4, 5))
    with pytest.raises(mf.ShapeError) as err:
        mf.concatenate([mf.ones(2, 3), mf.ones(3)])
    assert_names(err, "concatenate", (2, 3), (3,))


def test_concatenate_of_scalars():
    with pytest.raises(mf.ShapeError, match="concatenate: zero-dimensional"):
        mf.concatenate([mf.tensor(1.0), mf.tensor(2.0)])


def test_stack_mismatch_names_stack():
    with pytest.raises(mf.ShapeError) as err:
        mf.stack([mf.ones(2, 3), mf.ones(2, 4)])
    assert_names(err, "stack", (2, 3), (2, 4))


def test_reshape_mismatch():
    with pytest.raises(mf.ShapeError) as err:
        mf.ones(2, 3).reshape(4, 2)
    assert_names(err, "reshape", (2, 3), (4, 2))
    with pytest.raises(mf.ShapeError, match=r"reshape: .*6 elements.*\(-1, 4\)"):
        mf.ones(2, 3).reshape(-1, 4)
    with pytest.raises(mf.ShapeError, match=r"reshape: only one dimension may be -1"):
        mf.ones(2, 3).reshape(-1, -1)


def test_broadcast_to_mismatch():
    with pytest.raises(mf.ShapeError) as err:
        mf.broadcast_to(mf.ones(2, 3), (3, 3))
    assert_names(err, "broadcast_to", (2, 3), (3, 3))


def test_where_mismatch():
    with pytest.raises(mf.ShapeError) as err:
        mf.where(mf.ones(2) > 0, mf.ones(2, 3), mf.ones(4, 5))
    assert_names(err, "where", (2,), (2, 3), (4, 5))


def test_index_out_of_range():
    with pytest.raises(mf.ShapeError) as err:
        mf.ones(2, 3)[5]
    assert_names(err, "getitem", (2, 3))
    assert "[5]" in str(err.value)


def test_boolean_mask_indexing_is_refused_with_the_alternative():
    with pytest.raises(IndexError, match="where"):
        mf.ones(3)[np.array([True, False, True])]


def test_squeeze_a_dimension_that_is_not_one():
    with pytest.raises(mf.ShapeError, match=r"squeeze: dimension 0 of shape \(2, 3\) has size 2"):
        mf.ones(2, 3).squeeze(0)


# --- bad axes --------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [2, -3])
def test_reduction_axis_out_of_range(op, axis):
    with pytest.raises(mf.ShapeError, match=rf"{op}: axis {axis} is out of range for a tensor with 2 dimensions"):
        getattr(F, op)(mf.ones(2, 3), axis=axis)


def test_repeated_reduction_axis():
    with pytest.raises(mf.ShapeError, match=r"sum: repeated axis in \(0, -2\)"):
        mf.ones(2, 3).sum(axis=(0, -2))


def test_axis_zero_of_a_scalar_is_allowed_as_in_pytorch():
    x = mf.tensor(2.0)
    assert x.sum(0).item() == 2.0 and x.max(-1).item() == 2.0
    assert x.sum(0, keepdim=True).shape == ()
    with pytest.raises(mf.ShapeError):
        x.sum(1)


@pytest.mark.parametrize("call, op, axis", [
    (lambda x: mf.concatenate([x, x], axis=2), "concatenate", 2),
    (lambda x: mf.concatenate([x, x], axis=-3), "concatenate", -3),
    (lambda x: mf.stack([x, x], axis=3), "stack", 3),
    (lambda x: x.unsqueeze(3), "unsqueeze", 3),
    (lambda x: x.unsqueeze(-4), "unsqueeze", -4),
    (lambda x: x.transpose(0, 2), "swapaxes", 2),
    (lambda x: x.permute(0, 2), "permute", 2),
    (lambda x: mf.softmax(x, axis=2), "softmax", 2),
    (lambda x: mf.log_softmax(x, axis=-3), "log_softmax", -3),
])
def test_axis_out_of_range_is_an_error_not_a_wraparound(call, op, axis):
    """Axis 2 of a 2-D tensor is a mistake; it must not silently mean axis 0."""
    with pytest.raises(mf.ShapeError, match=rf"{op}: axis {axis} is out of range for a tensor with \d dimensions"):
        call(mf.ones(2, 3))


def test_permute_needs_a_permutation():
    with pytest.raises(mf.ShapeError) as err:
        mf.ones(2, 3).permute(0, 0)
    assert_names(err, "transpose", (2, 3))
    assert "(0, 0)" in str(err.value)


# --- backward and grad misuse -----------------------------------------------------------------------
def test_backward_on_a_non_scalar_needs_a_gradient():
    y = mf.ones(2, requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(2,\).*gradient="):
        y.backward()


def test_backward_gradient_of_the_wrong_shape():
    y = mf.ones(2, requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        y.backward(mf.ones(3))


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mf.ones(2).sum().backward()
    x = mf.ones(2, requires_grad=True)
    with mf.no_grad():
        y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_grad_of_a_non_scalar_function():
    with pytest.raises(TypeError, match=r"scalar output.*\(3,\)"):
        mf.grad(lambda x: x * 2.0)(np.ones(3))
    with pytest.raises(TypeError, match="scalar output"):
        mf.value_and_grad(lambda x: x * 2.0)(np.ones(3))


def test_grad_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        mf.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)


def test_autograd_grad_of_an_output_that_needs_no_grad():
    x = mf.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        mf.autograd.grad(mf.ones(2).sum(), x)


def test_in_place_write_to_a_tensor_that_requires_grad():
    x = mf.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 3.0
    with mf.no_grad():
        x[0] = 3.0
    assert x.tolist() == [3.0, 1.0]


def test_truth_value_of_a_multi_element_tensor():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mf.ones(2))
