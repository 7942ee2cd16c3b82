"""JAX-shaped transforms on symbols, so ``minifw.vjp``/``grad``/``value_and_grad``
work while tracing: ``minifw.jit(minifw.value_and_grad(f))`` puts forward and
backward in one graph.  :mod:`minifw.autodiff.reverse` delegates here when a
primal is a static symbol."""

from __future__ import annotations

from typing import Callable

import numpy as np

from minifw import pytree

from .gradients import gradients
from .graph import Symbol, as_symbol


def _graph_of(args):
    return next((a.graph for a in args if isinstance(a, Symbol)), None)


def _graph_of_tree(args):
    return _graph_of(pytree.leaves(list(args), _is_leaf))


def _is_leaf(x) -> bool:
    return not isinstance(x, (list, tuple, dict))


def vjp(fun: Callable, *primals, argnums=None):
    """Like :func:`minifw.vjp`, on symbols; a primal may be a list/tuple/dict of them."""
    n = len(primals)
    nums = tuple(range(n)) if argnums is None else ((argnums,) if isinstance(argnums, int) else tuple(argnums))
    nums = tuple(a % n for a in nums)
    graph = _graph_of_tree(primals)
    args = list(primals)
    trees = {}
    for i in nums:
        leaves, rebuild = pytree.flatten(primals[i], _is_leaf)
        leaves = [as_symbol(x, graph) for x in leaves]
        args[i] = rebuild(leaves)
        trees[i] = (leaves, rebuild)
    out = fun(*args)

    def vjp_fn(cotangent):
        wrt = [x for i in nums for x in trees[i][0]]
        gs = gradients([out], wrt, grad_ys=[cotangent]) if isinstance(out, Symbol) else [None] * len(wrt)
        gs = [g if g is not None else 0.0 * x for g, x in zip(gs, wrt)]
        result, k = [], 0
        for i in nums:
            leaves, rebuild = trees[i]
            result.append(rebuild(gs[k:k + len(leaves)]))
            k += len(leaves)
        return tuple(result)

    return out, vjp_fn


def value_and_grad(fun: Callable, argnums=0) -> Callable:
    def wrapped(*args):
        single = isinstance(argnums, int)
        out, fn = vjp(fun, *args, argnums=argnums)
        size = int(np.prod([d for d in getattr(out, "shape", ()) if d is not None] or [1]))
        if not isinstance(out, Symbol) or size != 1 or any(d is None for d in out.shape):
            shape = getattr(out, "shape", type(out).__name__)
            raise TypeError(f"grad needs a function with a scalar output, this one returned {shape}")
        from .graph import constant

        grads = fn(constant(np.ones(out.shape, dtype=out.dtype)))
        return out, (grads[0] if single else grads)

    return wrapped


def grad(fun: Callable, argnums=0) -> Callable:
    vg = value_and_grad(fun, argnums)
    return lambda *args: vg(*args)[1]
