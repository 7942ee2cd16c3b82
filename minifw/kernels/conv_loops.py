"""numba loops for convolution and pooling on NCHW arrays (imported on first need: it loads numba).

Each loop reads and writes contiguous NCHW (or im2col's ``(N, OH, OW, C, kh, kw)``) arrays in
place, with the padding handled by bounds checks instead of a padded copy of the input.  They run
on one thread: at the sizes of a LeNet step a loop takes tens of microseconds, less than starting
a parallel region costs (see :mod:`minifw.kernels.threads`).  Padding cells never win a max-pool
window here (they hold ``-inf``); a window made only of padding cannot occur under PyTorch's rule
``padding <= kernel / 2``, and :func:`pool_argmax` marks one with index ``-1``.
"""

from __future__ import annotations

from minifw.kernels.threads import load_numba

numba = load_numba()
njit = numba.njit


@njit(cache=True, nogil=True)
def im2col(x, kh, kw, sh, sw, pt, pl, pad_value, out):
    """``out[n, i, j, c, a, b] = x[n, c, i*sh + a - pt, j*sw + b - pl]`` (``pad_value`` outside)."""
    n_, c_, h, w = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_):
                    for a in range(kh):
                        r = i * sh + a - pt
                        inside = 0 <= r < h
                        for b in range(kw):
                            q = j * sw + b - pl
                            out[n, i, j, c, a, b] = x[n, c, r, q] if inside and 0 <= q < w else pad_value


@njit(cache=True, nogil=True)
def col2im(cols, kh, kw, sh, sw, pt, pl, out):
    """The adjoint of :func:`im2col`: ``out`` (zeroed here) gets every window added back."""
    n_, c_, h, w = out.shape
    oh, ow = cols.shape[1], cols.shape[2]
    out[...] = 0
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_):
                    for a in range(kh):
                        r = i * sh + a - pt
                        if r < 0 or r >= h:
                            continue
                        for b in range(kw):
                            q = j * sw + b - pl
                            if 0 <= q < w:
                                out[n, c, r, q] += cols[n, i, j, c, a, b]


@njit(cache=True, nogil=True)
def pool_argmax(x, kh, kw, sh, sw, pt, pl, index):
    """``index[n, c, i, j]``: the flat position ``r*W + q`` of the first maximum of each window."""
    n_, c_, h, w = x.shape
    oh, ow = index.shape[2], index.shape[3]
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    best = -1
                    top = x[n, c, 0, 0]
                    for a in range(kh):
                        r = i * sh + a - pt
                        if r < 0 or r >= h:
                            continue
                        for b in range(kw):
                            q = j * sw + b - pl
                            if q < 0 or q >= w:
                                continue
                            v = x[n, c, r, q]
                            # '>' keeps the first maximum (PyTorch's choice); a NaN wins (the first one)
                            if best < 0 or (v > top and top == top) or (v != v and top == top):
                                best, top = r * w + q, v
                    index[n, c, i, j] = best


@njit(cache=True, nogil=True)
def pool_gather(x, index, out):
    """``out[n, c, i, j] = x[n, c].flat[index[n, c, i, j]]``."""
    n_, c_, h, w = x.shape
    oh, ow = index.shape[2], index.shape[3]
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    k = index[n, c, i, j]
                    out[n, c, i, j] = x[n, c, k // w, k % w]


@njit(cache=True, nogil=True)
def pool_scatter(g, index, out):
    """The adjoint of :func:`pool_gather`: ``out`` (zeroed here) gets ``g`` added at ``index``."""
    n_, c_, h, w = out.shape
    oh, ow = index.shape[2], index.shape[3]
    out[...] = 0
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    k = index[n, c, i, j]
                    out[n, c, k // w, k % w] += g[n, c, i, j]
