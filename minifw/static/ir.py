"""The compiler's IR: a flat, topologically ordered list of nodes.

Symbols are the user's graph and are never changed; compiling lowers the
symbols a run needs into these nodes, and each pass maps one :class:`IRGraph`
to a new one.  ``str(graph)`` prints one line per node; ``nodes()``,
``edges()`` and each node's ``fusion_group`` are what a drawing needs.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

from minifw.sweep import toposort

_ids = itertools.count()


class Node:
    """One value of the compiled graph.

    ``op`` is a primitive name or one of ``input`` (placeholder), ``variable``,
    ``constant``, ``fused`` (a generated kernel; its values are read through
    ``fused_out`` nodes) and ``fused_out``.
    """

    __slots__ = ("id", "op", "prim", "inputs", "params", "shape", "dtype", "value", "weak", "name", "fusion_group",
                 "sym")

    def __init__(self, op, inputs=(), params=None, shape=(), dtype=None, prim=None, value=None, weak=False,
                 name=None, sym=None):
        self.id = next(_ids)
        self.op = op
        self.prim = prim
        self.inputs = list(inputs)
        self.params = params or {}
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.value = value
        self.weak = weak
        self.name = name or f"{op}{self.id}"
        self.fusion_group = None
        self.sym = sym

    def copy_with(self, inputs) -> "Node":
        n = Node(self.op, inputs, self.params, self.shape, self.dtype, self.prim, self.value, self.weak, self.name,
                 self.sym)
        n.fusion_group = self.fusion_group
        return n

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * (self.dtype.itemsize if self.dtype is not None else 0)

    @property
    def is_scalar_const(self) -> bool:
        return self.op == "constant" and (self.weak or np.size(self.value) == 1)

    def describe(self) -> str:
        ins = ", ".join(i.name for i in self.inputs)
        extra = ""
        if self.op == "constant":
            v = self.value
            extra = f" = {v!r}" if np.size(v) <= 4 else f" = <array {np.shape(v)}>"
        elif self.op == "fused":
            extra = f" [{self.params['kernel'].summary()}]"
        elif self.params and self.op != "fused_out":
            extra = " " + ", ".join(f"{k}={v}" for k, v in self.params.items())
        group = f"  group={self.fusion_group}" if self.fusion_group is not None else ""
        dt = "" if self.dtype is None else f" {self.dtype}"
        return f"{self.name} = {self.op}({ins}){extra} : {self.shape}{dt}{group}"

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class IRGraph:
    """``order``: nodes inputs-first; ``outputs``: fetched nodes; ``updates``:
    (variable node, new-value node) pairs; ``inputs``: placeholders in feed order."""

    def __init__(self, order: Sequence[Node], outputs: Sequence[Node], updates: Sequence[tuple[Node, Node]],
                 inputs: Sequence[Node]):
        self.order = list(order)
        self.outputs = list(outputs)
        self.updates = list(updates)
        self.inputs = list(inputs)

    def nodes(self) -> list[Node]:
        return list(self.order)

    def edges(self) -> list[tuple[Node, Node]]:
        return [(i, n) for n in self.order for i in n.inputs]

    def roots(self) -> list[Node]:
        return self.outputs + [v for _, v in self.updates] + [var for var, _ in self.updates] + self.inputs

    def consumers(self) -> dict[int, list[Node]]:
        out: dict[int, list[Node]] = {n.id: [] for n in self.order}
        for n in self.order:
            for i in n.inputs:
                out.setdefault(i.id, []).append(n)
        return out

    def count(self, op: str | None = None) -> int:
        return sum(1 for n in self.order if op is None or n.op == op)

    def compute_nodes(self) -> list[Node]:
        return [n for n in self.order if n.op not in ("input", "variable", "constant", "fused_out")]

    def __str__(self) -> str:
        lines = [n.describe() for n in self.order]
        lines.append("outputs: " + ", ".join(n.name for n in self.outputs))
        if self.updates:
            lines.append("updates: " + ", ".join(f"{v.name} <- {n.name}" for v, n in self.updates))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<IRGraph: {len(self.order)} nodes, {len(self.compute_nodes())} computing>"


def topo(roots: Sequence[Node]) -> list[Node]:
    """Nodes ``roots`` depend on, inputs first (the one :func:`~minifw.sweep.toposort`)."""
    return toposort(roots)


def rewrite(g: IRGraph, fn: Callable[[Node, list[Node]], Node | None]) -> IRGraph:
    """Map every node, inputs first: ``fn(node, new_inputs)`` returns a
    replacement (which may be an earlier node or a new one) or None to keep
    the node (re-pointed at its new inputs).  Nothing is deleted here: an
    unused node stays until dead-code elimination."""
    m: dict[int, Node] = {}
    order: list[Node] = []
    seen: set[int] = set()
    for n in g.order:
        ins = [m[i.id] for i in n.inputs]
        r = fn(n, ins)
        if r is None:
            r = n if all(a is b for a, b in zip(ins, n.inputs)) else n.copy_with(ins)
        if id(r) not in seen:
            order.extend(toposort([r], seen=seen))  # r and whatever of its inputs is new
        m[n.id] = r
    return IRGraph(order, [m[o.id] for o in g.outputs], [(m[v.id], m[x.id]) for v, x in g.updates],
                   [m[i.id] for i in g.inputs])
