"""Algebraic simplification: identities that remove work.

``x*1, 1*x, x/1, x+0, 0+x, x-0 -> x``; ``x-x -> 0``; ``-(-x) -> x``;
``reshape(reshape(x)) -> reshape(x)``; a reshape, broadcast or cast to what
``x`` already is -> ``x``; ``transpose(transpose(x))`` composes.  A rewrite
applies only when the result keeps the node's shape and dtype (``x*1`` that
broadcasts ``x`` is not just ``x``).  ``x*0 -> 0`` is *not* applied: it is
wrong when x is inf or nan.
"""

from __future__ import annotations

import numpy as np

from minifw.registry import get

from ..ir import IRGraph, Node, rewrite


def const_value(n: Node):
    """The scalar every element of ``n`` equals, when ``n`` is a constant or
    a broadcast/reshape of one; else None."""
    while n.op in ("broadcast_to", "reshape"):
        n = n.inputs[0]
    if n.op != "constant":
        return None
    v = np.asarray(n.value)
    if v.size == 0:
        return None
    first = v.reshape(-1)[0]
    if v.size > 1 and not np.all(v == first):
        return None
    return first.item()


def _same(n: Node, x: Node) -> bool:
    return x.shape == n.shape and x.dtype == n.dtype


def _zeros(n: Node) -> Node:
    zero = Node("constant", shape=(), dtype=n.dtype, value=np.zeros((), n.dtype))
    if not n.shape:
        return zero
    return Node("broadcast_to", [zero], {"shape": n.shape}, n.shape, n.dtype, prim=get("broadcast_to"), name=n.name)


def simplify_one(n: Node, ins: list[Node]):
    op = n.op
    if op in ("mul", "add", "sub", "div"):
        a, b = ins
        ca, cb = const_value(a), const_value(b)
        if op == "mul":
            if cb == 1 and _same(n, a):
                return a
            if ca == 1 and _same(n, b):
                return b
        elif op == "add":
            if cb == 0 and _same(n, a):
                return a
            if ca == 0 and _same(n, b):
                return b
        elif op == "sub":
            if cb == 0 and _same(n, a):
                return a
            if a is b and n.dtype.kind == "f":
                return _zeros(n)
        elif op == "div" and cb == 1 and _same(n, a):
            return a
    elif op == "neg" and ins[0].op == "neg":
        return ins[0].inputs[0]
    elif op in ("reshape", "broadcast_to", "cast"):
        x = ins[0]
        if _same(n, x):
            return x
        if op == "reshape" and x.op == "reshape":
            return Node("reshape", [x.inputs[0]], n.params, n.shape, n.dtype, prim=n.prim, name=n.name)
    elif op == "transpose" and ins[0].op == "transpose":
        inner = ins[0]
        axes = tuple(inner.params["axes"][a] for a in n.params["axes"])
        if axes == tuple(range(len(axes))):
            return inner.inputs[0]
        return Node("transpose", [inner.inputs[0]], {"axes": axes}, n.shape, n.dtype, prim=n.prim, name=n.name)
    return None


def algebraic_simplification(g: IRGraph) -> IRGraph:
    return rewrite(g, simplify_one)
