"""Common-subexpression elimination: two nodes with the same operation,
inputs and parameters compute the same value; keep the first.

Small constants are merged by value too, so ``x * 2.0`` written twice
becomes one node.
"""

from __future__ import annotations

import numpy as np

from ..ir import IRGraph, Node, rewrite

_SMALL = 64


def _freeze(v):
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (tuple, list)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, np.dtype):
        return ("dtype", v.str)
    return (type(v).__name__, v)


def key_of(n: Node):
    if n.op == "constant":
        if np.size(n.value) > _SMALL:
            return None
        return ("constant", n.weak, n.dtype.str, n.shape, _freeze(np.asarray(n.value)))
    if n.prim is None:
        return None  # inputs, variables, fused kernels: identity matters
    return (n.op, tuple(i.id for i in n.inputs), _freeze(n.params))


def cse(g: IRGraph) -> IRGraph:
    seen: dict = {}

    def merge(n: Node, ins: list[Node]):
        probe = n if all(a is b for a, b in zip(ins, n.inputs)) else n.copy_with(ins)
        k = key_of(probe)
        if k is None:
            return probe
        return seen.setdefault(k, probe)

    return rewrite(g, merge)
