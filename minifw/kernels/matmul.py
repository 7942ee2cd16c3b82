"""A blocked matmul kernel (batched): the numba counterpart of the CUDA tiled kernel.

numpy's OpenBLAS sgemm stays the eager default (it is several times faster on
this CPU); this kernel exists so the backends have the same menu and the
benchmarks can show the gap.  Blocking: tiles of A rows x K x columns sized for
L1/L2, the innermost loop along contiguous columns of B and C so it vectorises.
"""

from __future__ import annotations

import numpy as np

from minifw.kernels.threads import load_numba

numba = load_numba()
prange = numba.prange

_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})
TILE_I, TILE_K, TILE_J = 64, 256, 512


@numba.njit(parallel=True, **_OPTS)
def matmul_batched(a, b, out):
    """out[p] = a[p] @ b[p] for C-contiguous (P, N, K), (P, K, M), (P, N, M); parallel over (p, row tile)."""
    n_p, n, kk = a.shape
    m = b.shape[2]
    n_ti = (n + TILE_I - 1) // TILE_I
    for t in prange(n_p * n_ti):
        p = t // n_ti
        i0 = (t - p * n_ti) * TILE_I
        i1 = min(n, i0 + TILE_I)
        acc = np.zeros((i1 - i0, min(m, TILE_J)), dtype=out.dtype)
        for j0 in range(0, m, TILE_J):
            j1 = min(m, j0 + TILE_J)
            acc[:, :] = 0
            for k0 in range(0, kk, TILE_K):
                k1 = min(kk, k0 + TILE_K)
                for i in range(i0, i1):
                    ai = a[p, i]
                    ci = acc[i - i0]
                    for k in range(k0, k1):
                        aik = ai[k]
                        bk = b[p, k]
                        for j in range(j0, j1):
                            ci[j - j0] += aik * bk[j]
            for i in range(i0, i1):
                for j in range(j0, j1):
                    out[p, i, j] = acc[i - i0, j - j0]
