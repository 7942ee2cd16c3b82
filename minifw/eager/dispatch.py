"""Which array implementation the eager interpreter runs for each primitive.

By default the numpy reference ``impl`` of every primitive.  The kernel layer
(:mod:`minifw.kernels`) replaces elementwise and reduction entries with
wrappers that send large arrays to numba kernels once it is loaded; small
arrays stay on numpy, whose per-call cost (~0.3 µs) beats any kernel launch.
"""

from __future__ import annotations

from minifw.ops.registry import all_primitives


class _Impls(dict):
    def __missing__(self, prim):
        self[prim] = prim.impl
        return prim.impl


IMPL: dict = _Impls()
for _p in all_primitives():
    IMPL[_p] = _p.impl
