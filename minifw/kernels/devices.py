"""The device router and the CPU backend.

A backend is what running primitives needs to know about the device the
arrays live on, so that one executor (eager tensors op by op, a compiled
graph with its schedule and memory plan) serves every device:

    impls[prim]                    runs ``prim`` on this device's arrays (the eager path)
    step(prim, params, out)        a compiled step, writing into the planned ``out`` when given
    fused(kernel, outs, parallel)  a fused group's runner, writing into ``outs`` where given
    writes_into(prim, params), in_place(prim), fused_writes: which results may go to planned
                                   buffers, and even to a same-shaped input that dies there
    empty(n, dtype), view(buffer, n, shape): a flat buffer, and a value's view of its front
    adopts(array)                  may an update overwrite this variable value in place?
    feed, variable, constant, own  fed values, variables (None: as they are) and constants on the
                                   device; a fetched copy the caller keeps
    threads                        may independent steps run on threads?

:func:`route` is the one place that picks a backend from the arrays: CUDA
(:data:`minifw.kernels.cuda.dispatch.BACKEND`) when any of them lives on
the GPU, else :data:`CPU`.
"""

from __future__ import annotations

import functools

import numpy as np

from minifw.kernels import dispatch, threads
from minifw.kernels.cuda.array import CudaArray  # the class only: no numba
from minifw.kernels.sums import add_reduce

_asarray = np.asarray
_REDUCERS = {"sum": add_reduce, "mean": np.mean, "max": np.max, "min": np.min}


def route(arrays, holders=()):
    """The backend for a computation on ``arrays`` and the ``.value`` of each of ``holders`` (a graph's
    variables): one type test per array on the CPU path, the per-call cost eager ops and compiled runs pay."""
    for a in arrays:
        if type(a) is CudaArray:
            return _cuda_backend()
    for h in holders:
        if type(h.value) is CudaArray:
            return _cuda_backend()
    return CPU


@functools.cache
def _cuda_backend():
    from minifw.kernels.cuda.dispatch import BACKEND  # numba's CUDA target loads on first need only

    return BACKEND


class CpuBackend:
    """numpy arrays: :data:`~minifw.kernels.dispatch.IMPL`, ufuncs writing ``out=``, numba CPU fused kernels."""

    name = "cpu"
    threads = True  # numba kernels, numpy ufuncs and BLAS release the GIL
    fused_writes = True
    impls = dispatch.IMPL
    feed = variable = None

    def step(self, prim, params, out):
        if out is not None:
            f = prim.impl
            if f is np.matmul and self.impls[prim] is threads.matmul:  # the BLAS thread policy applies here too
                return lambda a, b: threads.matmul(a, b, out=out)
            if isinstance(f, np.ufunc):
                return (lambda a: f(a, out=out)) if f.nin == 1 else (lambda a, b: f(a, b, out=out))
            if prim.name == "relu":
                return lambda a: np.maximum(a, 0, out=out)
            r, ax, kd = _REDUCERS[prim.name], params["axis"], params["keepdims"]
            return lambda a: r(a, axis=ax, keepdims=kd, out=out)  # add_reduce: numpy's sum, rows folded
        impl = self.impls[prim]
        if params:
            return lambda *a: _asarray(impl(*a, **params))
        return lambda *a: _asarray(impl(*a))

    def fused(self, kernel, outs, parallel):
        return kernel.runner(outs, parallel=parallel)

    def writes_into(self, prim, params) -> bool:
        return (isinstance(prim.impl, np.ufunc) or prim.name == "relu"
                or (prim.name in _REDUCERS and len(params["axis"]) > 0))

    def in_place(self, prim) -> bool:
        return (isinstance(prim.impl, np.ufunc) and prim.elementwise) or prim.name == "relu"

    def empty(self, n, dtype):
        return np.empty(n, dtype)

    def view(self, buffer, n, shape):
        return buffer[:n].reshape(shape)

    def adopts(self, a) -> bool:
        return isinstance(a, np.ndarray) and a.flags.c_contiguous

    def constant(self, value, dtype):
        return value

    def own(self, x, shape, dtype):
        return np.array(x, dtype=dtype)


CPU = CpuBackend()
