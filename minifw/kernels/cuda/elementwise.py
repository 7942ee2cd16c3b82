"""Elementwise CUDA operations: every primitive with broadcasting, copies, casts, stores into views.

Each is a group of one for the CUDA loop generator (:mod:`.loops`): the
primitive (or ``cast``: copies, casts, transposes, ``broadcast_to``, stores
into a strided view) applied to operand views.  An operand is a :class:`View`:
a flat device array plus (strides, offset) in elements over the output's
shape; a broadcast dimension has stride 0, so a Python scalar is a cached
1-element constant with all strides 0 (filled by a kernel: no transfer).
Two forms per group, compiled once each:

* flat: output and operands contiguous (or constants): one index, no
  division -- the common, memory-bound case;
* strided: any strides and offsets; dims that are contiguous in every
  operand are merged first, so the coordinates cost as few divisions as possible.
"""

from __future__ import annotations

import functools

import numpy as np

from minifw.kernels.codegen import group_of_one

from .array import CudaArray, empty
from .loops import compile_kernel
from .runtime import block_size, load_cuda, max_blocks

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module

def launch_1d(n: int) -> tuple[int, int]:
    b = block_size()
    return max(1, min(-(-n // b), max_blocks())), b


# --- operands as (flat array, strides, offset) -------------------------------------------------------
_CONSTS: dict[tuple, CudaArray] = {}


def constant(value, dtype) -> CudaArray:
    """A 1-element device array holding ``value`` (filled by a kernel; cached per value and dtype)."""
    dtype = np.dtype(dtype)
    key = (dtype.str, repr(dtype.type(value).item()))
    c = _CONSTS.get(key)
    if c is None:
        if len(_CONSTS) > 4096:
            _CONSTS.clear()
        c = empty((1,), dtype)
        fill(c, value)
        _CONSTS[key] = c
    return c


def c_strides(shape) -> tuple:
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc if n != 1 else 0)
        acc *= n
    return tuple(reversed(st))


class View:
    """A strided view of a device array in elements: what a kernel operand is."""

    __slots__ = ("base", "shape", "strides", "offset")

    def __init__(self, base: CudaArray, shape, strides, offset=0):
        self.base, self.shape, self.strides, self.offset = base, tuple(shape), tuple(strides), int(offset)

    @classmethod
    def of(cls, x: CudaArray) -> "View":
        return cls(x, x.shape, c_strides(x.shape), 0)

    def broadcast(self, shape) -> "View":
        shape = tuple(shape)
        pad = len(shape) - len(self.shape)
        st = (0,) * pad + tuple(0 if n == 1 else s for n, s in zip(self.shape, self.strides))
        return View(self.base, shape, st, self.offset)

    def permuted(self, axes) -> "View":
        """The view with its dims in the order ``axes`` (a transpose: no copy)."""
        return View(self.base, [self.shape[d] for d in axes], [self.strides[d] for d in axes], self.offset)

    @property
    def contiguous(self) -> bool:
        return self.offset == 0 and self.strides == c_strides(self.shape) and self.base.size == _prod(self.shape)

    @property
    def constant(self) -> bool:
        """One element read everywhere (a scalar operand)."""
        return self.base.size == 1 and self.offset == 0

    def flat(self):
        """The base as the 1-D device array kernels index."""
        return self.base.dev.reshape(max(self.base.size, 1))


def _prod(shape) -> int:
    p = 1
    for n in shape:
        p *= int(n)
    return p


def _merge(shape, strides_list):
    """Drop size-1 dims and merge neighbours contiguous in every operand (at least one dim)."""
    dims = [(n, [s[i] for s in strides_list]) for i, n in enumerate(shape) if n != 1]
    merged: list = []
    for n, st in dims:
        if merged and all(s0 == s * n for s0, s in zip(merged[-1][1], st)):
            merged[-1] = (merged[-1][0] * n, st)
        else:
            merged.append((n, st))
    merged = merged or [(1, [0] * len(strides_list))]
    return tuple(n for n, _ in merged), [tuple(st[k] for _, st in merged) for k in range(len(strides_list))]


@functools.cache
def _group_kernel(name: str, dtypes: tuple, out_dtype, patterns: tuple):
    """The kernel of a group of one (compiled once per primitive, dtypes and broadcast patterns)."""
    return compile_kernel(group_of_one(name, dtypes, out_dtype, patterns), block_size())[0]


def launch(name: str, views: list, out: View) -> View:
    """``out = name(*views)`` elementwise (``name`` a primitive or "cast"), operands broadcast to ``out``."""
    n = _prod(out.shape)
    if n == 0:
        return out
    vs = [v.broadcast(out.shape) for v in views]
    if out.contiguous and all(v.contiguous or v.constant for v in vs):
        shape, strides, out_strides = (n,), [(0,) if v.constant else (1,) for v in vs], (1,)
    else:
        shape, strides = _merge(out.shape, [v.strides for v in vs] + [out.strides])
        out_strides = strides.pop()
    pats = tuple(tuple(s != 0 for s in st) if v.constant else (True,) * len(shape) for v, st in zip(vs, strides))
    kernel = _group_kernel(name, tuple(v.base.dtype for v in vs), out.base.dtype, pats)
    args = []
    for v, st in zip(vs, strides):
        args += [v.flat(), st, v.offset]
    grid, block = launch_1d(n)
    kernel[grid, block](shape, *args, out.flat(), out_strides, out.offset)
    return out


# --- the operations ---------------------------------------------------------------------------------
def apply(prim, views: list, out_shape, out_dtype) -> CudaArray:
    return launch(prim.name, views, View.of(empty(out_shape, out_dtype))).base


def copy_view(v: View, dtype=None) -> CudaArray:
    """Materialise a strided view (transpose, broadcast, slice) as a contiguous array, optionally casting."""
    return launch("cast", [v], View.of(empty(v.shape, dtype or v.base.dtype))).base


def cast(x: CudaArray, dtype) -> CudaArray:
    return copy_view(View.of(x), dtype)  # the cast to bool is numpy's x != 0


def assign(dst: CudaArray, src: CudaArray) -> None:
    """dst[...] = src, broadcasting and casting on the device."""
    launch("cast", [View.of(src)], View.of(dst))


@cuda.jit
def _fill(out, value):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < out.size:
        out[i] = value
        i += step


def fill(out: CudaArray, value) -> CudaArray:
    """Set every element to ``value`` (the value travels as a kernel argument, not as a transfer)."""
    n = out.size
    if n:
        v = np.asarray(value).astype(out.dtype).item() if not isinstance(value, np.generic) else value
        v = out.dtype.type(v)
        if out.dtype.kind == "b":
            v = bool(v)
        grid, block = launch_1d(n)
        _fill[grid, block](out.dev.reshape(n), v)
    return out
