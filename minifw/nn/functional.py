"""Layers and losses as functions (PyTorch's ``torch.nn.functional``).

Everything is written with :mod:`minifw.functional` ops, never with numbers
pulled out of a tensor, so each function runs on eager tensors and on static
symbols alike.  Labels are turned into one-hot rows with a comparison
(``labels[:, None] == arange(C)``) rather than by indexing, for the same
reason: a label tensor may be a placeholder.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw.eager.tensor import Tensor
from minifw.ops.conv import col2im, conv, im2col, max_pool, normalize_padding  # noqa: F401  (re-exported)
from minifw.random import generator
from minifw.registry import ShapeError

shape_of = F.shape_of

# --- activations --------------------------------------------------------------------
relu = F.relu
tanh = F.tanh
sigmoid = F.sigmoid


def softmax(x, dim: int = -1):
    return F.softmax(x, dim)


def log_softmax(x, dim: int = -1):
    return F.log_softmax(x, dim)


def leaky_relu(x, negative_slope: float = 0.01):
    return F.maximum(x, negative_slope * x)


# --- layers -------------------------------------------------------------------------
def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` with PyTorch's ``(out, in)`` weight layout."""
    xs, ws = shape_of(x), shape_of(weight)
    if not xs or xs[-1] != ws[1]:
        raise ShapeError(f"linear: input of shape {xs} does not fit a weight of shape {ws} "
                         f"(expected the last input dimension to be {ws[1]})")
    y = F.matmul(x, F.transpose(weight))
    return y if bias is None else y + bias


def flatten(x, start_dim: int = 1, end_dim: int = -1):
    s = shape_of(x)
    a, b = start_dim % len(s), end_dim % len(s)
    n = 1
    for d in s[a: b + 1]:
        n *= d
    return F.reshape(x, s[:a] + (n,) + s[b + 1:])


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in every framework) of an
    (N, C, H, W) input with (O, C, kh, kw) filters: one ``conv2d`` primitive
    (im2col + one GEMM, the bias added in the same pass, NCHW out)."""
    return conv(x, weight, stride, padding, bias)


def _pool_padding(size, k, s, p, ceil_mode):
    """((before, after)) padding for one axis; ``ceil_mode`` adds to the end so
    a last partial window is kept (PyTorch's and Caffe's rule)."""
    if not ceil_mode:
        return (p, p)
    out = -(-(size + 2 * p - k) // s) + 1
    if (out - 1) * s >= size + p:  # the last window must start inside the image
        out -= 1
    return (p, max(p, (out - 1) * s + k - size - p))


def _pool_geometry(x, kernel_size, stride, padding, ceil_mode):
    """(kernel, stride, ((top, bottom), (left, right))) of a pooling of ``x``."""
    xs = shape_of(x)
    if len(xs) != 4:
        raise ShapeError(f"pool2d: input must be 4-D (N, C, H, W), got shape {xs}")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    stride = (kh, kw) if stride is None else stride
    sh, sw = (stride, stride) if isinstance(stride, int) else tuple(stride)
    ph, pw = (padding, padding) if isinstance(padding, int) else tuple(padding)
    pads = (_pool_padding(xs[2], kh, sh, ph, ceil_mode), _pool_padding(xs[3], kw, sw, pw, ceil_mode))
    return (kh, kw), (sh, sw), pads


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
    """Max pooling that keeps each window's arg-max for the backward (see :func:`minifw.ops.conv.max_pool`)."""
    return max_pool(x, *_pool_geometry(x, kernel_size, stride, padding, ceil_mode))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
    """Average pooling; padded cells count as zeros (``count_include_pad``)."""
    kernel, stride, pads = _pool_geometry(x, kernel_size, stride, padding, ceil_mode)
    cols = im2col(x, kernel, stride, pads, 0.0)  # (N, OH, OW, C, kh, kw)
    return F.permute(F.mean(cols, axis=(4, 5)), (0, 3, 1, 2))


def dropout(x, p: float = 0.5, training: bool = True):
    """Zero each element with probability ``p`` and scale the rest by
    ``1/(1-p)`` (inverted dropout), drawing from minifw's global generator."""
    if not 0.0 <= p < 1.0:
        if p == 1.0 and training:
            return 0.0 * x
        if p != 1.0:
            raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    dt = F.dtype_of(x)
    if getattr(type(x), "_mf_priority", 0) >= 2:  # a symbol: jit draws the mask afresh on every call
        from minifw.jit import random_uniform

        u = random_uniform(shape_of(x), np.float64)  # float64 draws, as the eager branch's generator gives
        return x * (F.cast(F.ge(u, p), dt) * dt.type(1.0 / (1.0 - p)))
    keep = (generator().random(shape_of(x)) >= p).astype(dt) * dt.type(1.0 / (1.0 - p))
    return x * keep


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, on_stats=None):
    """Normalise over every axis but the channel axis 1.

    In training the batch statistics are used and ``on_stats(mean, var)`` is
    called with them (the layer updates its running averages there); in
    evaluation the running averages are used.
    """
    xs = shape_of(x)
    if len(xs) < 2:
        raise ShapeError(f"batch_norm: input needs a batch and a channel axis, got shape {xs}")
    axes = (0,) + tuple(range(2, len(xs)))
    bshape = (1, xs[1]) + (1,) * (len(xs) - 2)
    if training:
        mean = F.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = F.mean(F.square(centred), axis=axes, keepdims=True)
        if on_stats is not None:
            n = 1
            for a in axes:
                n *= xs[a]
            on_stats(F.reshape(mean, (xs[1],)), F.reshape(var, (xs[1],)) * (n / max(n - 1, 1)))
    else:
        mean, var = F.reshape(running_mean, bshape), F.reshape(running_var, bshape)
        centred = x - mean
    y = centred / F.sqrt(var + eps)
    if weight is not None:
        y = y * F.reshape(weight, bshape)
    if bias is not None:
        y = y + F.reshape(bias, bshape)
    return y


# --- losses -------------------------------------------------------------------------
def _reduce(loss, reduction: str):
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def one_hot(labels, num_classes: int, dtype=np.float32):
    """``labels[..., None] == arange(num_classes)`` as floats."""
    return F.cast(F.eq(F.unsqueeze(labels, -1), np.arange(num_classes)), dtype)


def _check_labels(opname, input, target):
    xs, ts = shape_of(input), shape_of(target)
    if len(xs) < 1 or ts != xs[:-1]:
        raise ShapeError(f"{opname}: target of shape {ts} does not fit input of shape {xs} "
                         f"(expected class indices of shape {xs[:-1]})")
    concrete = target.data if isinstance(target, Tensor) else target if isinstance(target, np.ndarray) else None
    if concrete is not None and concrete.size:
        if concrete.dtype.kind not in "iub":
            raise TypeError(f"{opname}: class indices must be integers, got dtype {concrete.dtype}")
        lo, hi = int(concrete.min()), int(concrete.max())
        if lo < 0 or hi >= xs[-1]:
            raise ValueError(f"{opname}: class index {hi if hi >= xs[-1] else lo} is out of range for "
                             f"{xs[-1]} classes")


def nll_loss(input, target, reduction: str = "mean"):
    """Negative log-likelihood of integer ``target`` under log-probabilities
    ``input`` (N, C)."""
    _check_labels("nll_loss", input, target)
    picked = F.sum(input * one_hot(target, shape_of(input)[-1], F.dtype_of(input)), axis=-1)
    return _reduce(-picked, reduction)


def cross_entropy(input, target, reduction: str = "mean"):
    """Softmax cross-entropy from logits, computed with a stable log-softmax.

    ``target`` holds class indices (N,) or probabilities (N, C)."""
    logp = F.log_softmax(input, -1)
    if shape_of(target) == shape_of(input):
        return _reduce(-F.sum(logp * target, axis=-1), reduction)
    return nll_loss(logp, target, reduction)


def mse_loss(input, target, reduction: str = "mean"):
    if shape_of(input) != shape_of(target):
        raise ShapeError(f"mse_loss: input of shape {shape_of(input)} and target of shape {shape_of(target)} "
                         "differ")
    return _reduce(F.square(input - target), reduction)


def binary_cross_entropy(input, target, reduction: str = "mean", eps: float = 1e-7):
    """Cross-entropy of probabilities ``input`` against 0/1 ``target``."""
    p = F.minimum(F.maximum(input, eps), 1.0 - eps)
    return _reduce(-(target * F.log(p) + (1.0 - target) * F.log(1.0 - p)), reduction)


def accuracy(input, target):
    """Fraction of rows whose arg-max is the target class."""
    return F.mean(F.cast(F.eq(F.argmax(input, axis=-1), target), np.float32))
