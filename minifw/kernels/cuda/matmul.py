"""Matrix multiply on CUDA: shared-memory tiles with register blocking.

A block computes a ``BM x BN`` tile of C; each of its ``(BM/TM) * (BN/TN)``
threads computes ``TM x TN`` outputs held in registers (a local array the
compiler keeps in registers, since every loop over it has a constant trip
count).  Per step of ``BK`` along k the block stages an ``A`` tile
(stored transposed, ``As[k, m]``) and a ``B`` tile in shared memory; each
thread then reads ``TM`` values of A and ``TN`` of B per k and does
``TM * TN`` fused multiply-adds: ``TM*TN / (TM+TN)`` FMAs per shared load
instead of the textbook 16x16 tile's 1/2.  A thread's rows are ``ty + i*TY``
and columns ``tx + j*TX`` (strided, not blocked) so neighbouring threads
touch neighbouring shared-memory words (no bank conflicts) and neighbouring
columns of C (coalesced stores).

On a GPU: 128x128 tiles, BK=8, 8x8 per thread (256 threads).  Under the
simulator: 8x8 tiles, 2x2 per thread (16 threads).  Batches (``grid.z``)
with numpy's broadcasting of leading dims; a broadcast operand has batch
stride 0.
"""

from __future__ import annotations

import functools

import numpy as np

from .array import CudaArray, empty
from .elementwise import View, copy_view
from .runtime import load_cuda, simulated

cuda = load_cuda()  # a module global: numba's simulator swaps it for its fake module

def tile_config() -> tuple[int, int, int, int, int]:
    """(BM, BN, BK, TM, TN)."""
    return (8, 8, 4, 2, 2) if simulated() else (128, 128, 8, 8, 8)


@functools.cache  # per dtype and tile shape
def _kernel(dtype: np.dtype, cfg):
    BM, BN, BK, TM, TN = cfg
    TX, TY = BN // TN, BM // TM
    NT = TX * TY
    dt = dtype.type
    zero = dt(0)

    @cuda.jit(device=True)
    def tile_at(src, base, e, width, row0, col0, rows, cols):
        """Element e of a tile ``width`` wide at (row0, col0) of a rows x cols matrix: (r, c, value or 0)."""
        r = e // width
        c = e - r * width
        gr = row0 + r
        gc = col0 + c
        return r, c, src[base + gr * cols + gc] if (gr < rows and gc < cols) else zero

    @cuda.jit
    def mm(A, B, C, M, N, K, sa, sb):
        bz = cuda.blockIdx.z
        tid = cuda.threadIdx.x
        tx = tid % TX
        ty = tid // TX
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        As = cuda.shared.array((BK, BM), dt)
        Bs = cuda.shared.array((BK, BN), dt)
        acc = cuda.local.array((TM, TN), dt)
        ra = cuda.local.array(TM, dt)
        rb = cuda.local.array(TN, dt)
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = zero
        abase = bz * sa
        bbase = bz * sb
        for k0 in range(0, K, BK):
            for e in range(tid, BM * BK, NT):
                r, c, v = tile_at(A, abase, e, BK, row0, k0, M, K)
                As[c, r] = v  # stored transposed: a thread's TM values of A are one row of As
            for e in range(tid, BK * BN, NT):
                r, c, v = tile_at(B, bbase, e, BN, k0, col0, K, N)
                Bs[r, c] = v
            cuda.syncthreads()
            for kk in range(BK):
                for i in range(TM):
                    ra[i] = As[kk, ty + i * TY]
                for j in range(TN):
                    rb[j] = Bs[kk, tx + j * TX]
                for i in range(TM):
                    for j in range(TN):
                        acc[i, j] += ra[i] * rb[j]
            cuda.syncthreads()
        cbase = bz * M * N
        for i in range(TM):
            gr = row0 + ty + i * TY
            if gr < M:
                for j in range(TN):
                    gc = col0 + tx + j * TX
                    if gc < N:
                        C[cbase + gr * N + gc] = acc[i, j]

    return mm, NT


def _batch_operand(x: CudaArray, batch: tuple, mat: tuple) -> tuple[CudaArray, int]:
    """(array, batch stride): stride 0 when x has no batch dims; materialised when it broadcasts partly."""
    xb = x.shape[:-2]
    nb = int(np.prod(batch, dtype=np.int64))
    if int(np.prod(xb, dtype=np.int64)) == 1:
        return x, 0
    if xb == batch:
        return x, mat[0] * mat[1]
    full = copy_view(View.of(x).broadcast(batch + mat))
    return full, mat[0] * mat[1] if nb > 1 else 0


def matmul(a: CudaArray, b: CudaArray, out_dtype) -> CudaArray:
    """numpy's ``matmul`` semantics (1-D operands, broadcast batch dims) on the device."""
    dtype = np.dtype(out_dtype)
    if a.dtype != dtype:
        a = a.astype(dtype)
    if b.dtype != dtype:
        b = b.astype(dtype)
    a1, b1 = a.ndim == 1, b.ndim == 1
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions")
    if a1:
        a = a.reshape((1,) + a.shape)
    if b1:
        b = b.reshape(b.shape + (1,))
    M, K = a.shape[-2:]
    K2, N = b.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: size {K2} is different from {K}")
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    nb = int(np.prod(batch, dtype=np.int64))
    A, sa = _batch_operand(a, batch, (M, K))
    B, sb = _batch_operand(b, batch, (K, N))
    out = empty(batch + (M, N), dtype)
    if out.size:
        if K == 0:
            from .elementwise import fill

            fill(out, 0)
        else:
            cfg = tile_config()
            mm, nt = _kernel(dtype, cfg)
            grid = (-(-N // cfg[1]), -(-M // cfg[0]), nb)
            mm[grid, nt](A.dev.reshape(A.size), B.dev.reshape(B.size), out.dev.reshape(out.size), M, N, K, sa, sb)
    shape = out.shape
    if a1:
        shape = shape[:-2] + shape[-1:]
    if b1:
        shape = shape[:-1]
    return out.reshape(shape)
