"""Specialise a graph with free (``None``) dimensions to the fed shapes.

The graph is replayed node by node with concrete placeholder shapes into a
private scratch graph: primitives are re-bound (their shape rules run again,
now with real sizes) and deferred ``gradient`` nodes are expanded by the
symbolic sweep.  Variables and constants are shared, so state is never
copied.  A graph without free dimensions is returned unchanged.
"""

from __future__ import annotations

from typing import Sequence

from .graph import _BUILD_INTO, FREE, Graph, Symbol, ancestors, make_node


def _resolve_params(node: Symbol, inputs: Sequence[Symbol]) -> dict:
    params = node.params
    shape = params.get("shape")
    if shape is None or not any(_free(d) for d in shape):
        return params
    from minifw.functional import _resolve_shape, _size

    if node.op == "reshape":  # the free stand-in becomes -1: the only unknown
        fixed = tuple(-1 if _free(d) else d for d in shape)
        return dict(params, shape=_resolve_shape(fixed, _size(inputs[0].shape)))
    src = (1,) * (len(shape) - len(inputs[0].shape)) + tuple(inputs[0].shape)
    return dict(params, shape=tuple(s if _free(d) else d for d, s in zip(shape, src)))


def _free(d) -> bool:
    """A free dimension in a shape parameter: None (as written) or the stand-in."""
    return d is None or bool(d and d % FREE == 0)


def needs_specialising(roots: Sequence[Symbol]) -> bool:
    return any(n.free or n.op == "gradient" for n in ancestors(roots))


def specialize(roots: Sequence[Symbol], shapes: dict[int, tuple]) -> dict[int, Symbol]:
    """Map id(symbol) -> concrete symbol for every ancestor of ``roots``.

    ``shapes`` gives, per id(placeholder), the fed shape.
    """
    from .gradients import _sweep

    memo: dict[int, Symbol] = {}
    scratch = Graph("specialised")
    grads: dict[int, list] = {}
    _BUILD_INTO.append(scratch)
    try:
        for n in ancestors(roots):
            ins = [memo[id(a)] for a in n.inputs]
            changed = any(a is not b for a, b in zip(ins, n.inputs))
            if n.op == "placeholder":
                new = n
                if n.free:
                    new = scratch._add(Symbol("placeholder", shape=shapes[id(n)], dtype=n.dtype), n.name)
            elif n.op in ("variable", "constant"):
                new = n
            elif n.op == "gradient":
                p = n.params
                k = id(p["key"])
                if k not in grads:
                    ny = p["n_ys"]
                    ys = ins[:ny]
                    it = iter(ins[ny:ny + sum(p["seeded"])])
                    seeds = [next(it) if s else None for s in p["seeded"]]
                    xs = ins[ny + sum(p["seeded"]):]
                    grads[k] = _sweep(ys, xs, seeds, ancestors(ys + [s for s in seeds if s is not None]))
                new = grads[k][p["index"]]
                if new is None:
                    from minifw import functional as F

                    new = F.zeros_like(ins[len(ins) - len(grads[k]) + p["index"]])
            elif not changed and not n.free:
                new = n
            elif n.op in ("assign", "group"):
                new = scratch._add(Symbol(n.op, ins, n.params, ins[0].shape if n.op == "assign" else (), n.dtype),
                                   n.name)
            else:
                new = make_node(n.prim, ins, _resolve_params(n, ins), n.name)
            memo[id(n)] = new
    finally:
        _BUILD_INTO.pop()
    return memo
