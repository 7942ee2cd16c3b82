"""The registry's scalar functions compiled as CUDA device functions.

The same functions the CPU kernels compile (``prim.kernel_scalar``), except
where that is one of the vectorisable ``v*`` rewrites built on CPU bit tricks
(``_pow2i``/``_frexp``, LLVM bitcasts registered for numba's CPU target):
those exist because pip's llvmlite has no SIMD libm, which a GPU does not
need, so the CUDA kernels compile the plain reference ``prim.scalar``
(``math.exp`` becomes libdevice's ``expf``/``exp``).  Self-contained ``v*``
helpers (``vmaximum``: NaN-propagating max) are kept, so CPU and CUDA agree.
"""

from __future__ import annotations

import types

from minifw.ops import scalar_math
from minifw.registry import Primitive

from .runtime import load_cuda

_DEVICE: dict[str, object] = {}


def _calls_helpers(fn) -> bool:
    """Does ``fn`` call another function of scalar_math (the CPU-only helpers live there)?"""
    names = fn.__code__.co_names
    return any(isinstance(getattr(scalar_math, n, None), types.FunctionType) for n in names)


def cuda_scalar(prim: Primitive):
    """The plain Python scalar function the CUDA kernels compile for ``prim``."""
    k = prim.kernel_scalar
    if k is None:
        raise TypeError(f"primitive {prim.name!r} has no scalar function to compile for CUDA")
    if k is not prim.scalar and _calls_helpers(k):
        return prim.scalar
    return k


def device_function(prim: Primitive):
    """``cuda.jit(device=True)`` of the primitive's scalar function (one per process)."""
    f = _DEVICE.get(prim.name)
    if f is None:
        f = load_cuda().jit(device=True)(cuda_scalar(prim))
        _DEVICE[prim.name] = f
    return f
