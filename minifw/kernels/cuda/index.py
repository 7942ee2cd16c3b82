"""Indexing, scatter-add, concatenation and im2col/col2im on CUDA.

Basic indices (ints, slices, None, Ellipsis) make a strided view, computed by
letting numpy index a fake array of the same shape whose "memory" is one byte
(numpy works out shape, strides and offset without touching data); the view
is then copied by the elementwise cast kernel, which also stores into views
(``scatter_add`` with basic indices, ``concatenate``).  Advanced (array) indices, and
the window layout of ``im2col``, become a table of flat source offsets built
on the host from the index alone (never from data), uploaded once and cached
on the device (``transfers['index_h2d']``): ``getitem`` gathers through it,
``scatter_add`` and ``col2im`` add through it with atomics (repeated offsets
accumulate, as ``np.add.at``).  Offset ``-1`` means "padding": ``im2col``
writes ``pad_value`` there and ``col2im`` skips it.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import array as _array
from .array import CudaArray, empty
from .elementwise import View, c_strides, copy_view, fill, launch, launch_1d
from .runtime import load_cuda

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module

_TABLES: dict[tuple, CudaArray] = {}


def _has_array(index) -> bool:
    return any(isinstance(i, (np.ndarray, list)) or type(i) is CudaArray for i in index)


def _tuple(index) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def basic_view(x: CudaArray, index) -> View:
    """The strided view ``x[index]`` for a basic index (no copy, no transfer)."""
    shape = x.shape
    strides = tuple(s if n != 1 else 0 for s, n in zip(c_strides(shape), shape))
    strides = tuple(s if s else 1 for s in strides)  # any stride is fine on a size-1 dim
    base = np.zeros(1, np.uint8)
    fake = as_strided(base, shape=shape, strides=strides, writeable=False)
    v = fake[_tuple(index)]
    offset = v.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return View(x, v.shape, v.strides, offset)


def _key_of(index) -> tuple:
    parts = []
    for i in _tuple(index):
        if isinstance(i, np.ndarray):
            parts.append(("a", i.dtype.str, i.shape, hashlib.sha1(np.ascontiguousarray(i).tobytes()).hexdigest()))
        else:
            parts.append(repr(i))
    return tuple(parts)


def _upload_table(key, build) -> CudaArray:
    t = _TABLES.get(key)
    if t is None:
        if len(_TABLES) > 256:
            _TABLES.clear()
        host = np.ascontiguousarray(build(), dtype=np.int64)
        t = _array.to_device(host)
        _array.transfers["h2d"] -= 1  # an index table, not data: counted apart
        _array.transfers["h2d_bytes"] -= host.nbytes
        _array.transfers["index_h2d"] += 1
        _TABLES[key] = t
    return t


def _offsets(shape, index) -> CudaArray:
    size = int(np.prod(shape, dtype=np.int64))
    return _upload_table(("idx", tuple(shape), _key_of(index)),
                         lambda: np.arange(size, dtype=np.int64).reshape(shape)[_tuple(index)])


@cuda.jit
def _gather(x, off, fillv, out):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < out.size:
        o = off[i]
        out[i] = x[o] if o >= 0 else fillv
        i += step


@cuda.jit
def _scatter(g, off, out):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < g.size:
        o = off[i]
        if o >= 0:
            cuda.atomic.add(out, o, g[i])  # repeated offsets accumulate, as np.add.at
        i += step


def gather(x: CudaArray, off: CudaArray, fill_value=0) -> CudaArray:
    out = empty(off.shape, x.dtype)
    if out.size:
        grid, block = launch_1d(out.size)
        _gather[grid, block](x.dev.reshape(max(x.size, 1)) if x.size else empty((1,), x.dtype).dev,
                                      off.dev.reshape(off.size), x.dtype.type(fill_value), out.dev.reshape(out.size))
    return out


def scatter_add_flat(g: CudaArray, off: CudaArray, shape, dtype) -> CudaArray:
    out = empty(shape, dtype)
    fill(out, 0)
    if g.size:
        if g.dtype != out.dtype:
            g = g.astype(out.dtype)
        grid, block = launch_1d(g.size)
        _scatter[grid, block](g.dev.reshape(g.size), off.dev.reshape(off.size), out.dev.reshape(out.size))
    return out


def getitem(x: CudaArray, index) -> CudaArray:
    if _has_array(index):
        if any(type(i) is CudaArray for i in _tuple(index)):
            raise _array.DeviceError("getitem: index arrays must be host (numpy) arrays on the cuda backend")
        return gather(x, _offsets(x.shape, index))
    return copy_view(basic_view(x, index))


def scatter_add(g: CudaArray, index, shape) -> CudaArray:
    shape = tuple(shape)
    if _has_array(index):
        return scatter_add_flat(g, _offsets(shape, index), shape, g.dtype)
    out = empty(shape, g.dtype)
    fill(out, 0)
    v = basic_view(out, index)  # basic slices never repeat an element: a plain strided store
    _store(v, g)
    return out


def _store(v: View, g: CudaArray) -> None:
    """out_view[...] = g: one kernel broadcasts ``g`` to the view's shape, casts it and stores through the strides."""
    launch("cast", [View.of(g)], v)


def concatenate(xs, axis: int, out_dtype) -> CudaArray:
    shape = list(xs[0].shape)
    axis = axis % len(shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    out = empty(tuple(shape), out_dtype)
    start = 0
    for x in xs:
        sl = [slice(None)] * len(shape)
        sl[axis] = slice(start, start + x.shape[axis])
        _store(basic_view(out, tuple(sl)), x)
        start += x.shape[axis]
    return out


def _im2col_table(x_shape, kernel, stride, padding):
    from minifw.ops.conv import _im2col_impl

    key = ("im2col", tuple(x_shape), tuple(kernel), tuple(stride), tuple(map(tuple, padding)))
    size = int(np.prod(x_shape, dtype=np.int64))
    return _upload_table(key, lambda: _im2col_impl(np.arange(size, dtype=np.int64).reshape(x_shape), kernel,
                                                   stride, padding, pad_value=-1))


def im2col(x: CudaArray, kernel, stride, padding, pad_value=0.0) -> CudaArray:
    return gather(x, _im2col_table(x.shape, kernel, stride, padding), pad_value)


def col2im(cols: CudaArray, x_shape, kernel, stride, padding) -> CudaArray:
    return scatter_add_flat(cols, _im2col_table(x_shape, kernel, stride, padding), tuple(x_shape), cols.dtype)


__all__ = ["getitem", "scatter_add", "concatenate", "im2col", "col2im"]
