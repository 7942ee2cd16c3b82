"""The primitive registry: one definition per primitive.

A :class:`Primitive` is data plus a few small functions.  Every interpreter in
minifw (eager tensors, static graphs, the scalar trace tables, dual numbers,
numba kernels) reads the same record, so a derivative rule, a shape rule or a
notation string lives in exactly one place.

Elementwise primitives are described by their *local partial derivatives*
(``partials``): one function per input, written with minifw's polymorphic
functional ops, so the same formula runs on Python floats (trace tables),
on eager tensors (vjp = g * partial), on symbols (static graphs) and on dual
numbers (jvp = sum of tangent * partial).  Other primitives give explicit
``vjps`` (one function per input, HIPS-autograd style) and a ``jvp``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


class ShapeError(ValueError):
    """A primitive was given operands whose shapes (or dtypes) do not fit."""


@dataclass(eq=False)
class Primitive:
    """One primitive operation.

    Attributes:
        name: registry key, also the op name in graphs and errors.
        kind: ``unary``, ``binary``, ``compare``, ``reduce``, ``matmul``,
            ``shape``, ``index`` or ``nn``.
        nin: number of tensor inputs (``-1`` for variadic, e.g. concatenate).
        impl: the numpy reference implementation ``impl(*arrays, **params)``.
        shape_rule: ``(shapes, dtypes, **params) -> (shape, dtype)``; raises
            :class:`ShapeError` naming the op and the shapes.
        scalar: for elementwise ops, the scalar function on Python floats
            (the reference: ``math``-based, used by the trace tables).
        kernel_scalar: the numba-compilable scalar used inside kernels; for
            transcendentals a vectorisable arithmetic version (see
            :mod:`minifw.ops.scalar_math`).  Defaults to ``scalar``.
        partials: elementwise only; ``partials[i](*args, out)`` is the local
            derivative d out / d arg_i, written with polymorphic ops.
        vjps: ``vjps[i](g, out, *args, **params)`` is the cotangent of arg i.
        jvp: ``jvp(tangents, out, *args, **params)``; tangents has ``None``
            for inputs with no tangent.
        notation: how a row is printed, e.g. ``"ln {0}"``, ``"{0} + {1}"``.
        partial_notation: per input, the local partial, e.g. ``["1/{0}"]``.
        differentiable: False for comparisons, argmax, sign...
    """

    name: str
    kind: str
    nin: int
    impl: Callable[..., Any]
    shape_rule: Callable[..., tuple]
    scalar: Callable[..., float] | None = None
    kernel_scalar: Callable[..., float] | None = None
    partials: Sequence[Callable[..., Any]] | None = None
    vjps: Sequence[Callable[..., Any] | None] | None = None
    jvp: Callable[..., Any] | None = None
    notation: str = ""
    partial_notation: Sequence[str] = ()
    differentiable: bool = True
    params: tuple[str, ...] = ()
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    @property
    def elementwise(self) -> bool:
        return self.kind in ("unary", "binary", "compare", "ternary")

    def shape_error(self, shapes: Sequence[tuple], why: str) -> ShapeError:
        parts = " and ".join(str(tuple(s)) for s in shapes)
        return ShapeError(f"{self.name}: {why} (got shapes {parts})")


_REGISTRY: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    if prim.name in _REGISTRY:
        raise KeyError(f"primitive {prim.name!r} is already registered")
    if prim.kernel_scalar is None and prim.scalar is not None:
        prim.kernel_scalar = prim.scalar
    _REGISTRY[prim.name] = prim
    return prim


def get(name: str) -> Primitive:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown primitive {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def all_primitives() -> list[Primitive]:
    return list(_REGISTRY.values())
