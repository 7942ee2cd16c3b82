"""Elementwise CUDA kernels: ``map`` (1 input), ``zip`` (2), ``zip3`` (``where``), with broadcasting.

Every operand is a flat device array plus (strides, offset) in elements over
the output's shape, padded to :data:`ND` dims; a broadcast dimension has
stride 0, so a Python scalar is a cached 1-element constant with all strides
0 (filled by a kernel: no transfer).  Two launch forms per arity:

* ``flat``: output and operands contiguous (an operand may be a scalar,
  ``step`` 0): one index, no division -- the common, memory-bound case;
* ``strided``: any strides and offset (broadcasting, transposes, slices):
  the linear output index is split into coordinates.

Each form is a grid-stride loop over the output, built by closure around the
primitive's device function (as minitorch's ``cuda_ops``) and compiled once
per primitive.  Copies, casts, transposes and ``broadcast_to`` are ``map``
with the identity function.
"""

from __future__ import annotations

import numpy as np

from .array import CudaArray, empty
from .runtime import block_size, load_cuda, max_blocks
from .scalars import device_function, device_identity

ND = 6  # the most dims after merging (im2col's output is 6-D)

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module

_KERNELS: dict[tuple, object] = {}


def launch_1d(n: int) -> tuple[int, int]:
    b = block_size()
    return max(1, min(-(-n // b), max_blocks())), b


# --- kernel factories ------------------------------------------------------------------------------
def _make(nin: int, f):
    if nin == 1:
        @cuda.jit
        def flat(a, sa, out):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                out[i] = f(a[i * sa])
                i += step

        @cuda.jit
        def strided(a, sa, oa, out, shape):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                r = i
                pa = oa
                for d in range(ND - 1, -1, -1):
                    k = r % shape[d]
                    r = r // shape[d]
                    pa += k * sa[d]
                out[i] = f(a[pa])
                i += step
    elif nin == 2:
        @cuda.jit
        def flat(a, sa, b, sb, out):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                out[i] = f(a[i * sa], b[i * sb])
                i += step

        @cuda.jit
        def strided(a, sa, oa, b, sb, ob, out, shape):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                r = i
                pa = oa
                pb = ob
                for d in range(ND - 1, -1, -1):
                    k = r % shape[d]
                    r = r // shape[d]
                    pa += k * sa[d]
                    pb += k * sb[d]
                out[i] = f(a[pa], b[pb])
                i += step
    else:
        @cuda.jit
        def flat(a, sa, b, sb, c, sc, out):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                out[i] = f(a[i * sa], b[i * sb], c[i * sc])
                i += step

        @cuda.jit
        def strided(a, sa, oa, b, sb, ob, c, sc, oc, out, shape):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                r = i
                pa = oa
                pb = ob
                pc = oc
                for d in range(ND - 1, -1, -1):
                    k = r % shape[d]
                    r = r // shape[d]
                    pa += k * sa[d]
                    pb += k * sb[d]
                    pc += k * sc[d]
                out[i] = f(a[pa], b[pb], c[pc])
                i += step
    return flat, strided


def kernels_for(key: str, nin: int, fn_getter):
    k = _KERNELS.get(key)
    if k is None:
        k = _make(nin, fn_getter())
        _KERNELS[key] = k
    return k


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

    @property
    def contiguous(self) -> bool:
        return self.offset == 0 and self.strides == c_strides(self.shape) and self.base.size == _prod(self.shape)


def _prod(shape) -> int:
    p = 1
    for n in shape:
        p *= int(n)
    return p


def _merge(shape, strides_list):
    """Drop size-1 dims and merge neighbours contiguous in every operand; pad to ND dims."""
    dims = [(n, [s[i] for s in strides_list]) for i, n in enumerate(shape) if n != 1]
    merged: list = []
    for n, st in dims:
        if merged and all(s0 == s * n for s0, s in zip(merged[-1][1], st)):
            merged[-1] = (merged[-1][0] * n, st)
        else:
            merged.append((n, st))
    if len(merged) > ND:
        raise ValueError(f"cuda elementwise kernels take at most {ND} non-mergeable dims, got shape {shape}")
    pad = ND - len(merged)
    mshape = (1,) * pad + tuple(n for n, _ in merged)
    mstrides = [(0,) * pad + tuple(st[k] for _, st in merged) for k in range(len(strides_list))]
    return mshape, mstrides


def launch(key: str, nin: int, fn_getter, views: list, out: CudaArray) -> CudaArray:
    """Run the elementwise kernel ``key`` on operand views broadcast to ``out``'s shape."""
    n = out.size
    if n == 0:
        return out
    flat, strided = kernels_for(key, nin, fn_getter)
    shape = out.shape
    vs = [v.broadcast(shape) for v in views]
    grid, block = launch_1d(n)
    oflat = out.dev.reshape(n)
    simple = []
    for v in vs:
        if v.offset == 0 and v.strides == c_strides(shape) and v.base.size == n:
            simple.append((v.base.dev.reshape(n), 1))
        elif v.base.size == 1 and v.offset == 0:
            simple.append((v.base.dev.reshape(1), 0))
        else:
            simple = None
            break
    if simple is not None:
        args = [x for pair in simple for x in pair]
        flat[grid, block](*args, oflat)
        return out
    mshape, mstrides = _merge(shape, [v.strides for v in vs])
    args = []
    for v, st in zip(vs, mstrides):
        args += [v.base.dev.reshape(v.base.size), st, v.offset]
    strided[grid, block](*args, oflat, mshape)
    return out


# --- the operations ---------------------------------------------------------------------------------
def apply(prim, views: list, out_shape, out_dtype) -> CudaArray:
    out = empty(out_shape, out_dtype)
    return launch(prim.name, prim.nin, lambda: device_function(prim), views, out)


def copy_view(v: View, dtype=None) -> CudaArray:
    """Materialise a strided view (transpose, broadcast, slice) as a contiguous array, optionally casting."""
    out = empty(v.shape, dtype or v.base.dtype)
    return launch("__copy__", 1, device_identity, [v], out)


def cast(x: CudaArray, dtype) -> CudaArray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":  # numpy's bool cast is x != 0
        from minifw.ops.registry import get

        return apply(get("ne"), [View.of(x), View.of(constant(0, x.dtype))], x.shape, np.bool_)
    return copy_view(View.of(x), dtype)


def assign(dst: CudaArray, src: CudaArray) -> None:
    """dst[...] = src, broadcasting and casting on the device."""
    launch("__copy__", 1, device_identity, [View.of(src)], dst)


def _fill_kernel():
    k = _KERNELS.get("__fill__")
    if k is None:

        @cuda.jit
        def k(out, value):
            i = cuda.grid(1)
            step = cuda.gridsize(1)
            while i < out.size:
                out[i] = value
                i += step

        _KERNELS["__fill__"] = k
    return k


def fill(out: CudaArray, value) -> CudaArray:
    """Set every element to ``value`` (the value travels as a kernel argument, not as a transfer)."""
    n = out.size
    if n:
        v = np.asarray(value).astype(out.dtype).item() if not isinstance(value, np.generic) else value
        v = out.dtype.type(v)
        if out.dtype.kind == "b":
            v = bool(v)
        grid, block = launch_1d(n)
        _fill_kernel()[grid, block](out.dev.reshape(n), v)
    return out
