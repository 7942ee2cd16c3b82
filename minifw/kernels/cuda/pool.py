"""Max pooling on CUDA: the window arg-max, and the gather / scatter-add through it.

The same three primitives as the CPU loops (:mod:`minifw.kernels.conv_loops`), one thread per
output cell.  ``index`` holds, per (n, c) plane, the flat position ``row * W + col`` of each window's
first maximum; the plane's start is ``(cell // (OH*OW)) * H*W``.  The scatter adds with atomics, so
overlapping windows (stride < kernel) that share a maximum accumulate as on the CPU.
"""

from __future__ import annotations

import numpy as np

from .array import CudaArray, empty
from .elementwise import fill, launch_1d
from .runtime import load_cuda

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module


@cuda.jit
def _argmax(x, h, w, oh, ow, kh, kw, sh, sw, pt, pl, index):
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < index.size:
        plane, cell = t // (oh * ow), t % (oh * ow)
        i, j = cell // ow, cell % ow
        base = plane * h * w
        best = -1
        top = x[0]
        for a in range(kh):
            r = i * sh + a - pt
            if r >= 0 and r < h:
                for b in range(kw):
                    q = j * sw + b - pl
                    if q >= 0 and q < w:
                        v = x[base + r * w + q]
                        if best < 0 or (v > top and top == top) or (v != v and top == top):
                            best = r * w + q
                            top = v
        index[t] = best
        t += step


@cuda.jit
def _gather(x, index, hw, ohw, out):
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < out.size:
        out[t] = x[(t // ohw) * hw + index[t]]
        t += step


@cuda.jit
def _scatter(g, index, hw, ohw, out):
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < g.size:
        cuda.atomic.add(out, (t // ohw) * hw + index[t], g[t])
        t += step


def pool_argmax(x: CudaArray, kernel, stride, padding) -> CudaArray:
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, padding
    oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    index = empty((n, c, oh, ow), np.dtype(np.int64))
    if index.size:
        grid, block = launch_1d(index.size)
        _argmax[grid, block](x.dev.reshape(x.size), h, w, oh, ow, kh, kw, sh, sw, pt, pl,
                             index.dev.reshape(index.size))
    return index


def pool_gather(x: CudaArray, index: CudaArray) -> CudaArray:
    out = empty(index.shape, x.dtype)
    if out.size:
        grid, block = launch_1d(out.size)
        _gather[grid, block](x.dev.reshape(x.size), index.dev.reshape(index.size), x.shape[2] * x.shape[3],
                             index.shape[2] * index.shape[3], out.dev.reshape(out.size))
    return out


def pool_scatter(g: CudaArray, index: CudaArray, x_shape) -> CudaArray:
    out = empty(tuple(x_shape), g.dtype)
    fill(out, 0)
    if g.size:
        grid, block = launch_1d(g.size)
        _scatter[grid, block](g.dev.reshape(g.size), index.dev.reshape(index.size), x_shape[2] * x_shape[3],
                              index.shape[2] * index.shape[3], out.dev.reshape(out.size))
    return out


__all__ = ["pool_argmax", "pool_gather", "pool_scatter"]
