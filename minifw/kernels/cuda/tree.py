"""Combining one value per thread of a block: the shared-memory tree every CUDA reduction ends with.

Each thread writes its value to ``sh[t]``, then ``fold(sh, t)`` halves the
active range until ``sh[0]`` holds the block's result
(``sh[t] = op(sh[t], sh[t + h])``).  Every thread of the block must call it
(it synchronises the block); the block size must be a power of two, which
:func:`.runtime.block_size` guarantees.
"""

from __future__ import annotations

import functools

from .runtime import load_cuda

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module


@cuda.jit(device=True)
def add(a, b):
    return a + b


@cuda.jit(device=True)
def maximum(a, b):
    return a if (a >= b or a != a) else b  # NaN propagates, as np.maximum


@cuda.jit(device=True)
def minimum(a, b):
    return a if (a <= b or a != a) else b


COMBINE = {"sum": add, "max": maximum, "min": minimum}


@functools.cache
def fold(op: str, block: int):
    """The device function ``fold(sh, t)`` reducing ``sh[0:block]`` into ``sh[0]`` with ``op``."""
    comb = COMBINE[op]

    @cuda.jit(device=True)
    def f(sh, t):
        cuda.syncthreads()
        h = block // 2
        while h > 0:
            if t < h:
                sh[t] = comb(sh[t], sh[t + h])
            cuda.syncthreads()
            h //= 2

    return f
