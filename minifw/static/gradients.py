"""Symbolic reverse mode: ``gradients(ys, xs)`` adds the backward graph.

There is no second rule table: the sweep calls each primitive's ``vjps``
with *symbols*, and because symbols outrank tensors in
:func:`minifw.functional.bind`, the rule's functional ops add nodes instead
of computing numbers.  The result is an ordinary graph, so gradients of
gradients work the same way.

When a graph has free (``None``) dimensions, some rules need the concrete
size (``mean``'s ``1/n``, ``sum_to``'s axes), so the gradient is recorded as
a ``gradient`` node and expanded when the graph is specialised to the fed
shapes (see :mod:`minifw.static.specialize`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from minifw.functional import is_transform_value
from minifw.sweep import reverse_sweep

from .graph import Symbol, _target, ancestors, as_symbol, constant


def _listify(x):
    if isinstance(x, Symbol):
        return [x], True
    return list(x), False


def gradients(ys, xs, grad_ys=None):
    """d(sum of ys, weighted by grad_ys) / d xs, as symbols (TF1's ``tf.gradients``).

    An ``x`` that ``ys`` does not depend on gets ``None``, as in TensorFlow.
    """
    ys, _ = _listify(ys)
    xs, single = _listify(xs)
    if grad_ys is None:
        grad_ys = [None] * len(ys)
    else:
        grad_ys = [grad_ys] if isinstance(grad_ys, Symbol) or not isinstance(grad_ys, (list, tuple)) else list(
            grad_ys)
    nodes = ancestors(ys + [g for g in grad_ys if isinstance(g, Symbol)])
    if any(n.free for n in nodes) or any(n.op == "gradient" for n in nodes):
        out = _deferred(ys, xs, grad_ys, nodes)
    else:
        out = _sweep(ys, xs, grad_ys, nodes)
    return out[0] if single else out


def _seed(y: Symbol, g):
    if g is None:
        return constant(np.ones(y.shape, dtype=y.dtype))
    # a batch of seeds (vmap over a pullback: jacrev) stays one; each vjp rule then stages the batched op
    s = g if is_transform_value(g) else as_symbol(g, y.graph)
    if s.shape != y.shape:
        from minifw.registry import ShapeError

        raise ShapeError(f"gradients: grad_ys has shape {tuple(s.shape)} but {y.name!r} has shape {y.shape}")
    return s


def _fit(ct, a: Symbol) -> Symbol:
    if isinstance(ct, Symbol) or is_transform_value(ct):  # a batch of cotangents: its rules staged the nodes
        return ct
    return constant(np.broadcast_to(np.asarray(ct, dtype=a.dtype), a.shape))


def _sweep(ys: Sequence[Symbol], xs: Sequence[Symbol], grad_ys, nodes: Sequence[Symbol]):
    xset = {id(x) for x in xs}
    # Only nodes on a path from some x need a cotangent.
    needs: set[int] = set()
    for n in nodes:
        if id(n) in xset or any(id(a) in needs for a in n.inputs):
            needs.add(id(n))
    cot: dict[int, Symbol] = {}
    for y, g in zip(ys, grad_ys):
        if id(y) not in needs:
            continue
        s = _seed(y, g)
        cot[id(y)] = s if id(y) not in cot else cot[id(y)] + s
    found = reverse_sweep([n for n in nodes if id(n) in needs], cot, xset, fit=_fit, live=needs)
    return [found.get(id(x), (None, None))[1] for x in xs]


def _deferred(ys, xs, grad_ys, nodes):
    """Gradient nodes to be expanded once the fed shapes are known."""
    deps = {id(n) for n in nodes}
    seeds = [as_symbol(g, ys[0].graph) if g is not None else None for g in grad_ys]
    key = object()  # the group of gradients computed together
    out = []
    for i, x in enumerate(xs):
        if id(x) not in deps:
            out.append(None)
            continue
        inputs = tuple(ys) + tuple(s for s in seeds if s is not None) + tuple(xs)
        sym = Symbol("gradient", inputs, {"index": i, "n_ys": len(ys), "seeded": tuple(s is not None for s in seeds),
                                          "key": key}, shape=x.shape, dtype=x.dtype)
        out.append(_target(ys[0])._add(sym, f"gradient_{x.name}"))
    return out
