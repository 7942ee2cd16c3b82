"""numba loops for convolution and pooling on NCHW arrays (imported on first need: it loads numba).

Each loop reads and writes contiguous NCHW (or im2col's ``(N, OH, OW, C, kh, kw)``) arrays in
place, with the padding handled by bounds checks instead of a padded copy of the input.  They run
on one thread: at the sizes of a LeNet step a loop takes tens of microseconds, less than starting
a parallel region costs (see :mod:`minifw.kernels.threads`).

Chosen by shape: the general loops take the window size as a run-time value, and numba cannot
unroll their tiny inner loops (3 or 2 steps) -- measured 4-10x slower than loops written for one
shape.  So the two shapes almost every CNN uses have their own loops: a 3x3 window, stride 1,
padding 1 (``im2col_3x3``, ``col2im_3x3_nhwc``) and a 2x2 max pool with stride 2 and no padding
(``pool_argmax_2x2``).  :mod:`minifw.kernels.conv` picks them; results are identical.  Their
comparisons are written with ``&``/``|`` and conditional expressions, not ``if ... or ...``: that
compiles to selects instead of unpredictable branches (measured 5x on random data).

Padding cells never win a max-pool window here (they are skipped); a window made only of padding
cannot occur under PyTorch's rule ``padding <= kernel / 2`` (checked by ``max_pool``), and
:func:`pool_argmax` would mark one with index ``-1``.
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
def im2col_3x3(x, pad_value, out):
    """:func:`im2col` for a 3x3 window, stride 1, padding 1 (the output has the input's H and W)."""
    n_, c_, h, w = x.shape
    for n in range(n_):
        for c in range(c_):
            plane = x[n, c]
            for i in range(h):
                for j in range(w):
                    o = out[n, i, j, c]
                    for a in range(3):
                        r = i + a - 1
                        if r < 0 or r >= h:
                            o[a, 0] = pad_value
                            o[a, 1] = pad_value
                            o[a, 2] = pad_value
                        else:
                            o[a, 0] = plane[r, j - 1] if j >= 1 else pad_value
                            o[a, 1] = plane[r, j]
                            o[a, 2] = plane[r, j + 1] if j + 1 < w else pad_value


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
                            better = (best < 0) | ((not v <= top) & (top == top))
                            best = r * w + q if better else best
                            top = v if better else top
                    index[n, c, i, j] = best


@njit(inline="always")
def _take(best, top, k, v):
    """One step of a window's arg-max: position ``k`` with value ``v`` replaces (``best``, ``top``) if ``v`` is
    larger or a NaN -- "not v <= top" -- unless ``top`` is a NaN already ("top == top"): the first maximum
    (PyTorch's choice), the first NaN.  Selects, not branches."""
    better = (not v <= top) & (top == top)
    return (k if better else best), (v if better else top)


@njit(cache=True, nogil=True)
def pool_argmax_2x2(x, index):
    """:func:`pool_argmax` for 2x2 windows, stride 2, no padding (every window inside the image)."""
    n_, c_, h, w = x.shape
    oh, ow = index.shape[2], index.shape[3]
    for n in range(n_):
        for c in range(c_):
            plane = x[n, c]
            out = index[n, c]
            for i in range(oh):
                r = 2 * i
                for j in range(ow):
                    q = 2 * j
                    best, top = _take(r * w + q, plane[r, q], r * w + q + 1, plane[r, q + 1])
                    best, top = _take(best, top, (r + 1) * w + q, plane[r + 1, q])
                    out[i, j] = _take(best, top, (r + 1) * w + q + 1, plane[r + 1, q + 1])[0]


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


# --- channels-last: the same loops over (N, H, W, C) arrays --------------------------------------------------------
# A convolution's GEMM writes (N*OH*OW, O) rows: read as (N, OH, OW, O) that is channels-last, and
# :mod:`minifw.kernels.conv` hands it on as an NCHW-shaped view instead of copying it to NCHW.  These loops
# take such arrays transposed back to their memory order (C-contiguous (N, H, W, C)): the innermost loop runs
# along the channels, contiguous, so it vectorises.  Same results as the NCHW loops (same flat index r*W + q).
@njit(cache=True, nogil=True)
def im2col_3x3_nhwc(x, pad_value, out):
    """:func:`im2col_3x3` of a channels-last ``x`` (N, H, W, C) into taps-last columns ``out`` (N, H, W, 3, 3, C):
    each window tap is one contiguous run of C values, copied (or padded) whole.  Indexed element by element:
    slicing a row out per tap (``out[n, i, j, a, b]``) measured 2x slower."""
    n_, h, w, c_ = x.shape
    for n in range(n_):
        for i in range(h):
            for j in range(w):
                for a in range(3):
                    r = i + a - 1
                    for b in range(3):
                        q = j + b - 1
                        if 0 <= r < h and 0 <= q < w:
                            for c in range(c_):
                                out[n, i, j, a, b, c] = x[n, r, q, c]
                        else:
                            for c in range(c_):
                                out[n, i, j, a, b, c] = pad_value


@njit(cache=True, nogil=True)
def col2im_3x3_nhwc(cols, out):
    """:func:`col2im` for a 3x3 window, stride 1, padding 1, from taps-last columns ``cols`` (N, H, W, 3, 3, C)
    into a channels-last ``out`` (N, H, W, C), as a gather: each pixel's C values are the sum of the (up to 9)
    window taps that read it, contiguous runs of C values, written once (no scattered ``+=`` into ``out``)."""
    n_, h, w, c_ = out.shape
    for n in range(n_):
        for r in range(h):
            for q in range(w):
                for c in range(c_):  # the window centred on (r, q) has it in its middle
                    out[n, r, q, c] = cols[n, r, q, 1, 1, c]
                for a in range(3):
                    i = r + 1 - a  # the window at row i reads row r with its tap a
                    if i < 0 or i >= h:
                        continue
                    for b in range(3):
                        j = q + 1 - b
                        if (a == 1 and b == 1) or j < 0 or j >= w:
                            continue
                        for c in range(c_):
                            out[n, r, q, c] += cols[n, i, j, a, b, c]


@njit(cache=True, nogil=True)
def pool_argmax_2x2_nhwc(x, index):
    """:func:`pool_argmax_2x2` of a channels-last ``x`` (N, H, W, C) into a channels-last ``index`` (N, OH, OW, C)."""
    n_, h, w, c_ = x.shape
    oh, ow = index.shape[1], index.shape[2]
    for n in range(n_):
        for i in range(oh):
            r = 2 * i
            for j in range(ow):
                q = 2 * j
                p00, p01, p10, p11 = x[n, r, q], x[n, r, q + 1], x[n, r + 1, q], x[n, r + 1, q + 1]
                out = index[n, i, j]
                k00 = r * w + q
                for c in range(c_):
                    best, top = _take(k00, p00[c], k00 + 1, p01[c])
                    best, top = _take(best, top, k00 + w, p10[c])
                    out[c] = _take(best, top, k00 + w + 1, p11[c])[0]


@njit(cache=True, nogil=True)
def pool_gather_nhwc(x, index, out):
    """:func:`pool_gather` on channels-last ``x`` (N, H, W, C), ``index`` and ``out`` (N, OH, OW, C)."""
    n_, h, w, c_ = x.shape
    oh, ow = index.shape[1], index.shape[2]
    planes = x.reshape(n_, h * w, c_)  # flat position k = r*W + q is row k here: no division
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_):
                    out[n, i, j, c] = planes[n, index[n, i, j, c], c]


@njit(cache=True, nogil=True)
def pool_scatter_nhwc(g, index, out):
    """:func:`pool_scatter` into a channels-last ``out`` (N, H, W, C) (zeroed here), ``g`` and ``index``
    (N, OH, OW, C) (``g`` in any layout)."""
    n_, h, w, c_ = out.shape
    oh, ow = index.shape[1], index.shape[2]
    planes = out.reshape(n_, h * w, c_)
    planes[...] = 0
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_):
                    planes[n, index[n, i, j, c], c] += g[n, i, j, c]
