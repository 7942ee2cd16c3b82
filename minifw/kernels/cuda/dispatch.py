"""The CUDA interpreter's table: primitive -> device implementation.

``run(prim, args, params)`` is what eager tensors (``Tensor._bind`` when the
data lives on the GPU), bare :class:`CudaArray` arithmetic (the reverse
sweep's array interpreter) and the static executor's CUDA path call.  Every
array operand must already be on the device: a host array is a clear
:class:`DeviceError` naming the op, never a hidden upload.  Python and numpy
scalars (and 0-d host arrays, as in PyTorch) are values, not data: they
travel as cached device constants.

Result dtypes follow numpy's rules (so CPU and CUDA give the same dtype):
the reference ``impl`` is applied to 1-element host stand-ins of the operands.
"""

from __future__ import annotations

import numpy as np

from minifw.ops.registry import Primitive, all_primitives

from . import elementwise as ew
from . import index as ix
from . import matmul as mm
from . import reduce as rd
from .array import CudaArray, DeviceError

_Scalar = (int, float, bool, np.generic)
_UFUNCS: dict | None = None


def prim_of_ufunc(ufunc):
    """The primitive whose reference implementation is ``ufunc`` (np.add -> add), or None."""
    global _UFUNCS
    if _UFUNCS is None:
        _UFUNCS = {p.impl: p for p in all_primitives() if isinstance(p.impl, np.ufunc)}
    return _UFUNCS.get(ufunc)


def _operand(prim, a):
    if type(a) is CudaArray:
        return a
    if hasattr(a, "_mf_priority") and type(getattr(a, "data", None)) is CudaArray:
        return a.data
    if isinstance(a, _Scalar):
        return a
    if isinstance(a, np.ndarray):
        if a.ndim == 0:
            return a[()]
        raise DeviceError(f"{prim.name}: expected all operands on the same device, got a cuda array and a cpu "
                          f"array of shape {a.shape}; move it with .to('cuda') (or the other with .cpu())")
    raise DeviceError(f"{prim.name}: cannot use a {type(a).__name__} with cuda arrays")


def _stand_in(a):
    return np.zeros((1,) * a.ndim, a.dtype) if type(a) is CudaArray else a


def _elementwise(prim, ops):
    arrays = [a for a in ops if type(a) is CudaArray]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    try:
        with np.errstate(all="ignore"):
            out_dtype = np.asarray(prim.impl(*[_stand_in(a) for a in ops])).dtype
    except (TypeError, ValueError) as e:
        raise TypeError(f"{prim.name}: {e}") from None
    strong = [a.dtype for a in arrays]
    views = []
    for a in ops:
        if type(a) is CudaArray:
            views.append(ew.View.of(a))
        else:  # numpy's weak scalars: the scalar takes the array operands' type when it fits its kind
            dt = np.result_type(*strong, a) if strong else np.result_type(a)
            views.append(ew.View.of(ew.constant(a, dt)))
    return ew.apply(prim, views, shape, out_dtype)


def _reduce(prim, x, axis, keepdims):
    if prim.name in ("argmax", "argmin"):
        return rd.argreduce(prim.name, x, tuple(axis), keepdims)
    out_dtype = np.asarray(prim.impl(np.zeros((1,) * x.ndim, x.dtype), axis=axis, keepdims=keepdims)).dtype
    return rd.reduce(prim.name, x, tuple(axis), keepdims, out_dtype)


def _reshape(x, shape):
    return x.reshape(tuple(shape))


def _transpose(x, axes):
    axes = tuple(axes) if axes else tuple(reversed(range(x.ndim)))
    v = ew.View.of(x)
    return ew.copy_view(ew.View(x, [x.shape[d] for d in axes], [v.strides[d] for d in axes], 0))


def _broadcast_to(x, shape):
    shape = tuple(shape)
    np.broadcast_shapes(x.shape, shape)  # numpy's error for shapes that do not fit
    return x if x.shape == shape else ew.copy_view(ew.View.of(x).broadcast(shape))


def _cast(x, dtype):
    return x.astype(dtype, copy=False)


def _matmul(a, b):
    return mm.matmul(a, b, np.result_type(a.dtype, b.dtype))


def _concatenate(*xs, axis):
    return ix.concatenate(xs, axis, np.result_type(*[x.dtype for x in xs]))


def _softmax(x, axis):
    return rd.softmax(x, axis, log=False)


def _log_softmax(x, axis):
    return rd.softmax(x, axis, log=True)


TABLE = {
    "matmul": _matmul,
    "reshape": _reshape,
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "cast": _cast,
    "concatenate": _concatenate,
    "getitem": ix.getitem,
    "scatter_add": ix.scatter_add,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "im2col": ix.im2col,
    "col2im": ix.col2im,
}


def run(prim: Primitive, args, params) -> CudaArray:
    """Run ``prim`` on device operands; returns a CudaArray."""
    ops = [_operand(prim, a) for a in args]
    if not any(type(a) is CudaArray for a in ops):
        raise DeviceError(f"{prim.name}: no cuda operand (the cuda backend was asked to run a host computation)")
    if prim.elementwise:
        if params:
            raise TypeError(f"{prim.name}: unexpected parameters {sorted(params)}")
        return _elementwise(prim, ops)
    if prim.kind == "reduce":
        return _reduce(prim, ops[0], **params)
    fn = TABLE.get(prim.name)
    if fn is None:
        raise NotImplementedError(f"{prim.name}: no CUDA implementation")
    if prim.nin != -1 and any(type(a) is not CudaArray for a in ops):
        ops = [a if type(a) is CudaArray else ew.constant(a, np.result_type(a)).reshape(()) for a in ops]
    return fn(*ops, **params)


def coverage() -> dict[str, bool]:
    """Primitive name -> has a CUDA implementation."""
    return {p.name: p.elementwise or p.kind == "reduce" or p.name in TABLE for p in all_primitives()}
