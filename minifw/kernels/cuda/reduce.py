"""Reductions and softmax on CUDA: shared-memory tree reductions over rows.

Any reduction is first put in row form: the reduced axes are moved last
(a strided copy when they are not last already), so the work is a
``(rows, cols)`` array reduced along ``cols``.  A block of threads reduces
one chunk of one row: each thread folds a strided slice of the chunk into a
register, then the block combines the registers in shared memory by halving
(``s[t] = s[t] op s[t + h]``).  Long rows are split across several blocks
(``grid = (splits, rows)``); their partial results are reduced again by the
same kernel.  Accumulation is in float64 for float inputs (int64 for ints).

``softmax``/``log_softmax`` use one block per row: a max pass, a sum of
``exp(x - max)`` pass, then the write -- the same stable formula as the
numpy reference.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import tree
from .array import CudaArray, empty
from .elementwise import View, copy_view
from .runtime import block_size, load_cuda

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module

def _acc_dtype(dt: np.dtype):
    return np.float64 if dt.kind in "fc" else np.int64


@functools.cache  # one kernel per argument set (each compiles on first launch)
def _row_kernel(op: str, acc, block: int):
    floats = np.dtype(acc).kind == "f"
    nb_acc = np.float64 if floats else np.int64
    ident = {"sum": 0.0 if floats else 0,
             "max": -math.inf if floats else np.iinfo(np.int64).min,
             "min": math.inf if floats else np.iinfo(np.int64).max}[op]
    comb, fold = tree.COMBINE[op], tree.fold(op, block)

    @cuda.jit
    def k(x, cols, chunk, out):
        # x: (rows * cols,) flat; block (s, r) reduces x[r, s*chunk:(s+1)*chunk] into out[r, s]
        s = cuda.blockIdx.x
        r = cuda.blockIdx.y
        t = cuda.threadIdx.x
        sh = cuda.shared.array(block, nb_acc)
        lo = s * chunk
        hi = min(lo + chunk, cols)
        acc_v = nb_acc(ident)
        j = lo + t
        while j < hi:
            acc_v = comb(acc_v, nb_acc(x[r * cols + j]))
            j += block
        sh[t] = acc_v
        fold(sh, t)
        if t == 0:
            out[r * cuda.gridDim.x + s] = sh[0]

    return k


def reduce_rows(x: CudaArray, rows: int, cols: int, op: str, out_dtype) -> CudaArray:
    """Reduce a contiguous (rows, cols) array along cols with ``op`` in sum/max/min -> (rows,)."""
    block = block_size()
    acc = _acc_dtype(x.dtype)
    per_block = block * (4 if block > 32 else 2)
    splits = max(1, -(-cols // per_block)) if cols else 1
    splits = min(splits, 65535)
    chunk = -(-cols // splits) if cols else 0
    part = empty((rows, splits), acc)
    if rows:
        _row_kernel(op, acc, block)[(splits, rows), block](x.dev.reshape(max(x.size, 1)) if x.size else
                                                          empty((1,), x.dtype).dev, cols, chunk,
                                                          part.dev.reshape(rows * splits))
    if splits > 1:
        return reduce_rows(part, rows, splits, op, out_dtype)
    res = part.reshape(rows)
    return res if res.dtype == np.dtype(out_dtype) else res.astype(out_dtype)


def to_rows(x: CudaArray, axis: tuple) -> tuple[CudaArray, int, int, tuple]:
    """Move ``axis`` last (copying when needed): (array, rows, cols, kept shape)."""
    nd = x.ndim
    keep = [d for d in range(nd) if d not in axis]
    perm = keep + list(axis)
    kept = tuple(x.shape[d] for d in keep)
    cols = 1
    for d in axis:
        cols *= x.shape[d]
    rows = x.size // cols if cols else int(np.prod(kept, dtype=np.int64))
    if perm != list(range(nd)):
        x = copy_view(View.of(x).permuted(perm))
    return x, rows, cols, kept


def reduce(op: str, x: CudaArray, axis: tuple, keepdims: bool, out_dtype) -> CudaArray:
    """sum / max / min / mean over ``axis`` (a sorted tuple), numpy's result shape."""
    xr, rows, cols, kept = to_rows(x, axis)
    if op in ("max", "min") and cols == 0:
        raise ValueError(f"zero-size array to reduction operation {op} which has no identity")
    base = "sum" if op == "mean" else op
    r = reduce_rows(xr, rows, cols, base, np.float64 if op == "mean" else out_dtype)
    if op == "mean":
        from minifw.registry import get

        from .elementwise import apply, constant

        r = apply(get("mul"), [View.of(r), View.of(constant(1.0 / cols if cols else math.nan, np.float64))],
                  r.shape, out_dtype)
    shape = tuple(1 if d in axis else n for d, n in enumerate(x.shape)) if keepdims else kept
    return r.reshape(shape)


# --- argmax / argmin ----------------------------------------------------------------------------
@functools.cache  # one kernel per argument set (each compiles on first launch)
def _arg_kernel(op: str, block: int):
    sign = 1.0 if op == "argmax" else -1.0

    @cuda.jit
    def k(x, cols, out):
        r = cuda.blockIdx.x
        t = cuda.threadIdx.x
        sv = cuda.shared.array(block, np.float64)
        si = cuda.shared.array(block, np.int64)
        best = -math.inf
        bi = cols
        j = t
        while j < cols:
            v = sign * np.float64(x[r * cols + j])
            if v > best or bi == cols:
                best = v
                bi = j
            j += block
        sv[t] = best
        si[t] = bi
        cuda.syncthreads()
        h = block // 2
        while h > 0:
            if t < h:
                ov = sv[t + h]
                oi = si[t + h]
                if oi < cols and (si[t] == cols or ov > sv[t] or (ov == sv[t] and oi < si[t])):
                    sv[t] = ov
                    si[t] = oi
            cuda.syncthreads()
            h //= 2
        if t == 0:
            out[r] = si[0]

    return k


def argreduce(op: str, x: CudaArray, axis: tuple, keepdims: bool) -> CudaArray:
    if len(axis) not in (1, x.ndim):
        raise ValueError("argmax/argmin take a single axis or all axes")
    xr, rows, cols, kept = to_rows(x, axis)
    out = empty((rows,), np.int64)
    if rows:
        block = block_size()
        _arg_kernel(op, block)[rows, block](xr.dev.reshape(xr.size), cols, out.dev)
    shape = tuple(1 if d in axis else n for d, n in enumerate(x.shape)) if keepdims else kept
    return out.reshape(shape)


# --- softmax / log_softmax --------------------------------------------------------------------
@functools.cache  # one kernel per argument set (each compiles on first launch)
def _softmax_kernel(log: bool, block: int):
    fold_max, fold_sum, maximum = tree.fold("max", block), tree.fold("sum", block), tree.maximum

    @cuda.jit
    def k(x, cols, out):
        r = cuda.blockIdx.x
        t = cuda.threadIdx.x
        sh = cuda.shared.array(block, np.float64)
        base = r * cols
        m = -math.inf
        j = t
        while j < cols:
            m = maximum(np.float64(x[base + j]), m)
            j += block
        sh[t] = m
        fold_max(sh, t)
        m = sh[0]
        cuda.syncthreads()  # every thread has read sh[0] before it is overwritten
        s = 0.0
        j = t
        while j < cols:
            s += math.exp(np.float64(x[base + j]) - m)
            j += block
        sh[t] = s
        fold_sum(sh, t)
        s = sh[0]
        j = t
        if log:
            ls = math.log(s)
            while j < cols:
                out[base + j] = (np.float64(x[base + j]) - m) - ls
                j += block
        else:
            while j < cols:
                out[base + j] = math.exp(np.float64(x[base + j]) - m) / s
                j += block

    return k


def softmax(x: CudaArray, axis: int, log: bool) -> CudaArray:
    nd = x.ndim
    axis = axis % nd if nd else 0
    moved = axis != nd - 1
    if moved:
        perm = [d for d in range(nd) if d != axis] + [axis]
        xr = copy_view(View.of(x).permuted(perm))
    else:
        perm, xr = list(range(nd)), x
    cols = xr.shape[-1] if nd else 1
    rows = xr.size // cols if cols else 0
    out = empty(xr.shape, x.dtype)
    if rows and cols:
        block = block_size()
        _softmax_kernel(log, block)[rows, block](xr.dev.reshape(xr.size), cols, out.dev.reshape(out.size))
    if moved:
        out = copy_view(View.of(out).permuted([perm.index(d) for d in range(nd)]))
    return out
