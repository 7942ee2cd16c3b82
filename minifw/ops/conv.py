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

Max pooling keeps where each window's maximum was instead of recomputing it
for the backward: ``pool_argmax`` (not differentiable) gives, per output cell,
the flat position ``row * W + col`` of its window's first maximum in the
input plane, ``(N, C, OH, OW)`` integers -- a quarter of the input's size for
2x2 pooling, not a mask as large as the windows.  Then ``pool_gather`` picks
those cells and its adjoint ``pool_scatter`` adds a cotangent back at them:
another pair of linear primitives whose rules are each other.

A convolution layer runs as one primitive, ``conv2d`` (NCHW in, NCHW out:
im2col into a workspace, one GEMM, its rows transposed to NCHW -- a copy
here, a channels-last view on the numba loops),
with two more for its derivatives, ``conv2d_input_grad`` (the transposed
convolution: GEMM then col2im) and ``conv2d_weight_grad`` (im2col then GEMM).
All three are bilinear and each one's vjps are the other two, so the trio
is closed under differentiation like im2col/col2im.  The array work is
written once (:func:`conv2d_arrays` and friends) over a small set of array
functions (:class:`ConvArrays`): numpy here, numba loops and CUDA kernels in
:mod:`minifw.kernels` pass their own.

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

from typing import Callable, NamedTuple

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


def _pool_argmax_rule(shp, dts, kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0))):
    (n, oh, ow, c, _, _), _ = _im2col_rule(shp, dts, kernel=kernel, stride=stride, padding=padding)
    _check_pool_padding(shp[0], kernel, padding)
    return (n, c, oh, ow), np.dtype(np.int64)


def _check_pool_padding(x_shape, kernel, padding):
    (kh, kw), ((pt, _), (pl, _)) = kernel, padding
    if 2 * pt > kh or 2 * pl > kw:  # so every window holds a cell of the input (ceil_mode pads only the end)
        raise ShapeError(f"max_pool2d: padding {padding} must be at most half the kernel {kernel} "
                         f"(input shape {tuple(x_shape)})")


def _pool_gather_rule(shp, dts):
    xs, js = (tuple(s) for s in shp)
    if len(xs) != 4 or len(js) != 4 or xs[:2] != js[:2]:
        raise ShapeError(f"pool_gather: index of shape {js} does not fit an (N, C, H, W) input of shape {xs} "
                         "(expected (N, C, OH, OW) with the same N and C)")
    return js, dts[0]


def _pool_scatter_rule(shp, dts, x_shape=()):
    gs, js = (tuple(s) for s in shp)
    if gs != js:
        raise ShapeError(f"pool_scatter: cotangent of shape {gs} does not match the index's shape {js}")
    _pool_gather_rule([x_shape, js], dts[:1])
    return tuple(x_shape), dts[0]


def _pool_argmax_impl(x, kernel, stride, padding):
    x = np.asarray(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), ((pt, _), (pl, _)) = kernel, stride, padding
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    cols = _im2col_impl(x, kernel, stride, padding, low)  # (N, OH, OW, C, kh, kw)
    oh, ow = cols.shape[1:3]
    a, b = np.divmod(cols.reshape(n, oh, ow, c, kh * kw).argmax(-1), kw)  # the first maximum, as PyTorch
    rows = np.arange(oh)[:, None, None] * sh + a - pt
    flat = rows * w + np.arange(ow)[:, None] * sw + b - pl
    return np.ascontiguousarray(flat.transpose(0, 3, 1, 2), dtype=np.int64)


def _pool_gather_impl(x, index):
    x, index = np.asarray(x), np.asarray(index)
    n, c, h, w = x.shape
    picked = np.take_along_axis(x.reshape(n, c, h * w), index.reshape(n, c, -1), axis=2)
    return picked.reshape(index.shape)


def _pool_scatter_impl(g, index, x_shape):
    g, index = np.asarray(g), np.asarray(index)
    n, c, h, w = x_shape
    out = np.zeros((n, c, h * w), dtype=g.dtype)
    nn, cc = np.ogrid[:n, :c]
    np.add.at(out, (nn[..., None], cc[..., None], index.reshape(n, c, -1)), g.reshape(n, c, -1))  # overlaps add
    return out.reshape(x_shape)


# --- convolution as one primitive: the array work, over any array backend -------------
class ConvArrays(NamedTuple):
    """The array functions the convolution trio needs (numpy's are :data:`NUMPY_ARRAYS`)."""

    im2col: Callable  # (x, kernel, stride, padding, pad_value) -> (N, OH, OW, C, kh, kw)
    col2im: Callable  # (cols, x_shape, kernel, stride, padding) -> (N, C, H, W)
    matmul: Callable  # (a, b) -> a @ b
    permute: Callable  # (x, axes) -> x transposed: a copy, or a view where the backend reads any strides
    # the input gradient's columns in (kh, kw, C) order ("taps last"), which this col2im reads; see _rows
    taps_last: bool = False


def _permute_copy(x, axes):
    return np.ascontiguousarray(x.transpose(axes))


NUMPY_ARRAYS = ConvArrays(_im2col_impl, _col2im_impl, np.matmul, _permute_copy)


def _rows_by_channel(g, a: ConvArrays):
    """(N, O, OH, OW) -> (N*OH*OW, O): the layout a GEMM against im2col's rows needs."""
    n, o, oh, ow = g.shape
    return a.permute(g, (0, 2, 3, 1)).reshape(n * oh * ow, o)


def _rows(cols):
    """im2col's (N, OH, OW, C, kh, kw) columns as (N*OH*OW, K) rows without a copy, and whether K runs in
    (kh, kw, C) order: the loops give a channels-last input taps-last columns (a view), each tap a contiguous
    run of channels, and the filters are then flattened in that order too (:func:`_filters`)."""
    n, oh, ow, c, kh, kw = cols.shape
    if type(cols) is np.ndarray and not cols.flags.c_contiguous:
        taps = cols.transpose(0, 1, 2, 4, 5, 3)
        if taps.flags.c_contiguous:
            return taps.reshape(n * oh * ow, kh * kw * c), True
    return cols.reshape(n * oh * ow, c * kh * kw), False


def _filters(w, taps_last: bool):
    """(O, C, kh, kw) filters as (O, K) rows, K in (C, kh, kw) or (kh, kw, C) order (a small copy)."""
    o, c, kh, kw = w.shape
    return w.transpose(0, 2, 3, 1).reshape(o, kh * kw * c) if taps_last else w.reshape(o, c * kh * kw)


def conv2d_arrays(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), a: ConvArrays = NUMPY_ARRAYS):
    """``y[n, o] = sum_c x[n, c] (*) w[o, c] + b[o]``: im2col, one GEMM, the bias added to the GEMM's
    output while it is still one contiguous (N*OH*OW, O) block, then transposed to NCHW (``a.permute``)."""
    o, c, kh, kw = w.shape
    cols = a.im2col(x, (kh, kw), stride, padding, 0.0)
    n, oh, ow = cols.shape[:3]
    rows, taps_last = _rows(cols)
    y = a.matmul(rows, a.permute(_filters(w, taps_last), (1, 0)))
    if b is not None:
        if b.dtype == y.dtype:
            y += b  # in place: the GEMM's result is ours
        else:  # a wider bias widens the result, as an add would
            y = y + b
    return a.permute(y.reshape(n, oh, ow, o), (0, 3, 1, 2))


def conv2d_input_grad_arrays(g, w, x_shape=(), stride=(1, 1), padding=((0, 0), (0, 0)),
                             a: ConvArrays = NUMPY_ARRAYS):
    """The adjoint of ``conv2d`` in ``x``: ``g`` (N, O, OH, OW) through the filters, windows summed back."""
    o, c, kh, kw = w.shape
    n, _, oh, ow = g.shape
    rows = a.matmul(_rows_by_channel(g, a), _filters(w, a.taps_last))
    if a.taps_last:  # (kh, kw, C) columns, handed on as the (C, kh, kw) shape they are a view of
        cols = a.permute(rows.reshape(n, oh, ow, kh, kw, c), (0, 1, 2, 5, 3, 4))
    else:
        cols = rows.reshape(n, oh, ow, c, kh, kw)
    return a.col2im(cols, tuple(x_shape), (kh, kw), stride, padding)


def conv2d_weight_grad_arrays(x, g, w_shape=(), stride=(1, 1), padding=((0, 0), (0, 0)),
                              a: ConvArrays = NUMPY_ARRAYS):
    """The adjoint of ``conv2d`` in ``w``: windows of ``x`` against ``g``, summed over the batch and positions."""
    o, c, kh, kw = w_shape
    cols = a.im2col(x, (kh, kw), stride, padding, 0.0)
    rows, taps_last = _rows(cols)
    gt = a.permute(_rows_by_channel(g, a), (1, 0))  # (O, N*OH*OW)
    gw = a.matmul(gt, rows)
    if taps_last:  # (O, kh, kw, C) -> the filters' own (O, C, kh, kw), contiguous: it becomes a .grad
        return np.ascontiguousarray(gw.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))
    return gw.reshape(tuple(w_shape))


def _conv2d_rule(shp, dts, stride=(1, 1), padding=((0, 0), (0, 0))):
    xs, ws = tuple(shp[0]), tuple(shp[1])
    if len(shp) not in (2, 3):
        raise ShapeError(f"conv2d: takes an input, filters and an optional bias, got {len(shp)} operands")
    if len(xs) != 4 or len(ws) != 4 or xs[1] != ws[1]:
        raise ShapeError(f"conv2d: input of shape {xs} (N, C, H, W) does not fit filters of shape {ws} "
                         f"(O, C, kh, kw)")
    if len(shp) == 3 and tuple(shp[2]) != ws[:1]:
        raise ShapeError(f"conv2d: bias of shape {tuple(shp[2])} does not fit filters of shape {ws} "
                         f"(expected ({ws[0]},))")
    (n, oh, ow, _, _, _), _ = _im2col_rule([xs], dts[:1], kernel=ws[2:], stride=stride, padding=padding)
    return (n, ws[0], oh, ow), np.result_type(*dts)


def _check_cotangent(name, gs, x_shape, w_shape, dts, stride, padding):
    want, _ = _conv2d_rule([x_shape, w_shape], dts[:2], stride=stride, padding=padding)
    if len(gs) != 4 or any(a is not None and b is not None and a != b for a, b in zip(gs, want)):
        raise ShapeError(f"{name}: cotangent of shape {gs} does not fit an input of shape {tuple(x_shape)} "
                         f"and filters of shape {tuple(w_shape)} (expected {want})")


def _conv2d_input_grad_rule(shp, dts, x_shape=(), stride=(1, 1), padding=((0, 0), (0, 0))):
    gs, ws = (tuple(s) for s in shp)
    _check_cotangent("conv2d_input_grad", gs, x_shape, ws, dts, stride, padding)
    return tuple(x_shape), np.result_type(*dts)


def _conv2d_weight_grad_rule(shp, dts, w_shape=(), stride=(1, 1), padding=((0, 0), (0, 0))):
    xs, gs = (tuple(s) for s in shp)
    _check_cotangent("conv2d_weight_grad", gs, xs, w_shape, dts, stride, padding)
    return tuple(w_shape), np.result_type(*dts)


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


def conv(x, w, stride=1, padding=0, bias=None):
    """Cross-correlation of ``x`` (N, C, H, W) with filters ``w`` (O, C, kh, kw), plus ``bias`` (O,) when
    given -> (N, O, OH, OW)."""
    args = (x, w) if bias is None else (x, w, bias)
    return F.bind(CONV2D, *args, stride=_pair(stride, "stride"), padding=normalize_padding(padding))


def conv_input_grad(g, w, x_shape, stride=1, padding=0):
    """The transposed convolution: the cotangent of ``conv``'s input from its output's ``g``."""
    return F.bind(CONV2D_INPUT_GRAD, g, w, x_shape=tuple(int(s) for s in x_shape), stride=_pair(stride, "stride"),
                  padding=normalize_padding(padding))


def conv_weight_grad(x, g, w_shape, stride=1, padding=0):
    """The cotangent of ``conv``'s filters from its input ``x`` and its output's ``g``."""
    return F.bind(CONV2D_WEIGHT_GRAD, x, g, w_shape=tuple(int(s) for s in w_shape),
                  stride=_pair(stride, "stride"), padding=normalize_padding(padding))


def max_pool(x, kernel, stride=None, padding=0):
    """Max pooling of ``x`` (N, C, H, W): ``pool_gather(x, pool_argmax(x))``; the index is kept for the
    backward (the first maximum of a window takes the whole gradient, as in PyTorch)."""
    kernel, padding = _pair(kernel, "kernel"), normalize_padding(padding)
    _check_pool_padding(F.shape_of(x), kernel, padding)  # eager ops skip shape rules; the loops rely on this
    index = F.bind(POOL_ARGMAX, x, kernel=kernel, stride=kernel if stride is None else _pair(stride, "stride"),
                   padding=padding)
    return pool_gather(x, index)


def pool_gather(x, index):
    """``out[n, c, i, j] = x[n, c].flat[index[n, c, i, j]]``."""
    return F.bind(POOL_GATHER, x, index)


def pool_scatter(g, index, x_shape):
    """The adjoint of :func:`pool_gather`: ``g`` added into zeros of ``x_shape`` at ``index``."""
    return F.bind(POOL_SCATTER, g, index, x_shape=tuple(int(s) for s in x_shape))


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

POOL_ARGMAX = register(Primitive(
    name="pool_argmax", kind="conv", nin=1, impl=_pool_argmax_impl, shape_rule=_pool_argmax_rule,
    differentiable=False, notation="argmax_window({0}, {kernel})", params=("kernel", "stride", "padding"),
    doc="per max-pool window, the flat position (row * W + col) of its first maximum in the input plane",
))

POOL_GATHER = register(Primitive(
    name="pool_gather", kind="conv", nin=2, impl=_pool_gather_impl, shape_rule=_pool_gather_rule,
    vjps=[lambda g, out, x, index: pool_scatter(g, index, F.shape_of(x)), None],
    jvp=lambda t, out, x, index: None if t[0] is None else pool_gather(t[0], index),
    notation="{0}[{1}]", doc="the cells of each NCHW plane at flat positions (a max pool's forward)",
))

POOL_SCATTER = register(Primitive(
    name="pool_scatter", kind="conv", nin=2, impl=_pool_scatter_impl, shape_rule=_pool_scatter_rule,
    vjps=[lambda g, out, cot, index, x_shape: pool_gather(g, index), None],
    jvp=lambda t, out, cot, index, x_shape: None if t[0] is None else pool_scatter(t[0], index, x_shape),
    notation="scatter({0}, {1})", params=("x_shape",),
    doc="add values into zero NCHW planes at flat positions (the adjoint of pool_gather)",
))

# conv2d(x, w[, b]), conv2d_input_grad(g, w), conv2d_weight_grad(x, g): each is bilinear (the bias aside), and
# the vjps of each are the other two (<conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>).
CONV2D = register(Primitive(
    name="conv2d", kind="conv", nin=-1, impl=conv2d_arrays, shape_rule=_conv2d_rule,
    vjps=[lambda g, out, x, w, *b, stride, padding: conv_input_grad(g, w, F.shape_of(x), stride, padding),
          lambda g, out, x, w, *b, stride, padding: conv_weight_grad(x, g, F.shape_of(w), stride, padding),
          lambda g, out, x, w, *b, stride, padding: F.sum(g, axis=(0, 2, 3))],
    jvp=lambda t, out, x, w, *b, stride, padding: _sum_known(_sum_known(
        None if t[0] is None else conv(t[0], w, stride, padding),
        None if t[1] is None else conv(x, t[1], stride, padding)),
        None if len(t) < 3 or t[2] is None else F.reshape(t[2], (F.shape_of(w)[0], 1, 1))),
    notation="conv2d({0}, {1})", params=("stride", "padding"), saves="others",
    doc="2-D cross-correlation of an NCHW input with (O, C, kh, kw) filters and an optional bias, NCHW out",
))

CONV2D_INPUT_GRAD = register(Primitive(
    name="conv2d_input_grad", kind="conv", nin=2, impl=conv2d_input_grad_arrays, shape_rule=_conv2d_input_grad_rule,
    vjps=[lambda ct, out, g, w, x_shape, stride, padding: conv(ct, w, stride, padding),
          lambda ct, out, g, w, x_shape, stride, padding: conv_weight_grad(ct, g, F.shape_of(w), stride, padding)],
    jvp=lambda t, out, g, w, x_shape, stride, padding: _sum_known(
        None if t[0] is None else conv_input_grad(t[0], w, x_shape, stride, padding),
        None if t[1] is None else conv_input_grad(g, t[1], x_shape, stride, padding)),
    notation="conv2d_input_grad({0}, {1})", params=("x_shape", "stride", "padding"), saves="others",
    doc="the transposed convolution: conv2d's input cotangent",
))

CONV2D_WEIGHT_GRAD = register(Primitive(
    name="conv2d_weight_grad", kind="conv", nin=2, impl=conv2d_weight_grad_arrays,
    shape_rule=_conv2d_weight_grad_rule,
    vjps=[lambda ct, out, x, g, w_shape, stride, padding: conv_input_grad(g, ct, F.shape_of(x), stride, padding),
          lambda ct, out, x, g, w_shape, stride, padding: conv(x, ct, stride, padding)],
    jvp=lambda t, out, x, g, w_shape, stride, padding: _sum_known(
        None if t[0] is None else conv_weight_grad(t[0], g, w_shape, stride, padding),
        None if t[1] is None else conv_weight_grad(x, t[1], w_shape, stride, padding)),
    notation="conv2d_weight_grad({0}, {1})", params=("w_shape", "stride", "padding"), saves="others",
    doc="conv2d's filter cotangent",
))


def _sum_known(a, b):
    return b if a is None else a if b is None else a + b


# The pool pair's rules read the index (the other input), never the values they move.
POOL_GATHER.saves = POOL_SCATTER.saves = "others"
