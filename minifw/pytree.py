"""Pytrees: nested lists, tuples (namedtuples too) and dicts with leaves.

One walker for every place that takes "a structure of arrays" (``jit``'s
arguments and results, the transforms' primals, a ``Session``'s fetches):
:func:`flatten` pulls the leaves out in a fixed order and returns a function
that rebuilds the same structure around new leaves (JAX's ``tree_flatten``
and ``tree_unflatten`` in one call).

>>> leaves, rebuild = flatten({"w": [1, 2], "b": 3}, lambda x: isinstance(x, int))
>>> leaves, rebuild(["a", "b", "c"])
([1, 2, 3], {'w': ['a', 'b'], 'b': 'c'})

Values that are neither a container nor a leaf are *static*: they stay in
place, and ``on_static`` (when given) sees them, e.g. to put them in a cache
key.  ``on_static`` may also convert them into a leaf by returning one.
"""

from __future__ import annotations

from typing import Any, Callable


def flatten(tree: Any, is_leaf: Callable[[Any], bool], on_static: Callable[[Any], Any] | None = None,
            on_node: Callable[[Any], None] | None = None) -> tuple[list, Callable[[list], Any]]:
    """``(leaves, rebuild)``: ``rebuild(new_leaves)`` puts ``new_leaves`` where the leaves were.

    ``on_node(container)`` is called for each list/tuple/dict (a cache key can
    record its type and length); ``on_static(value)`` for every other non-leaf
    value: it returns a leaf to use in its place, or ``None`` to keep the value.
    """
    leaves: list = []

    def walk(t):
        if is_leaf(t):
            leaves.append(t)
            k = len(leaves) - 1
            return lambda vals: vals[k]
        if isinstance(t, (list, tuple)):
            parts = [walk(x) for x in t]
            if on_node is not None:
                on_node(t)
            kind = type(t)
            if hasattr(t, "_fields"):  # a namedtuple takes its fields positionally
                return lambda vals: kind(*[p(vals) for p in parts])
            return lambda vals: kind(p(vals) for p in parts)
        if isinstance(t, dict):
            parts = {k: walk(v) for k, v in t.items()}
            if on_node is not None:
                on_node(t)
            kind = type(t)
            return lambda vals: kind((k, p(vals)) for k, p in parts.items())
        if on_static is not None:
            leaf = on_static(t)
            if leaf is not None:
                return walk(leaf)
        return lambda vals: t

    rebuild = walk(tree)
    return leaves, rebuild


def leaves(tree: Any, is_leaf: Callable[[Any], bool]) -> list:
    """The leaves of ``tree`` in :func:`flatten`'s order."""
    return flatten(tree, is_leaf)[0]


__all__ = ["flatten", "leaves"]
