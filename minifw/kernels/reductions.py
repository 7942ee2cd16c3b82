"""Reduction kernels: sum, max, min over the middle axis of a C-contiguous (A, R, B) array.

Any reduction over a set of axes becomes this shape after the caller moves the
reduced axes together (:func:`minifw.kernels.cpu.reduce`).  Two loop orders:
``B == 1`` (reduced axes last) keeps one accumulator per output and runs along
memory; ``B > 1`` sweeps whole rows of length B, vectorised across outputs.
Sums accumulate in float64 (float32 inputs too): more accurate than numpy's
float32 pairwise sum and still vectorised.  Max/min propagate NaN like numpy.
"""

from __future__ import annotations

import numpy as np

from minifw.kernels.threads import load_numba

numba = load_numba()
prange = numba.prange

_SUM_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
_EXT_OPTS = dict(cache=True, nogil=True, error_model="numpy")
_BLOCK = 4096  # partial sums per block of this many elements, added up afterwards: error ~ log2(n/_BLOCK)


@numba.njit(inline="always")
def _tile(t, n_tiles, size, width):
    """Work item t of a (rows x tiles) split of rows of ``size`` into tiles of ``width``: (row, lo, hi)."""
    a = t // n_tiles
    lo = (t - a * n_tiles) * width
    return a, lo, min(size, lo + width)


@numba.njit(**_SUM_OPTS)
def _sum_run(x, start, stop):
    s = 0.0
    for i in range(start, stop):
        s += x[i]
    return s


@numba.njit(parallel=True, **_SUM_OPTS)
def sum_lastaxis(x, out):
    """out[a] = sum over r of x[a, r] (x: (A, R) C-contiguous); parallel over rows and blocks."""
    n_rows, n = x.shape
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    partial = np.empty((n_rows, max(n_blocks, 1)))
    for t in prange(n_rows * n_blocks):
        a, lo, hi = _tile(t, n_blocks, n, _BLOCK)
        partial[a, lo // _BLOCK] = _sum_run(x[a], lo, hi)
    for a in range(n_rows):
        s = 0.0
        for b in range(n_blocks):
            s += partial[a, b]
        out[a] = s


@numba.njit(parallel=True, **_SUM_OPTS)
def sum_midaxis(x, out):
    """out[a, b] = sum over r of x[a, r, b]; parallel over (a, block of b), vectorised across b."""
    n_a, n_r, n_b = x.shape
    chunk = 512
    n_c = (n_b + chunk - 1) // chunk
    for t in prange(n_a * n_c):
        a, c0, c1 = _tile(t, n_c, n_b, chunk)
        acc = np.zeros(c1 - c0)
        for r in range(n_r):
            row = x[a, r]
            for b in range(c0, c1):
                acc[b - c0] += row[b]
        for b in range(c0, c1):
            out[a, b] = acc[b - c0]


@numba.njit(**_EXT_OPTS)
def _ext_run(x, start, stop, is_max):
    m = x[start]
    nan = False
    for i in range(start, stop):
        v = x[i]
        nan |= v != v
        if is_max:
            m = v if v > m else m
        else:
            m = v if v < m else m
    return np.nan if nan else m


@numba.njit(parallel=True, **_EXT_OPTS)
def ext_lastaxis(x, out, is_max):
    """out[a] = max (or min) over r of x[a, r]; NaN if any NaN; R >= 1."""
    n_rows, n = x.shape
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    partial = np.empty((n_rows, n_blocks), dtype=x.dtype)
    for t in prange(n_rows * n_blocks):
        a, lo, hi = _tile(t, n_blocks, n, _BLOCK)
        partial[a, lo // _BLOCK] = _ext_run(x[a], lo, hi, is_max)
    for a in range(n_rows):
        out[a] = _ext_run(partial[a], 0, n_blocks, is_max)


@numba.njit(parallel=True, **_EXT_OPTS)
def ext_midaxis(x, out, is_max):
    """out[a, b] = max (or min) over r of x[a, r, b]; NaN propagates; R >= 1."""
    n_a, n_r, n_b = x.shape
    chunk = 512
    n_c = (n_b + chunk - 1) // chunk
    for t in prange(n_a * n_c):
        a, c0, c1 = _tile(t, n_c, n_b, chunk)
        for b in range(c0, c1):
            out[a, b] = x[a, 0, b]
        for r in range(1, n_r):
            row = x[a, r]
            for b in range(c0, c1):
                v = row[b]
                m = out[a, b]
                if is_max:
                    out[a, b] = v if (v > m or v != v) else m
                else:
                    out[a, b] = v if (v < m or v != v) else m


@numba.njit(**_EXT_OPTS)
def count_outside(x, limit):
    """How many |x| > limit (the inputs where a scalar function would lose accuracy); vectorises."""
    n = 0
    for i in range(x.shape[0]):
        n += abs(x[i]) > limit
    return n
