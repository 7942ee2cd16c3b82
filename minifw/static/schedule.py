"""The schedule: topological levels.

A node's level is one more than the deepest of its inputs; nodes on one
level do not depend on each other, so they may run at the same time (numba
kernels release the GIL; numpy ufuncs and BLAS do too).  The executor runs
the levels in order, which is also a valid topological order, or each
level's steps on threads.
"""

from __future__ import annotations

from .ir import IRGraph, Node

SOURCES = ("input", "variable", "constant")


def levels(g: IRGraph) -> list[list[Node]]:
    """Compute nodes grouped by level (``fused_out`` reads ride with their kernel)."""
    level: dict[int, int] = {}
    out: list[list[Node]] = []
    for n in g.order:
        if n.op in SOURCES:
            level[n.id] = -1
            continue
        if n.op == "fused_out":
            level[n.id] = level[n.inputs[0].id]
            continue
        lv = 1 + max((level[i.id] for i in n.inputs), default=-1)
        level[n.id] = lv
        while len(out) <= lv:
            out.append([])
        out[lv].append(n)
    return out


def describe(g: IRGraph) -> str:
    return "\n".join(f"level {k}: " + ", ".join(n.name for n in lv) for k, lv in enumerate(levels(g)))
