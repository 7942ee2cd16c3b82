"""The conv primitives (im2col, col2im) and the conv/pool layers built on them."""

import numpy as np
import pytest

import minifw as mf
from minifw.nn import functional as NF
from minifw.ops.conv import col2im, im2col
from minifw.registry import ShapeError, get
from minifw.testing import gradcheck

CASES = [((3, 3), 1, 1), ((2, 2), 2, 0), ((3, 2), (2, 1), ((1, 0), (0, 2))), ((1, 1), 1, 0)]


def _naive_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride: i * stride + kh, j * stride: j * stride + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w) + b
    return out


@pytest.mark.parametrize("kernel,stride,padding", CASES)
def test_im2col_and_col2im_gradcheck_float64(kernel, stride, padding):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    assert gradcheck(lambda t: im2col(t, kernel, stride, padding), [x])
    cols = im2col(mf.tensor(x), kernel, stride, padding).numpy()
    assert gradcheck(lambda t: col2im(t, x.shape, kernel, stride, padding), [cols])


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 7, 7))
    cols = im2col(mf.tensor(x), 3, 2, 1).numpy()
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im(mf.tensor(c), x.shape, 3, 2, 1).numpy())
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_second_derivatives_flow_through_conv():
    # d/dx of a gradient of a conv: col2im's vjp is im2col, so this must work.
    x = np.random.default_rng(2).standard_normal((1, 1, 4, 4))
    w = np.random.default_rng(3).standard_normal((2, 1, 3, 3))

    def g(xt):
        wt = mf.tensor(w, dtype=mf.float64, requires_grad=True)
        y = NF.conv2d(xt, wt, padding=1)
        (gw,) = mf.autograd.grad((y * y).sum(), [wt], create_graph=True)
        return (gw * gw).sum()

    assert gradcheck(g, [x], atol=1e-4)


def test_conv2d_matches_a_naive_loop():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    for stride, pad in [(1, 0), (1, 1), (2, 1)]:
        got = NF.conv2d(mf.tensor(x), mf.tensor(w), mf.tensor(b), stride, pad).numpy()
        np.testing.assert_allclose(got, _naive_conv(x, w, b, stride, pad), atol=1e-10)


def test_conv2d_gradcheck():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    assert gradcheck(lambda a, k, c: NF.conv2d(a, k, c, stride=2, padding=1), [x, w, b])


def test_pooling_values_and_gradients():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(NF.max_pool2d(mf.tensor(x), 2).numpy()[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(NF.avg_pool2d(mf.tensor(x), 2).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    rng = np.random.default_rng(6)
    y = rng.standard_normal((2, 3, 5, 5))
    assert gradcheck(lambda t: NF.max_pool2d(t, 2, 2, 0, ceil_mode=True), [y])
    assert gradcheck(lambda t: NF.avg_pool2d(t, 3, 2, 1), [y])


def test_max_pool_padding_never_wins():
    x = -np.ones((1, 1, 3, 3))
    out = NF.max_pool2d(mf.tensor(x), 2, 2, 1).numpy()
    assert (out == -1).all()


def test_shape_rules_name_the_op_and_shapes():
    with pytest.raises(ShapeError, match=r"im2col: input must be 4-D .*\(3, 4\)"):
        get("im2col").shape_rule([(3, 4)], [np.dtype("f4")], kernel=(2, 2), stride=(1, 1),
                                 padding=((0, 0), (0, 0)), pad_value=0.0)
    with pytest.raises(ShapeError, match="im2col: kernel 5x5 is larger"):
        im2col(mf.zeros(1, 1, 3, 3), 5)
    with pytest.raises(ShapeError, match=r"conv2d: input of shape \(1, 2, 5, 5\)"):
        NF.conv2d(mf.zeros(1, 2, 5, 5), mf.zeros(4, 3, 3, 3))
    with pytest.raises(ShapeError, match="col2im"):
        get("col2im").shape_rule([(1, 2, 2, 1, 2, 2)], [np.dtype("f4")], x_shape=(1, 1, 5, 5), kernel=(2, 2),
                                 stride=(1, 1), padding=((0, 0), (0, 0)))
