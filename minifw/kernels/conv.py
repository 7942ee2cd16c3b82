"""Convolution and pooling primitives on numba loops (:mod:`minifw.kernels.conv_loops`).

The dispatch table (:mod:`minifw.kernels.dispatch`) runs ``im2col``, ``col2im``, the max-pool
trio (``pool_argmax``, ``pool_gather``, ``pool_scatter``) and the convolution trio (``conv2d`` and
its two gradients, whose im2col/col2im steps use the same loops) through :data:`IMPLS`: float32/float64
NCHW arrays go to a loop that writes its result in one pass (no padded copy of the input, no
``sliding_window_view`` + transpose copy, no ``np.add.at``); anything else (integers, another
array type) goes to the primitive's numpy ``impl``, which stays the reference the tests compare
against.  numba is imported by the first call that needs a loop.

Measured on W7 (LeNet, batch 64, one thread): im2col of the 20x8x8 input 230 -> ~25 us, the
max-pool forward 630 us (im2col + max over the windows) -> ~30 us, its backward (a mask as large
as the windows, a count, a divide and col2im) ~600 -> ~20 us.
"""

from __future__ import annotations

import threading

import numpy as np

from minifw.kernels import threads
from minifw.ops.conv import NUMPY_ARRAYS, ConvArrays, _col2im_impl, _im2col_impl

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
        shape = (n, oh, ow, c, kh, kw)
        out = _WORKSPACES.get(shape, x.dtype) if workspace else np.empty(shape, x.dtype)
        if (kh, kw, sh, sw, pt, pb, pl, pr) == _SAME_3X3:
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
        out = np.empty(x_shape, cols.dtype)
        if (kh, kw, sh, sw, pt, pb, pl, pr) == _SAME_3X3:
            loops().col2im_3x3(_c(cols), out)
        else:
            loops().col2im(_c(cols), kh, kw, sh, sw, pt, pl, out)
        return out

    return run


def _pool_argmax(impl):
    def run(x, kernel, stride, padding):
        if not _fits(x):
            return impl(x, kernel, stride, padding)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
        index = np.empty((n, c, (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1), np.int64)
        if (kh, kw, sh, sw, pt, pl) == (2, 2, 2, 2, 0, 0) and 2 * index.shape[2] <= h and 2 * index.shape[3] <= w:
            loops().pool_argmax_2x2(_c(x), index)
        else:
            loops().pool_argmax(_c(x), kh, kw, sh, sw, pt, pl, index)
        return index

    return run


def _pool_gather(impl):
    def run(x, index):
        if not (_fits(x) and type(index) is _nd and index.dtype == np.int64):
            return impl(x, index)
        out = np.empty(index.shape, x.dtype)
        loops().pool_gather(_c(x), _c(index), out)
        return out

    return run


def _pool_scatter(impl):
    def run(g, index, x_shape):
        if not (_fits(g) and type(index) is _nd and index.dtype == np.int64):
            return impl(g, index, x_shape)
        out = np.empty(x_shape, g.dtype)
        loops().pool_scatter(_c(g), _c(index), out)
        return out

    return run


LOOP_ARRAYS = ConvArrays(_im2col(_im2col_impl, workspace=True), _col2im(_col2im_impl), threads.matmul,
                         NUMPY_ARRAYS.permute)
"""The convolution trio's array functions on the loops: im2col into a reused workspace (the columns never
leave the trio's functions), the GEMM numpy's BLAS call under the small-GEMM thread rule."""


def _with_loops(impl):
    def run(*args, **params):
        return impl(*args, **params, a=LOOP_ARRAYS)

    run.__doc__ = f"{impl.__name__} with im2col/col2im on numba loops"
    return run


IMPLS = {"im2col": _im2col, "col2im": _col2im, "pool_argmax": _pool_argmax, "pool_gather": _pool_gather,
         "pool_scatter": _pool_scatter, "conv2d": _with_loops, "conv2d_input_grad": _with_loops,
         "conv2d_weight_grad": _with_loops}
"""Primitive name -> ``factory(numpy_impl) -> impl`` (the loop for float NCHW arrays, numpy otherwise)."""
