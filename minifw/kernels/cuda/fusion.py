"""The static compiler's fused elementwise groups on CUDA.

Input: the :class:`minifw.kernels.fusion.FusedKernel` the CPU runs (its spec,
collapsed shapes, output dtypes).  The kernel comes from the one CUDA loop
generator (:mod:`.loops`), like every eager elementwise op: one pass over the
data for a whole forward+backward elementwise chain.  Its per-block partial
sums are reduced by :func:`minifw.kernels.cuda.reduce.reduce_rows`.
"""

from __future__ import annotations

import numpy as np

from minifw.kernels.fusion import FusedKernel

from . import reduce as rd
from .array import CudaArray, DeviceError, empty
from .elementwise import View, c_strides, copy_view, launch_1d
from .loops import compile_kernel
from .runtime import block_size


def runner(fk: FusedKernel):
    """``f(*device inputs) -> tuple of CudaArrays`` for a fused group (the CPU runner's contract)."""
    kernel, _ = compile_kernel(fk.spec, block_size())
    dims = tuple(int(x) for x in fk.collapsed)
    in_strides = [c_strides(s) for s in fk.input_shapes]  # an input spans its collapsed shape: a flat read
    out_dtypes, out_shapes, red_shapes = fk.out_dtypes, fk.out_shapes, fk.red_shapes
    reds = fk.spec.reductions
    count = float(max(fk.size, 1))
    grid, blk = launch_1d(max(fk.size, 1))
    in_dtypes = [np.dtype(dt) for dt, _ in fk.spec.inputs]
    out_at = (c_strides(dims), 0)  # outputs are contiguous over the collapsed shape

    def run(*inputs):
        args = []
        for x, st, dt in zip(inputs, in_strides, in_dtypes):
            if type(x) is not CudaArray:
                raise DeviceError(f"fused kernel {fk.key[:8]}: an input is a {type(x).__name__}, not a cuda array")
            if x.dtype != dt:
                x = x.astype(dt)
            args += [x.dev.reshape(max(x.size, 1)), st, 0]
        outs = [empty(s, dt) for s, dt in zip(out_shapes, out_dtypes)]
        for o in outs:
            args += [o.dev.reshape(max(o.size, 1)), *out_at]
        parts = [empty((grid,), np.float64) for _ in reds]
        if fk.size:
            kernel[grid, blk](dims, *args, *[p.dev for p in parts])
        results = list(outs)
        for (_j, op, dt), p, s in zip(reds, parts, red_shapes):
            total = rd.reduce_rows(p, 1, grid, "sum", np.float64)
            if op == "mean":
                total = total * (1.0 / count)
            total = total.reshape(())
            results.append(copy_view(View.of(total).broadcast(s), np.dtype(dt)) if s else total.astype(dt))
        return tuple(results)

    return run
