"""Dead-code elimination: keep only what an output or an update needs."""

from __future__ import annotations

from ..ir import IRGraph, topo


def dce(g: IRGraph) -> IRGraph:
    live = {n.id for n in topo(g.roots())}
    return IRGraph([n for n in g.order if n.id in live], g.outputs, g.updates, g.inputs)
