"""CPU kernels for whole arrays: ``map``, ``zip``, ``reduce``, ``matmul`` (numba).

Each function takes numpy arrays and returns a numpy array equal to the
primitive's numpy reference (to rounding).  Work the kernels do not cover
(integer or mixed dtypes, empty arrays, inputs outside a scalar function's
accurate domain) goes to the reference, so callers never need to check.
Arrays of at least ``PARALLEL_MIN`` elements run the ``parallel=True`` loop,
smaller ones the serial loop.
"""

from __future__ import annotations

from builtins import zip as _zip  # this module defines its own map and zip
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from minifw.kernels import fusion
from minifw.kernels import matmul as _mm
from minifw.kernels import reductions as _red
from minifw.kernels.codegen import domain_of, group_of_one
from minifw.kernels.fusion import PARALLEL_MIN  # elements from which a kernel runs on all threads
from minifw.registry import Primitive

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_Scalar = (int, float, np.integer, np.floating)


# --- strided views -----------------------------------------------------------------
def _merge_dims(shape: tuple, strides_list: list[tuple]) -> tuple[tuple, list[tuple]]:
    """Drop size-1 dims and merge neighbours that are contiguous with each other in every operand."""
    dims = [(n, [s[i] for s in strides_list]) for i, n in enumerate(shape) if n != 1]
    merged: list = []
    for n, st in dims:
        if merged and all(s0 == s * n for s0, s in _zip(merged[-1][1], st, strict=True)):
            merged[-1] = (merged[-1][0] * n, st)
        else:
            merged.append((n, st))
    return tuple(n for n, _ in merged), [tuple(st[k] for _, st in merged) for k in range(len(strides_list))]


def _views_3d(arrays: list[np.ndarray], shape: tuple):
    """Yield lists of 3-D views of same-shape arrays (dims merged; beyond 3 dims, one list per leading index)."""
    mshape, mstrides = _merge_dims(shape, [a.strides for a in arrays])
    pad = max(0, 3 - len(mshape))
    mshape = (1,) * pad + mshape
    views = [as_strided(a, mshape, (0,) * pad + s) for a, s in _zip(arrays, mstrides, strict=True)]
    lead = len(mshape) - 3
    if lead == 0:
        yield views
        return
    for idx in np.ndindex(*mshape[:lead]):
        yield [v[idx] for v in views]


# --- map and zip: a fused group of one ------------------------------------------------
_KERNELS: dict[tuple, Callable] = {}
_FLAT = ((True,),)  # the pattern of one contiguous 1-D input


def kernel_source(prim: Primitive) -> str:
    """The source eager ``map``/``zip`` compile for ``prim`` on contiguous float64 arrays."""
    return fusion.generate_source(group_of_one(prim.name, ("float64",) * prim.nin, "float64", _FLAT * prim.nin))


def _kernel(prim: Primitive, dtypes: tuple, out_dtype, patterns: tuple, parallel: bool) -> Callable:
    """The compiled group-of-one kernel (cached per process; numba caches it on disk)."""
    key = (prim.name, dtypes, out_dtype, patterns, parallel)
    fn = _KERNELS.get(key)
    if fn is None:
        mod = fusion.load_module(fusion.generate_source(group_of_one(prim.name, dtypes, out_dtype, patterns)))
        fn = _KERNELS[key] = mod.kernel_par if parallel else mod.kernel_ser
    return fn


def _apply(prim: Primitive, operands: list, out: np.ndarray) -> np.ndarray:
    """out = prim(*operands): arrays broadcastable to ``out`` or numpy scalars of the arrays' dtype."""
    shape, par = out.shape, out.size >= PARALLEL_MIN
    dtypes = tuple(v.dtype for v in operands)  # dtype objects: hashing them is cheap, naming them is not
    if all(v.shape == shape and v.flags.c_contiguous for v in operands if isinstance(v, np.ndarray)):
        # the common case: one loop along memory (LLVM vectorises it); a scalar is loaded once
        arrays = [isinstance(v, np.ndarray) for v in operands]
        flat = [v.reshape(-1) if a else np.full(1, v) for v, a in _zip(operands, arrays)]
        pats = tuple((a,) for a in arrays)
        _kernel(prim, dtypes, out.dtype, pats, par)(out.size, *flat, out.reshape(-1))
        return out
    # any strides (views, broadcast operands and scalars with stride 0), dims merged into 3
    kernel = _kernel(prim, dtypes, out.dtype, ((True,) * 3,) * len(operands), par)
    for views in _views_3d([np.broadcast_to(v, shape) for v in operands] + [out], shape):
        kernel(*views[-1].shape, *views)
    return out


def map(prim: Primitive, x: np.ndarray) -> np.ndarray:  # noqa: A001  (minitorch's name)
    """Apply unary elementwise ``prim`` to every element of ``x`` (any strides)."""
    x = np.asarray(x)
    if x.dtype not in _FLOATS or x.size == 0:
        return prim.impl(x)
    limit = domain_of(prim)
    if limit is not None and _red.count_outside(x.reshape(-1), limit):
        return prim.impl(x)  # outside the scalar function's accurate range: the reference is right there
    out = np.empty(x.shape, dtype=np.bool_ if prim.kind == "compare" else x.dtype)
    if x.flags.c_contiguous:  # the usual case, with _apply's flat path inlined: small arrays are per-call bound
        _kernel(prim, (x.dtype,), out.dtype, _FLAT, x.size >= PARALLEL_MIN)(x.size, x.reshape(-1), out.reshape(-1))
        return out
    return _apply(prim, [x], out)


def _operand(v, dtype):
    """An array operand, or a scalar converted to ``dtype`` (numpy 2 treats Python scalars as weak)."""
    if isinstance(v, _Scalar) and not isinstance(v, bool):
        return dtype.type(v), True
    v = np.asarray(v)
    if v.ndim == 0:
        return dtype.type(v[()]), True
    return v, False


def zip(prim: Primitive, a, b) -> np.ndarray:  # noqa: A001
    """Apply binary elementwise ``prim`` with numpy broadcasting (arrays or scalars, any strides)."""
    try:
        dtype = np.result_type(a, b)
    except TypeError:
        return prim.impl(a, b)
    if dtype not in _FLOATS or any(getattr(v, "dtype", dtype) != dtype for v in (a, b)):
        return prim.impl(a, b)  # ints, bools, mixed precisions: numpy's promotion rules, numpy's loops
    (a, a_scalar), (b, b_scalar) = _operand(a, dtype), _operand(b, dtype)
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    if (a_scalar and b_scalar) or 0 in shape:
        return prim.impl(a, b)
    return _apply(prim, [a, b], np.empty(shape, dtype=np.bool_ if prim.kind == "compare" else dtype))


# --- reductions ----------------------------------------------------------------------
REDUCTIONS = ("sum", "mean", "max", "min")


def reduce(name: str, x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """``sum``/``mean``/``max``/``min`` of ``x`` over ``axis`` (None, int or tuple), like numpy's."""
    x = np.asarray(x)
    nd = x.ndim
    axes = tuple(range(nd)) if axis is None else tuple(sorted({a % nd for a in np.atleast_1d(axis).tolist()}))
    ref = getattr(np, name)
    if name not in REDUCTIONS or x.dtype not in _FLOATS or x.size == 0 or not axes:
        return np.asarray(ref(x, axis=axes, keepdims=keepdims))
    kept = [i for i in range(nd) if i not in axes]
    out_shape = tuple(x.shape[i] for i in kept)
    n_red = int(np.prod([x.shape[i] for i in axes]))
    # Bring the reduced axes together with as few moves as possible: (A, R, B) with R reduced.
    lo, hi = axes[0], axes[-1]
    if hi - lo + 1 == len(axes) and x.flags.c_contiguous:
        x3 = x.reshape(int(np.prod(x.shape[:lo])), n_red, int(np.prod(x.shape[hi + 1:])))
    else:
        x3 = np.ascontiguousarray(np.transpose(x, kept + list(axes))).reshape(-1, n_red, 1)
    n_a, _, n_b = x3.shape
    if name in ("sum", "mean"):
        acc = np.empty((n_a, n_b), dtype=np.float64)
        if n_b == 1:
            _red.sum_lastaxis(x3.reshape(n_a, n_red), acc.reshape(n_a))
        else:
            _red.sum_midaxis(x3, acc)
        if name == "mean":
            acc *= 1.0 / n_red
        res = acc.astype(x.dtype)
    else:
        res = np.empty((n_a, n_b), dtype=x.dtype)
        if n_b == 1:
            _red.ext_lastaxis(x3.reshape(n_a, n_red), res.reshape(n_a), name == "max")
        else:
            _red.ext_midaxis(x3, res, name == "max")
    res = res.reshape(out_shape)
    if keepdims:
        res = res.reshape(tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return res


# --- matmul ---------------------------------------------------------------------------------
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with numpy's semantics (1-D operands promoted, batch dims broadcast), blocked numba kernel."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0 or a.dtype not in _FLOATS or a.dtype != b.dtype:
        return np.matmul(a, b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        return np.matmul(a, b)  # numpy's error message names the mismatch
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    n, k, m = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    p = int(np.prod(batch))
    a3 = np.ascontiguousarray(np.broadcast_to(a2, batch + (n, k))).reshape(p, n, k)
    b3 = np.ascontiguousarray(np.broadcast_to(b2, batch + (k, m))).reshape(p, k, m)
    out = np.zeros((p, n, m), dtype=a.dtype)
    if p and n and m and k:
        _mm.matmul_batched(a3, b3, out)
    out = out.reshape(batch + (n, m))
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out
