"""The scalar engine: reverse mode on Python floats, one node per operation.

This is the path the evaluation-trace tables use (and benchmark W4): a
:class:`Scalar` holds a float, the primitive that made it and its arguments.
Values come from each primitive's ``scalar`` function and local derivatives
from its ``partials`` (both in :mod:`minifw.ops`), evaluated on floats, so
no formula is written twice.

Speed (W4, <= 1.5 µs per op with the garbage collector on) comes from four
choices: ``__slots__`` nodes holding plain floats; outputs point at inputs
only, so the graph has no reference cycles, and each node is taken off the
collector's lists as it is made (:func:`minifw.sweep.untrack_address`), so
a 100k-node graph adds nothing for collections to rescan; and an iterative
topological sort (no recursion limit on 100k-op chains).

>>> from minifw.autodiff.scalar import Scalar
>>> import minifw.functional as F
>>> x, y = Scalar(2.0), Scalar(5.0)
>>> z = F.log(x) + x * y - F.sin(y)
>>> z.backward()
>>> x.grad, round(y.grad, 6)
(5.5, 1.716338)
"""

from __future__ import annotations

from typing import Iterable

from minifw.errors import MinifwError
from minifw.ops.surface import attach
from minifw.registry import _REGISTRY as _P
from minifw.sweep import untrack_address

_ADD, _MUL, _POW, _SQUARE = (_P[n] for n in ("add", "mul", "pow", "square"))
_Num = (int, float)


class DomainError(MinifwError, ValueError):
    """A primitive was evaluated outside its domain (ln of a negative, 1/0...).

    ``prim`` and ``values`` say which operation on which numbers; callers
    that know the row (the trace tables) add it to the message, and ``node``
    (the :class:`Scalar` whose row failed, when known) lets the parser's
    front door point at the column the row came from.
    """

    def __init__(self, prim, values, cause: str = "", where: str = "", node=None):
        self.prim, self.values, self.cause, self.where, self.node = prim, tuple(values), cause, where, node
        super().__init__(self._message())

    def _message(self) -> str:
        what = self.prim.notation.format(*(_fmt(v) for v in self.values)) if self.prim.notation else self.prim.name
        msg = f"{what} is outside the domain of {self.prim.name}"
        if self.cause:
            msg += f" ({self.cause})"
        return msg + (f" {self.where}" if self.where else "")

    def at(self, where: str) -> "DomainError":
        """The same error, located (e.g. ``at row v_3 = ln v_2``)."""
        return DomainError(self.prim, self.values, self.cause, where, self.node)


def _fmt(v) -> str:
    return format(v, ".6g") if isinstance(v, float) else str(v)


class Scalar:
    """A float that records how it was computed (a micrograd-style node).

    Attributes: ``value`` (float), ``grad`` (float, filled by
    :meth:`backward`), ``prim`` (the primitive, ``None`` for a leaf) and
    ``args`` (a tuple of :class:`Scalar` or constant floats).  The inputs are
    kept in two slots ``a`` and ``b`` rather than a tuple: one object fewer
    per operation for the garbage collector to track and scan.
    """

    __slots__ = ("value", "grad", "prim", "a", "b")
    _mf_priority = 3
    __array_ufunc__ = None

    def __init__(self, value: float, prim=None, args: tuple = ()):
        self.value = float(value)
        self.grad = 0.0
        self.prim = prim
        self.a = args[0] if args else None
        self.b = args[1] if len(args) > 1 else None

    @property
    def _ctx(self):
        """The node protocol of :mod:`minifw.sweep`.  :meth:`backward` keeps its own
        copy of the sweep, tuned for floats (W4: about a quarter of the shared
        loop's cost per node); ``tests/test_sweep.py`` checks the two agree."""
        return None if self.prim is None else (self.prim, self.args, _NO_PARAMS)

    @property
    def args(self) -> tuple:
        if self.prim is None:
            return ()
        return (self.a,) if self.b is None else (self.a, self.b)

    # --- interpreter hook: minifw.functional.sin(Scalar) lands here -----------------
    @classmethod
    def _mf_bind(cls, prim, args, params):
        if params or prim.scalar is None:
            raise TypeError(f"{prim.name} is not an elementwise scalar operation; the scalar engine cannot run it")
        return apply(prim, args)

    # --- operators and methods ---------------------------------------------------------
    # x + y and x * y (the W4 hot path) are _fast() below; every other operator and method
    # (x - y, 2 / x, -x, x.tanh(), ...) is made from the registry rows, as for tensors.
    def __pow__(self, o):
        if isinstance(o, _Num) and o == 2:
            return apply(_SQUARE, (self,))
        return apply(_POW, (self, o))

    def __pos__(self):
        return self

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        op = "" if self.prim is None else f", op={self.prim.name}"
        return f"Scalar({self.value!r}, grad={self.grad!r}{op})"

    # --- reverse mode ----------------------------------------------------------------
    def backward(self) -> None:
        """Set ``.grad`` of every node this one depends on to d self / d node.

        Leaves accumulate (call ``zero_grad`` between steps, as in PyTorch);
        intermediate nodes are reset first.
        """
        order = toposort(self)
        for node in order:
            if node.prim is not None:
                node.grad = 0.0
        self.grad = 1.0
        sweep(order)


_new = object.__new__
_NO_PARAMS: dict = {}


def _fast(prim):
    """``x + y`` or ``x * y`` in one step: no argument tuple, no try (adding or
    multiplying floats raises nothing), the node's slots filled directly."""
    f = prim.scalar
    untrack = untrack_address

    def op(self, o):
        n = _new(Scalar)
        if type(o) is Scalar:
            n.value = f(self.value, o.value)
        elif isinstance(o, _Num):
            n.value = f(self.value, o)
        else:
            return NotImplemented
        n.grad = 0.0
        n.prim = prim
        n.a = self
        n.b = o
        untrack(id(n))
        return n

    op.__name__, op.__qualname__ = f"__{prim.operator}__", f"Scalar.__{prim.operator}__"
    return op


def _method(prim, swapped):
    """A row's operator or method on Scalars (differentiable unary and binary rows
    only: a comparison would give a float where Python expects a bool)."""
    if prim.scalar is None or prim.kind not in ("unary", "binary"):
        return None
    if prim.nin == 1:
        def method(self):
            return apply(prim, (self,))
    elif swapped:
        def method(self, o):
            return apply(prim, (o, self))
    else:
        def method(self, o):
            return apply(prim, (self, o))
    return method


def apply(prim, args: tuple) -> Scalar:
    """Run elementwise ``prim`` on Scalars and constants; record the node."""
    n = _new(Scalar)
    a = args[0]
    av = a.value if type(a) is Scalar else a
    try:
        if len(args) == 1:
            v = prim.scalar(av)
            n.b = None
        elif len(args) == 2:
            b = args[1]
            v = prim.scalar(av, b.value if type(b) is Scalar else b)
            n.b = b
        else:
            raise TypeError(f"{prim.name}: the scalar engine runs unary and binary operations only")
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        raise DomainError(prim, [x.value if type(x) is Scalar else x for x in args], str(e)) from None
    if type(v) is not float:
        if isinstance(v, complex):
            raise DomainError(prim, [x.value if type(x) is Scalar else x for x in args],
                              "the result is not a real number")
        v = float(v)
    n.value = v
    n.grad = 0.0
    n.prim = prim
    n.a = a
    untrack_address(id(n))
    return n


def toposort(root: Scalar) -> list[Scalar]:
    """Nodes reachable from ``root``, inputs first (iterative depth-first).

    A ``None`` pushed above a node marks "all its inputs are placed".  The
    visited set holds the nodes themselves (identity hash), not ``id()``s.
    """
    order: list[Scalar] = []
    seen: set = set()
    stack = [root]
    append, pop, push, visit = order.append, stack.pop, stack.append, seen.add
    while stack:
        node = pop()
        if node is None:
            append(pop())
            continue
        if node in seen:
            continue
        visit(node)
        push(node)
        push(None)
        b = node.b
        if type(b) is Scalar and b not in seen:
            push(b)
        a = node.a
        if type(a) is Scalar and a not in seen:
            push(a)
    return order


def sweep(order: list[Scalar]) -> None:
    """The reverse sweep: adjoints flow from each node to its inputs through
    the primitive's local partials (evaluated on floats)."""
    node = None
    try:
        for node in reversed(order):
            prim = node.prim
            if prim is None:
                continue
            g = node.grad
            a = node.a
            b = node.b
            parts = prim.partials
            if b is not None:
                av = a.value if type(a) is Scalar else a
                bv = b.value if type(b) is Scalar else b
                if type(a) is Scalar:
                    a.grad += g * parts[0](av, bv, node.value)
                if type(b) is Scalar:
                    b.grad += g * parts[1](av, bv, node.value)
            else:
                if type(a) is Scalar:
                    a.grad += g * parts[0](a.value, node.value)
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        vals = [a.value if type(a) is Scalar else a for a in node.args]
        raise DomainError(node.prim, vals, f"its derivative is undefined here: {e}", node=node) from None


def zero_grad(nodes: Iterable[Scalar]) -> None:
    for n in nodes:
        n.grad = 0.0


Scalar.__add__, Scalar.__mul__ = _fast(_ADD), _fast(_MUL)
attach(Scalar, _method)


__all__ = ["Scalar", "DomainError", "apply", "toposort", "sweep", "zero_grad"]
