"""Constant folding: a primitive whose inputs are all constants is computed
once, at compile time, and becomes a constant.  Collectives (an ``allreduce``
node) are never folded: their value comes from the other ranks, at run time.

Broadcasts are left alone: folding ``broadcast_to(1.0, (2**24,))`` would
turn a free view into a 64 MiB constant (the gradient seed of a sum is
exactly that), so a node is folded only when it is no larger than its
largest input (or tiny).
"""

from __future__ import annotations

import numpy as np

from ..ir import IRGraph, Node, rewrite

_TINY = 64  # elements: always worth folding


def constant_folding(g: IRGraph) -> IRGraph:
    def fold(n: Node, ins: list[Node]):
        if n.prim is None or not ins or any(i.op != "constant" for i in ins) or n.prim.extra.get("collective"):
            return None
        biggest = max(np.size(i.value) for i in ins)
        if n.size > _TINY and (n.op == "broadcast_to" or n.size > biggest):
            return None
        value = np.asarray(n.prim.impl(*[i.value for i in ins], **n.params)).astype(n.dtype, copy=False)
        return Node("constant", shape=n.shape, dtype=n.dtype, value=value, name=n.name)

    return rewrite(g, fold)
