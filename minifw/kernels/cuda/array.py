"""``CudaArray``: a device-resident array (a numba device array inside), and the transfer counter.

Importing this module does not import numba: eager tensors test
``type(data) is CudaArray`` to route an operation to the CUDA backend.

A CudaArray never turns into a numpy array by accident: ``np.asarray`` on it,
and every numpy function except the allocators (``zeros_like``...), raise
:class:`DeviceError`.  numpy's ufuncs (``np.add(a, b)``, what the eager fast
path calls) are routed to the CUDA kernels through ``__array_ufunc__``.  The
only ways to the host are explicit: :meth:`CudaArray.copy_to_host` (what
``Tensor.cpu()`` calls), ``item()`` and ``tolist()``; each is counted in
:data:`transfers`, as is every upload.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minifw import functional as F  # a lower layer (and numba-free): the operators bind through it
from minifw.errors import MinifwError
from minifw.registry import get as _prim


class DeviceError(MinifwError, TypeError):
    """A computation mixed devices, or would have copied a cuda array to the host behind your back."""


transfers: dict[str, int] = {"h2d": 0, "d2h": 0, "h2d_bytes": 0, "d2h_bytes": 0, "index_h2d": 0}
"""Explicit host<->device copies so far: uploads (h2d), downloads (d2h), their bytes, and uploads of
index tables (advanced indexing, im2col offsets; cached on the device after the first use)."""


def reset_transfers() -> dict:
    """Zero the counters; returns the values they had."""
    old = dict(transfers)
    for k in transfers:
        transfers[k] = 0
    return old


def _cuda():
    from .runtime import load_cuda

    return load_cuda()


def to_device(x: Any, dtype=None) -> "CudaArray":
    """Upload a host array (or nested list / number) to the GPU; counted in ``transfers``."""
    if type(x) is CudaArray:
        return x if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)
    arr = np.ascontiguousarray(np.asarray(x, dtype=dtype))
    cuda = _cuda()
    transfers["h2d"] += 1
    transfers["h2d_bytes"] += arr.nbytes
    return CudaArray(cuda.to_device(arr))


def empty(shape, dtype) -> "CudaArray":
    """An uninitialised device array (no transfer)."""
    return CudaArray(_cuda().device_array(tuple(int(s) for s in shape), dtype=np.dtype(dtype)))


def full(shape, value, dtype) -> "CudaArray":
    from . import elementwise

    out = empty(shape, dtype)
    elementwise.fill(out, value)
    return out


def _not_here(what: str) -> DeviceError:
    return DeviceError(f"{what} on a cuda array would copy it to the host inside a computation; "
                       f"move it explicitly with .cpu() (or minifw.kernels.cuda.to_host)")


class CudaArray:
    """A C-contiguous array in GPU memory (wraps a numba ``DeviceNDArray``)."""

    __slots__ = ("dev", "__weakref__")
    _mf_priority = 0.5  # below eager tensors (1): an op on a tensor and a CudaArray is a tensor op
    _mf_device = "cuda"
    __array_priority__ = 1000

    def __init__(self, dev):
        self.dev = dev

    # --- array facts (no transfer) ---------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.dev.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.dev.dtype)

    @property
    def ndim(self) -> int:
        return len(self.dev.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.dev.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    device = "cuda"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"CudaArray(shape={self.shape}, dtype={self.dtype})"

    # --- explicit transfers --------------------------------------------------------------
    def copy_to_host(self) -> np.ndarray:
        transfers["d2h"] += 1
        transfers["d2h_bytes"] += self.nbytes
        return self.dev.copy_to_host()

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs one element, this array has shape {self.shape}")
        return self.copy_to_host().reshape(()).item()

    def tolist(self):
        return self.copy_to_host().tolist()

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of an array with {self.size} elements is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    # --- refusing silent host copies -----------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise _not_here("numpy.asarray")

    _ALLOC = {"zeros_like": 0, "ones_like": 1, "empty_like": 0}

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name in self._ALLOC and args and args[0] is self:
            dt = kwargs.get("dtype") or self.dtype
            return full(self.shape, self._ALLOC[name], dt)
        if name == "full_like" and len(args) >= 2 and args[0] is self:
            return full(self.shape, args[1], kwargs.get("dtype") or self.dtype)
        if name == "shape":
            return self.shape
        if name == "ndim":
            return self.ndim
        if name == "size":
            return self.size
        if name == "result_type":
            return np.result_type(*[a.dtype if type(a) is CudaArray else a for a in args])
        raise _not_here(f"numpy.{name}")

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        from . import dispatch

        prim = dispatch.prim_of_ufunc(ufunc)
        if method != "__call__" or prim is None or kwargs:
            raise _not_here(f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method}"
                            f"{' with ' + ', '.join(kwargs) if kwargs else ''}")
        r = dispatch.run(prim, inputs, {})
        if out is not None:
            (o,) = out
            if type(o) is not CudaArray:
                raise DeviceError(f"numpy.{ufunc.__name__}: out= is a {type(o).__name__}, the operands are on cuda")
            o[...] = r
            return o
        return r

    # --- device-side copies and views ----------------------------------------------------
    def reshape(self, *shape) -> "CudaArray":
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        shape = tuple(int(s) for s in shape)
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
            shape = tuple(self.size // max(known, 1) if s == -1 else s for s in shape)
        if shape == self.shape:
            return self
        if int(np.prod(shape, dtype=np.int64)) != self.size:
            raise ValueError(f"cannot reshape a cuda array of shape {self.shape} into {shape}")
        if self.size == 0:
            return empty(shape, self.dtype)
        return CudaArray(self.dev.reshape(shape))

    def copy(self) -> "CudaArray":
        out = empty(self.shape, self.dtype)
        if self.size:
            out.dev.copy_to_device(self.dev)  # device to device
        return out

    def astype(self, dtype, copy: bool = True) -> "CudaArray":
        from . import elementwise

        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self.copy() if copy else self
        return elementwise.cast(self, dtype)

    def __setitem__(self, index, value) -> None:
        from . import elementwise

        if index is Ellipsis or (isinstance(index, slice) and index == slice(None)):
            if type(value) is CudaArray:
                if value.shape == self.shape and value.dtype == self.dtype:
                    if self.size:
                        self.dev.copy_to_device(value.dev)
                    return
                elementwise.assign(self, value)
                return
            if isinstance(value, (int, float, bool, np.generic)) or (isinstance(value, np.ndarray)
                                                                      and value.ndim == 0):
                elementwise.fill(self, value)
                return
            if isinstance(value, np.ndarray):  # an explicit upload (assigning host data)
                arr = np.ascontiguousarray(np.broadcast_to(value, self.shape), dtype=self.dtype)
                transfers["h2d"] += 1
                transfers["h2d_bytes"] += arr.nbytes
                self.dev.copy_to_device(arr)
                return
        raise DeviceError(f"cuda arrays support a[...] = value (whole-array assignment) only, got index {index!r}")

    def __getitem__(self, index):
        return F.getitem(self, index)

    # --- operators: the registry's primitives (through functional.bind) -------------------
    def _op(name, swap=False):  # noqa: N805
        def op(self, other):
            return F.bind(_prim(name), other, self) if swap else F.bind(_prim(name), self, other)

        op.__name__ = f"__{'r' if swap else ''}{name}__"
        return op

    __add__, __radd__ = _op("add"), _op("add", True)
    __sub__, __rsub__ = _op("sub"), _op("sub", True)
    __mul__, __rmul__ = _op("mul"), _op("mul", True)
    __truediv__, __rtruediv__ = _op("div"), _op("div", True)
    __pow__, __rpow__ = _op("pow"), _op("pow", True)
    __matmul__, __rmatmul__ = _op("matmul"), _op("matmul", True)
    __lt__, __le__, __gt__, __ge__ = _op("lt"), _op("le"), _op("gt"), _op("ge")
    __eq__, __ne__ = _op("eq"), _op("ne")
    __hash__ = object.__hash__
    del _op

    def __neg__(self):
        return F.bind(_prim("neg"), self)

    @classmethod
    def _mf_bind(cls, prim, args, params):
        from . import dispatch

        return dispatch.run(prim, args, params)
