"""Which array implementation runs each primitive on numpy arrays (eager, static, the sweep).

By default the numpy reference ``impl`` of every primitive.  For the
primitives where a numba kernel measured faster than numpy on large arrays
(:data:`KERNEL_WINS`), ``IMPL`` holds a small wrapper instead: arrays of at
least :data:`KERNEL_MIN_SIZE` elements of a listed dtype go to
:mod:`minifw.kernels.cpu`, everything else to numpy.  numba is imported the
first time a large array needs a kernel, never by ``import minifw``.

Why so few primitives: numpy's own float32 transcendentals are SIMD code
(AVX-512 here) and beat the float64-internal v* functions 2-5x; its
single-pass ufuncs and reductions are memory-bound like a kernel.  A single
kernel wins where numpy needs several passes (sigmoid: 6-9x at 2^22).  The
kernels' real payoff is fusion (one pass for a whole expression), which the
static compiler does.  Primitives not listed keep the bare numpy function: no
added per-call cost (a wrapper costs ~0.1 us per call, which W5's 4x4 adds
cannot afford).
Set ``KERNEL_MIN_SIZE`` (or env ``MINIFW_KERNEL_MIN_SIZE`` before import) to
move the switch; a huge value turns the kernels off.
"""

from __future__ import annotations

import os
import time

import numpy as np

from minifw import anomaly, profiler
from minifw.kernels import conv, heap, sums, threads
from minifw.registry import all_primitives, subscribe

heap.apply()  # eager steps' temporaries: no page faults from malloc trimming its heap (see kernels/heap.py)

KERNEL_MIN_SIZE: int = int(os.environ.get("MINIFW_KERNEL_MIN_SIZE", 1 << 20))
"""Elements from which listed primitives run on numba kernels (below ~2^18 thread start-up and compile-cache
lookups eat the gain; binary ops break even near 2^20)."""

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
KERNEL_WINS: dict[str, tuple] = {
    "sigmoid": (_F32, _F64),  # 6-9x at 2^22 (numpy's stable sigmoid takes ~6 passes)
}
"""Primitive name -> dtypes whose large arrays the kernels run by default (chosen by measurement)."""

BINARY_WINS: dict[str, tuple] = {name: (_F32, _F64) for name in ("add", "sub", "mul", "div")}
"""Opt-in (``install({**KERNEL_WINS, **BINARY_WINS, "tanh": (_F64,)})``): measured 0.9-2.7x at 2^20-2^22 on
2 busy cores (0.3-1.5x for float64 tanh) -- not a reliable win, and the wrapper costs ~0.1 us on every small
add/mul (the W5 hot path), so they stay on bare numpy by default."""


class _Impls(dict):
    def __missing__(self, prim):
        self[prim] = prim.impl
        return prim.impl


IMPL: dict = _Impls()
_nd = np.ndarray
_cpu = None


def _kernels():
    """minifw.kernels.cpu, imported (with numba) on first need."""
    global _cpu
    if _cpu is None:
        from minifw.kernels import cpu

        _cpu = cpu
    return _cpu


def _unary(prim, impl, dtypes):
    def run(x):
        # type() check first: Python scalars and lists go straight to numpy
        if type(x) is _nd and x.size >= KERNEL_MIN_SIZE and x.dtype in dtypes:
            return _kernels().map(prim, x)
        return impl(x)

    run.__doc__ = f"{prim.name}: numba kernel for large {', '.join(map(str, dtypes))} arrays, else numpy"
    return run


def _binary(prim, impl, dtypes):
    def run(a, b):
        if (type(a) is _nd and a.size >= KERNEL_MIN_SIZE and a.dtype in dtypes) or (
            type(b) is _nd and b.size >= KERNEL_MIN_SIZE and b.dtype in dtypes
        ):
            return _kernels().zip(prim, a, b)  # it sends mixed dtypes back to numpy itself
        return impl(a, b)

    run.__doc__ = f"{prim.name}: numba kernel for large {', '.join(map(str, dtypes))} arrays, else numpy"
    return run


_WINS: list[dict] = [KERNEL_WINS]
_LOOPS: list[bool] = [True]


def _choose(p) -> None:
    dtypes = _WINS[0].get(p.name)
    if dtypes and p.kernel_scalar is not None and p.nin in (1, 2):
        IMPL[p] = (_unary if p.nin == 1 else _binary)(p, p.impl, tuple(dtypes))
    elif _LOOPS[0] and p.name in conv.IMPLS:  # conv and pooling: loops at every size (see kernels/conv.py)
        IMPL[p] = conv.IMPLS[p.name](p.impl)
    elif _LOOPS[0] and p.name == "matmul":  # small GEMMs on one BLAS thread (see kernels/threads.py)
        IMPL[p] = threads.matmul
    elif _LOOPS[0] and p.name == "sum":  # a bias gradient's sum over outer rows, folded (see kernels/sums.py)
        IMPL[p] = sums.add_reduce
    else:
        IMPL[p] = p.impl


def install(wins: dict[str, tuple] | None = None, conv_loops: bool | None = None) -> None:
    """(Re)build ``IMPL``: numpy everywhere, kernel wrappers for ``wins`` (default :data:`KERNEL_WINS`),
    and the conv/pool loops of :mod:`minifw.kernels.conv`, the small-GEMM thread rule of
    :func:`minifw.kernels.threads.matmul` and the folded sums of :mod:`minifw.kernels.sums` unless
    ``conv_loops`` is False.

    ``install({})`` puts plain numpy back for every primitive (``conv_loops`` defaults to ``wins != {}``).
    The dict object is updated in place, so modules that hold a reference to ``IMPL`` see it;
    primitives registered later follow the same choice.
    """
    _WINS[0] = KERNEL_WINS if wins is None else wins
    _LOOPS[0] = bool(wins is None or wins) if conv_loops is None else conv_loops
    for p in all_primitives():
        _choose(p)


subscribe(_choose, lambda p: IMPL.pop(p, None))  # every primitive, registered now or later


def run(prim, args, params):
    """The array interpreter: ``prim`` on numpy arrays (or numbers), returning arrays.

    The reverse sweep runs vjp rules under it when no graph of the gradient
    is wanted (see :func:`minifw.functional.interpreter`)."""
    return IMPL[prim](*args, **params)


# --- anomaly mode (minifw.anomaly): while it is on, every entry checks its result -------------------------------
_PLAIN: dict = {}


def _checked(prim, impl):
    name = prim.name

    def run(*args, **params):
        out = impl(*args, **params)
        anomaly.check(name, args, out)
        anomaly.remember_site(out)
        return out

    run.__doc__ = f"{name}, checked for NaN and inf (anomaly mode)"
    return run


def _anomaly(on: bool) -> None:
    if on:
        for p in all_primitives():
            if p not in _PLAIN and p.impl is not None:
                _PLAIN[p] = IMPL[p]
                IMPL[p] = _checked(p, _PLAIN[p])
    else:
        for p, f in _PLAIN.items():
            IMPL[p] = f
        _PLAIN.clear()


anomaly.subscribe(_anomaly)


# --- minifw.profiler: while a profile is open, every entry times itself -----------------------------------------
_UNTIMED: dict = {}


def _timed(prim, impl):
    name, clock, record = prim.name, time.perf_counter, profiler.record_op

    def run(*args, **params):
        t0 = clock()
        out = impl(*args, **params)
        record(name, clock() - t0)
        return out

    run.__doc__ = f"{name}, timed (a profile is open)"
    return run


def _profile(on: bool) -> None:
    if on:
        for p in all_primitives():
            if p not in _UNTIMED and p.impl is not None:
                _UNTIMED[p] = IMPL[p]
                IMPL[p] = _timed(p, _UNTIMED[p])
    else:
        for p, f in _UNTIMED.items():
            IMPL[p] = f
        _UNTIMED.clear()


profiler.subscribe(_profile)
