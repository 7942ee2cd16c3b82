"""The node protocol, the one topological order and the one reverse sweep.

Every graph in minifw is made of nodes of one shape: a node's record is
``(primitive, inputs, params)`` for a computed value and ``None`` for a leaf
(an input, a variable, a constant).  Static symbols keep it in ``_ctx`` when
they are created; the eager tape keeps flat tuples the garbage collector
does not track (:func:`untrack_address`) and reads them through ``ctx``;
both frontends hand their nodes to the functions here, so reverse mode is
written once:

* :func:`toposort` orders the nodes reachable from some roots, inputs first,
  iteratively (a 100,000-operation chain needs no recursion);
* :func:`reverse_sweep` walks that order backwards and calls each
  primitive's vjp rules.  The rules are written with minifw's functional
  ops, so the same sweep computes numbers on tensors and arrays and adds
  nodes on symbols (gradients as a graph, and gradients of gradients).

What differs between frontends is passed in: how to read a node's record
(``ctx``: the eager tape keeps untracked tuples, not objects with ``_ctx``),
how to read its values (``unpack``), how to make a rule's result fit its
input (``fit``: a shape, a dtype, a device), and what to do when a node's
cotangent is complete (``on_cotangent``: hooks, ``retain_grad``).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Callable, Iterable, Sequence


def inputs_of(node) -> Sequence:
    """The default edges: a node's ``inputs`` (symbols, compiled-graph nodes, drawings)."""
    return node.inputs


def toposort(roots: Iterable, parents: Callable[[Any], Sequence] = inputs_of, seen: set[int] | None = None,
             last_input_first: bool = False) -> list:
    """Nodes reachable from ``roots`` through ``parents``, each after its parents.

    Depth first, inputs visited in order (or last first); ``seen`` (ids) may
    carry over from an earlier call to append only what is new."""
    order: list = []
    seen = set() if seen is None else seen
    visit, place = seen.add, order.append
    for root in roots:
        if id(root) in seen:
            continue
        stack = [root]
        push, pop = stack.append, stack.pop
        while stack:
            node = pop()
            if node is _PLACED:  # every input of the node below the marker is in order: place it
                place(pop())
                continue
            if id(node) in seen:
                continue
            visit(id(node))
            push(node)
            push(_PLACED)
            for a in (parents(node) if last_input_first else reversed(parents(node))):
                if id(a) not in seen:
                    push(a)
    return order


_PLACED = object()


def _same(node, inputs):
    return node, inputs


def ctx_of(node):
    """The default record: a node's ``_ctx``, ``(primitive, inputs, params)`` or None for a leaf."""
    return node._ctx


def reverse_sweep(order: Sequence, cotangents: dict[int, Any], wanted: set[int] | None = None,
                  unpack: Callable = _same, fit: Callable | None = None,
                  on_cotangent: Callable | None = None, live: set[int] | None = None,
                  ctx: Callable[[Any], tuple | None] = ctx_of) -> dict[int, tuple[Any, Any]]:
    """Propagate ``cotangents`` (``{id(node): cotangent}``, the seeds; consumed)
    backwards through ``order`` (from :func:`toposort`, inputs first).

    Only nodes in ``order`` receive cotangents: a frontend leaves out what
    needs none (tensors that do not require grad, symbols on no path from
    the wanted inputs).  Cotangents reaching a node along several paths are
    added (``v̄ = v̄ + ...``, the accumulation of the reverse tables).

    Returns ``{id: (node, cotangent)}`` for the leaves reached and for the
    nodes in ``wanted``.

    ``unpack(node, inputs) -> (out, args)`` gives the values a vjp rule is
    called with (default: the nodes themselves); ``fit(ct, input)`` adapts a
    rule's result to its input; ``on_cotangent(node, ct) -> ct`` runs once a
    node's cotangent is complete, before it is passed on; ``live``, the ids
    of ``order`` when the caller has them already (toposort's ``seen``);
    ``ctx(node)``, the node's ``(primitive, inputs, params)`` or None for a
    leaf (default: its ``_ctx``).
    """
    if live is None:
        live = {id(n) for n in order}
    found: dict[int, tuple[Any, Any]] = {}
    take, get = cotangents.pop, cotangents.get
    for node in reversed(order):
        g = take(id(node), None)
        if g is None:
            continue
        if on_cotangent is not None:
            g = on_cotangent(node, g)
        record = ctx(node)
        if record is None or (wanted is not None and id(node) in wanted):
            found[id(node)] = (node, g)
            if record is None:
                continue
        prim, inputs, params = record
        out, args = unpack(node, inputs)
        vjps = prim.vjps
        for i, a in enumerate(inputs):
            if id(a) not in live or vjps[i] is None:
                continue
            ct = vjps[i](g, out, *args, **params)
            if ct is None:
                continue
            if fit is not None:
                ct = fit(ct, a)
            prev = get(id(a))
            cotangents[id(a)] = ct if prev is None else prev + ct
    return found


def _gc_untrack() -> Callable[[int], None]:
    """CPython's ``PyObject_GC_UnTrack``, called with ``id(obj)``; a no-op elsewhere.

    The tapes (eager records, scalar nodes) take each node off the garbage collector's lists as it is made.
    The collector itself stops tracking a tuple whose elements are all untracked, but one level per
    collection, and a chain of records is met newest first: left to it, a long tape would sit in the oldest
    generation and every full collection would rescan it (what made eager code with grad slow down in a big
    process, W5g).  A node joins no reference cycle (outputs point at inputs, nothing points back), so taking
    it off the lists loses nothing; reference counting frees it."""
    if sys.implementation.name != "cpython":
        return lambda address: None
    # a void* argument from id() converts ~2x faster than a py_object one
    address = ctypes.cast(ctypes.pythonapi.PyObject_GC_UnTrack, ctypes.c_void_p).value
    return ctypes.PYFUNCTYPE(None, ctypes.c_void_p)(address)


untrack_address = _gc_untrack()


__all__ = ["ctx_of", "inputs_of", "toposort", "reverse_sweep", "untrack_address"]
