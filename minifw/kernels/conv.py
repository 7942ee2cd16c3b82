"""Convolution and pooling primitives on numba loops (:mod:`minifw.kernels.conv_loops`).

The dispatch table (:mod:`minifw.kernels.dispatch`) runs ``im2col``, ``col2im``, the max-pool
trio (``pool_argmax``, ``pool_gather``, ``pool_scatter``) and the convolution trio (``conv2d`` and
its two gradients, whose im2col/col2im steps use the same loops) through :data:`IMPLS`: float32/float64
NCHW arrays go to a loop that writes its result in one pass (no padded copy of the input, no
``sliding_window_view`` + transpose copy, no ``np.add.at``); anything else (integers, another
array type) goes to the primitive's numpy ``impl``, which stays the reference the tests compare
against.  numba is imported by the first call that needs a loop.

Layout: the GEMM of ``conv2d`` writes (N*OH*OW, O) rows, which are the output in channels-last order;
:data:`LOOP_ARRAYS` hands them on as an NCHW-shaped view (strides of (N, OH, OW, O)), and im2col (3x3) and
the 2x2 max-pool trio read such an input in its own layout (``*_nhwc`` loops), their results (the index,
the pooled values, the pooled gradient) channels-last too; the convolution's gradients read a
channels-last cotangent as rows without a copy.  im2col of a channels-last input writes its columns
taps-last, (N, OH, OW, kh, kw, C) memory viewed as (N, OH, OW, C, kh, kw), so every tap is a contiguous run
of channels; the convolution trio flattens its filters in that order (``minifw.ops.conv._rows``), and the
input gradient's columns come taps-last to ``col2im``, which sums them into a channels-last image.  Other
arrays take the NCHW loops (copied to C order first if they are neither).  Measured on W7 (jit, one
thread, alternating runs): 1.93 -> 1.60 ms per step for the channels-last views and pooling loops (9 layout
copies per step gone), then the taps-last columns: im2col 50 -> 29 us, col2im 77 -> 25 us.

Measured on W7 (LeNet, batch 64, one thread): im2col of the 20x8x8 input 230 -> ~25 us, the
max-pool forward 630 us (im2col + max over the windows) -> ~30 us, its backward (a mask as large
as the windows, a count, a divide and col2im) ~600 -> ~20 us.
"""

from __future__ import annotations

import threading

import numpy as np

from minifw.kernels import threads
from minifw.ops.conv import ConvArrays, _col2im_impl, _im2col_impl

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SAME_3X3 = (3, 3, 1, 1, 1, 1, 1, 1)  # kernel, stride, padding of the loops written for that shape
_nd = np.ndarray
_loops = None


def loops():
    """:mod:`minifw.kernels.conv_loops`, imported (with numba) on first need."""
    global _loops
    if _loops is None:
        from minifw.kernels import conv_loops

        _loops = conv_loops
    return _loops


def _fits(x) -> bool:
    return type(x) is _nd and x.dtype in _FLOATS and x.ndim in (4, 6)


def _c(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _nhwc(x):
    """``x`` (N, C, H, W) as the C-contiguous (N, H, W, C) array it views, or None if it is not channels-last."""
    if x.ndim != 4 or x.flags.c_contiguous:
        return None
    t = x.transpose(0, 2, 3, 1)
    return t if t.flags.c_contiguous else None


def _nchw_view(t):
    """A channels-last (N, H, W, C) array as the (N, C, H, W) array the primitives speak of (a view)."""
    return t.transpose(0, 3, 1, 2)


class _Workspaces(threading.local):
    """One im2col buffer per (shape, dtype) and thread, reused by every call of the convolution trio:
    their columns live only until the GEMM that reads them returns (a static graph's branches may run
    on several threads, hence one set per thread)."""

    def __init__(self):
        self.buffers: dict = {}

    def get(self, shape, dtype):
        key = (shape, dtype)
        buf = self.buffers.get(key)
        if buf is None:
            if len(self.buffers) > 32:  # many shapes (a sweep over batch sizes): start again
                self.buffers.clear()
            buf = self.buffers[key] = np.empty(shape, dtype)
        return buf


_WORKSPACES = _Workspaces()


def _im2col(impl, workspace: bool = False):
    def run(x, kernel, stride, padding, pad_value=0.0):
        if not _fits(x):
            return impl(x, kernel, stride, padding, pad_value)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        same_3x3, xt = (kh, kw, sh, sw, pt, pb, pl, pr) == _SAME_3X3, _nhwc(x)
        taps_last = same_3x3 and xt is not None  # a channels-last input: taps-last columns, a view of them
        shape = (n, oh, ow, kh, kw, c) if taps_last else (n, oh, ow, c, kh, kw)
        out = _WORKSPACES.get(shape, x.dtype) if workspace else np.empty(shape, x.dtype)
        if taps_last:
            loops().im2col_3x3_nhwc(xt, x.dtype.type(pad_value), out)
            return out.transpose(0, 1, 2, 5, 3, 4)
        if same_3x3:
            loops().im2col_3x3(_c(x), x.dtype.type(pad_value), out)
        else:
            loops().im2col(_c(x), kh, kw, sh, sw, pt, pl, x.dtype.type(pad_value), out)
        return out

    return run


def _col2im(impl):
    def run(cols, x_shape, kernel, stride, padding):
        if not _fits(cols):
            return impl(cols, x_shape, kernel, stride, padding)
        (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
        taps = cols.transpose(0, 1, 2, 4, 5, 3)
        if (kh, kw, sh, sw, pt, pb, pl, pr) == _SAME_3X3 and taps.flags.c_contiguous:
            n, c, h, w = x_shape  # taps-last columns (the loops' convolution gradient): a channels-last image
            out = np.empty((n, h, w, c), cols.dtype)
            loops().col2im_3x3_nhwc(taps, out)
            return _nchw_view(out)
        out = np.empty(x_shape, cols.dtype)
        loops().col2im(_c(cols), kh, kw, sh, sw, pt, pl, out)
        return out

    return run


def _pool_argmax(impl):
    def run(x, kernel, stride, padding):
        if not _fits(x):
            return impl(x, kernel, stride, padding)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        two_by_two = (kh, kw, sh, sw, pt, pl) == (2, 2, 2, 2, 0, 0) and 2 * oh <= h and 2 * ow <= w
        xt = _nhwc(x)
        if two_by_two and xt is not None:  # a convolution's output: the index is channels-last too
            index = np.empty((n, oh, ow, c), np.int64)
            loops().pool_argmax_2x2_nhwc(xt, index)
            return _nchw_view(index)
        index = np.empty((n, c, oh, ow), np.int64)
        if two_by_two:
            loops().pool_argmax_2x2(_c(x), index)
        else:
            loops().pool_argmax(_c(x), kh, kw, sh, sw, pt, pl, index)
        return index

    return run


def _pool_gather(impl):
    def run(x, index):
        if not (_fits(x) and type(index) is _nd and index.dtype == np.int64):
            return impl(x, index)
        xt, it = _nhwc(x), _nhwc(index)
        if xt is not None and it is not None:
            out = np.empty(it.shape, x.dtype)
            loops().pool_gather_nhwc(xt, it, out)
            return _nchw_view(out)
        out = np.empty(index.shape, x.dtype)
        loops().pool_gather(_c(x), _c(index), out)
        return out

    return run


def _pool_scatter(impl):
    def run(g, index, x_shape):
        if not (_fits(g) and type(index) is _nd and index.dtype == np.int64):
            return impl(g, index, x_shape)
        it = _nhwc(index)
        if it is not None:  # the gradient takes the layout of the pooled input (the index's)
            n, c, h, w = x_shape
            out = np.empty((n, h, w, c), g.dtype)
            loops().pool_scatter_nhwc(g.transpose(0, 2, 3, 1), it, out)
            return _nchw_view(out)
        out = np.empty(x_shape, g.dtype)
        loops().pool_scatter(_c(g), _c(index), out)
        return out

    return run


def _transposed(x, axes):
    return x.transpose(axes)


LOOP_ARRAYS = ConvArrays(_im2col(_im2col_impl, workspace=True), _col2im(_col2im_impl), threads.matmul, _transposed,
                         taps_last=True)
"""The convolution trio's array functions on the loops: im2col into a reused workspace (the columns never
leave the trio's functions), the GEMM numpy's BLAS call under the small-GEMM thread rule, and transposes
as views, not copies: BLAS reads a transposed operand as it is, and the GEMM's (N*OH*OW, O) output goes on
as a channels-last view of (N, O, OH, OW), which the pooling loops and im2col read in that layout."""


def _with_loops(impl):
    def run(*args, **params):
        return impl(*args, **params, a=LOOP_ARRAYS)

    run.__doc__ = f"{impl.__name__} with im2col/col2im on numba loops"
    return run


IMPLS = {"im2col": _im2col, "col2im": _col2im, "pool_argmax": _pool_argmax, "pool_gather": _pool_gather,
         "pool_scatter": _pool_scatter, "conv2d": _with_loops, "conv2d_input_grad": _with_loops,
         "conv2d_weight_grad": _with_loops}
"""Primitive name -> ``factory(numpy_impl) -> impl`` (the loop for float NCHW arrays, numpy otherwise)."""
