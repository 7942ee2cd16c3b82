"""Convolution and pooling primitives: ``im2col`` and its adjoint ``col2im``.

A convolution is ``im2col`` (gather every kernel-sized window into a row)
followed by one big matmul with the flattened filters; pooling is ``im2col``
followed by a max or mean over the window axes.  So two primitives carry all
of conv and pooling, and their derivative rules are each other:

* ``im2col`` is linear in ``x``; its vjp scatters the windows back, summing
  where windows overlap: that is ``col2im``;
* ``col2im`` is linear too, and its vjp is ``im2col``.

Because each rule is the other primitive, gradients of gradients work to any
order, eagerly or on symbols.

Layout (a choice made for speed): ``x`` is ``(N, C, H, W)`` as in PyTorch;
``im2col(x)`` is ``(N, OH, OW, C, kh, kw)``, so reshaping it to
``(N*OH*OW, C*kh*kw)`` is free and the matmul with filters reshaped to
``(O, C*kh*kw)`` is one BLAS call.  The windows are taken with
``numpy.lib.stride_tricks.sliding_window_view`` (no Python loop).

``padding`` is ``((top, bottom), (left, right))``; ``pad_value`` is what the
border holds (``0`` for convolution and average pooling, ``-inf`` for max
pooling).  The border is a constant, so it has no gradient.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minifw import functional as F
from minifw.registry import Primitive, ShapeError, register


def _out_size(n: int, k: int, s: int, p0: int, p1: int) -> int:
    return (n + p0 + p1 - k) // s + 1


# --- shape rules -------------------------------------------------------------------
def _im2col_rule(shp, dts, kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0)), pad_value=0.0):
    (s,) = shp
    s = tuple(s)
    if len(s) != 4:
        raise ShapeError(f"im2col: input must be 4-D (N, C, H, W), got shape {s}")
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or min(pt, pb, pl, pr) < 0:
        raise ShapeError(f"im2col: kernel {kernel} and stride {stride} must be positive and padding "
                         f"{padding} non-negative (input shape {s})")
    if s[2] + pt + pb < kh or s[3] + pl + pr < kw:
        raise ShapeError(f"im2col: kernel {kh}x{kw} is larger than the padded input "
                         f"{s[2] + pt + pb}x{s[3] + pl + pr} (input shape {s}, padding {padding})")
    oh, ow = _out_size(s[2], kh, sh, pt, pb), _out_size(s[3], kw, sw, pl, pr)
    return (s[0], oh, ow, s[1], kh, kw), dts[0]


def _col2im_rule(shp, dts, x_shape=(), kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0))):
    (s,) = shp
    want, _ = _im2col_rule([x_shape], dts, kernel=kernel, stride=stride, padding=padding)
    if tuple(s) != want:
        raise ShapeError(f"col2im: columns of shape {tuple(s)} do not fit an image of shape {tuple(x_shape)} "
                         f"with kernel {kernel}, stride {stride}, padding {padding} (expected {want})")
    return tuple(x_shape), dts[0]


# --- numpy implementations ---------------------------------------------------------
def _im2col_impl(x, kernel, stride, padding, pad_value=0.0):
    x = np.asarray(x)
    (pt, pb), (pl, pr) = padding
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=pad_value)
    win = sliding_window_view(x, kernel, axis=(2, 3))  # (N, C, H', W', kh, kw), a view
    win = win[:, :, :: stride[0], :: stride[1]]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5))


def _col2im_impl(cols, x_shape, kernel, stride, padding):
    cols = np.asarray(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
    hp, wp = h + pt + pb, w + pl + pr
    oh, ow = cols.shape[1], cols.shape[2]
    by_tap = cols.transpose(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, OH, OW)
    if (sh, sw) == (kh, kw):
        # Windows tile the image without overlap (the usual pooling): one reshape.
        tiled = by_tap.transpose(0, 1, 4, 2, 5, 3).reshape(n, c, oh * kh, ow * kw)
        if (oh * kh, ow * kw) == (hp, wp):
            out = tiled
        else:
            out = np.zeros((n, c, hp, wp), dtype=cols.dtype)
            out[:, :, : oh * kh, : ow * kw] = tiled
    else:
        out = np.zeros((n, c, hp, wp), dtype=cols.dtype)
        for i in range(kh):  # kh*kw strided adds; overlapping windows accumulate
            for j in range(kw):
                out[:, :, i: i + sh * (oh - 1) + 1: sh, j: j + sw * (ow - 1) + 1: sw] += by_tap[:, :, i, j]
    return np.ascontiguousarray(out[:, :, pt: pt + h, pl: pl + w])


# --- polymorphic front (tensors, symbols) ------------------------------------------------
def _pair(v, name):
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v}")
    return v


def normalize_padding(padding) -> tuple:
    """``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))`` -> the last form."""
    if isinstance(padding, (int, np.integer)):
        p = int(padding)
        return ((p, p), (p, p))
    padding = tuple(padding)
    if len(padding) == 2 and all(isinstance(p, (int, np.integer)) for p in padding):
        return ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
    (a, b), (c, d) = padding
    return ((int(a), int(b)), (int(c), int(d)))


def im2col(x, kernel, stride=1, padding=0, pad_value: float = 0.0):
    """Windows of ``x`` (N, C, H, W) as an (N, OH, OW, C, kh, kw) array."""
    return F.bind(IM2COL, x, kernel=_pair(kernel, "kernel"), stride=_pair(stride, "stride"),
                  padding=normalize_padding(padding), pad_value=float(pad_value))


def col2im(cols, x_shape, kernel, stride=1, padding=0):
    """The adjoint of :func:`im2col`: sum windows back into an image of ``x_shape``."""
    return F.bind(COL2IM, cols, x_shape=tuple(int(s) for s in x_shape), kernel=_pair(kernel, "kernel"),
                  stride=_pair(stride, "stride"), padding=normalize_padding(padding))


# --- the primitives -------------------------------------------------------------------
IM2COL = register(Primitive(
    name="im2col", kind="conv", nin=1, impl=_im2col_impl, shape_rule=_im2col_rule,
    vjps=[lambda g, out, x, kernel, stride, padding, pad_value:
          col2im(g, F.shape_of(x), kernel, stride, padding)],
    jvp=lambda t, out, x, kernel, stride, padding, pad_value: im2col(t[0], kernel, stride, padding, 0.0),
    notation="im2col({0}, {kernel})", params=("kernel", "stride", "padding", "pad_value"),
    doc="kernel-sized windows of an NCHW image, one row per output position",
))

COL2IM = register(Primitive(
    name="col2im", kind="conv", nin=1, impl=_col2im_impl, shape_rule=_col2im_rule,
    vjps=[lambda g, out, cols, x_shape, kernel, stride, padding: im2col(g, kernel, stride, padding, 0.0)],
    jvp=lambda t, out, cols, x_shape, kernel, stride, padding: col2im(t[0], x_shape, kernel, stride, padding),
    notation="col2im({0}, {kernel})", params=("x_shape", "kernel", "stride", "padding"),
    doc="sum windows back into an NCHW image (the adjoint of im2col)",
))
