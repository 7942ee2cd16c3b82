"""The CUDA interpreter's table (primitive -> device implementation) and the CUDA backend.

``run(prim, args, params)`` is what eager tensors (through the device
router, :mod:`minifw.kernels.devices`), bare :class:`CudaArray` arithmetic
(the reverse sweep's array interpreter) and compiled graphs (through
:data:`BACKEND`) call.  Every
array operand must already be on the device: a host array is a clear
:class:`DeviceError` naming the op, never a hidden upload.  Python and numpy
scalars (and 0-d host arrays, as in PyTorch) are values, not data: they
travel as cached device constants.

Result dtypes follow numpy's rules (so CPU and CUDA give the same dtype):
the reference ``impl`` is applied to 1-element host stand-ins of the operands.
"""

from __future__ import annotations

import numpy as np

from minifw.ops.conv import ConvArrays, conv2d_arrays, conv2d_input_grad_arrays, conv2d_weight_grad_arrays
from minifw.registry import Primitive, all_primitives

from . import elementwise as ew
from . import fusion as cfusion
from . import index as ix
from . import matmul as mm
from . import pool
from . import reduce as rd
from .array import CudaArray, DeviceError, empty, full, to_device

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


def _elementwise(prim, ops, out=None):
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
    if out is not None and out.shape == shape and out.dtype == out_dtype:  # a planned buffer that fits
        return ew.launch(prim.name, views, ew.View.of(out)).base
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


_CONV_ARRAYS = ConvArrays(ix.im2col, ix.col2im, _matmul, _transpose)


def _conv(arrays_fn):
    def run(*args, **params):
        return arrays_fn(*args, **params, a=_CONV_ARRAYS)

    return run


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
    "pool_argmax": pool.pool_argmax,
    "pool_gather": pool.pool_gather,
    "pool_scatter": pool.pool_scatter,
    "conv2d": _conv(conv2d_arrays),
    "conv2d_input_grad": _conv(conv2d_input_grad_arrays),
    "conv2d_weight_grad": _conv(conv2d_weight_grad_arrays),
}


def run(prim: Primitive, args, params, out: CudaArray | None = None) -> CudaArray:
    """Run ``prim`` on device operands; returns a CudaArray (``out`` itself when an elementwise result fits it)."""
    ops = [_operand(prim, a) for a in args]
    if not any(type(a) is CudaArray for a in ops):
        raise DeviceError(f"{prim.name}: no cuda operand (the cuda backend was asked to run a host computation)")
    if prim.elementwise:
        if params:
            raise TypeError(f"{prim.name}: unexpected parameters {sorted(params)}")
        return _elementwise(prim, ops, out)
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


class _Impls(dict):
    def __missing__(self, prim):
        f = self[prim] = lambda *a, **params: run(prim, a, params)
        return f


class _Feed:
    name = "feed"


class CudaBackend:
    """Device arrays: this table, CUDA fused kernels, variables moved to the GPU on first use.

    Elementwise steps write into planned buffers; the other tables and the
    fused runners allocate their results.  Variables are uploaded the first
    time a run needs them and stay (``var.value`` becomes a :class:`CudaArray`,
    counted in ``transfers``), so a training loop's updates never leave the GPU.
    """

    name = "cuda"
    threads = False  # one stream: launches queue already, threads would only contend
    fused_writes = False
    impls = _Impls()

    def step(self, prim, params, out):
        return lambda *a: run(prim, a, params, out)

    def fused(self, kernel, outs, parallel):
        return cfusion.runner(kernel)

    def writes_into(self, prim, params) -> bool:
        return prim.elementwise

    def in_place(self, prim) -> bool:
        return prim.elementwise

    def empty(self, n, dtype):
        return empty((n,), dtype)

    def view(self, buffer, n, shape):
        return CudaArray(buffer.dev[:n].reshape(shape))

    def adopts(self, a) -> bool:
        return type(a) is CudaArray

    def feed(self, x):
        return x if type(x) is CudaArray else _operand(_Feed, x)

    def variable(self, sym):
        v = sym.value
        if type(v) is not CudaArray:
            v = sym.value = to_device(v)
        return v

    def constant(self, value, dtype):
        return to_device(np.asarray(value, dtype=dtype)) if isinstance(value, np.ndarray) and value.ndim else value

    def own(self, x, shape, dtype):
        return x.copy() if type(x) is CudaArray else full(shape, x, dtype)


BACKEND = CudaBackend()
