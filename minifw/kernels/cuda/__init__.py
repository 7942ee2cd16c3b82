"""The CUDA backend: device arrays and numba CUDA kernels for every primitive.

Importing this package is light (no numba): :class:`CudaArray`,
:data:`transfers` and :func:`available` are here; the kernels load numba's
CUDA target on first use through :func:`runtime.load_cuda`, which explains
why when there is no GPU (and how to use numba's simulator:
``NUMBA_ENABLE_CUDASIM=1`` before numba is imported).

Modules:
    runtime      loading numba.cuda, launch sizes, the doctor's report
    array        CudaArray, the transfer counter, uploads
    scalars      the registry's scalar functions as device functions
    loops        the CUDA loop generator over the shared lowering (kernels.codegen)
    elementwise  map / zip / where with broadcasting, copies and casts: groups of one
    tree         the shared-memory fold that ends every block-level reduction
    reduce       tree reductions, argmax/argmin, softmax / log_softmax
    matmul       tiled, register-blocked matmul (batched)
    index        getitem / scatter_add / concatenate / im2col / col2im
    pool         max pooling: the window arg-max, the gather and scatter-add through it
    dispatch     primitive -> device implementation; the CUDA backend
    fusion       running the static compiler's fused groups
"""

from __future__ import annotations

from .array import CudaArray, DeviceError, reset_transfers, to_device, transfers


def available() -> bool:
    """Can the ``cuda`` device be used (a GPU, or the simulator)?"""
    from .runtime import CudaUnavailable, load_cuda

    try:
        load_cuda()
    except CudaUnavailable:
        return False
    return True


def to_host(x: CudaArray):
    """Download a device array to numpy (counted in ``transfers``)."""
    return x.copy_to_host()


__all__ = ["CudaArray", "DeviceError", "available", "reset_transfers", "to_device", "to_host", "transfers"]
