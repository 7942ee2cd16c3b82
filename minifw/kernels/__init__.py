"""numba kernels (the only package in minifw that imports numba).

Importing this package is light; numba loads with the first module that
needs it (``cpu``, ``jitable``, ``reductions``, ``matmul``), always through
:func:`minifw.kernels.threads.load_numba` so the threading policy is set first.

Modules:
    threads      the policy for numba's threads next to OpenBLAS's
    jitable      registers the registry's scalar functions with numba
    codegen      the lowering of an elementwise group's scalar body (shared with CUDA)
    fusion       the CPU loop generator: a group -> a cached numba module
    compile_worker  compiles fused kernels in a child process (the tiered compile's background)
    cpu          ``map``, ``zip`` (groups of one), ``reduce``, ``matmul`` on numpy arrays
    reductions   sum / max / min loops;  matmul: the blocked matmul loop

``from minifw.kernels import map, zip, reduce, matmul`` works (lazily).
"""

from __future__ import annotations

_CPU_NAMES = ("map", "zip", "reduce", "matmul")


def __getattr__(name: str):
    if name in _CPU_NAMES:
        from minifw.kernels import cpu

        return getattr(cpu, name)
    raise AttributeError(f"module 'minifw.kernels' has no attribute {name!r}")
