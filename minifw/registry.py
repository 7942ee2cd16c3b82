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

from minifw.errors import MinifwError


class ShapeError(MinifwError, ValueError):
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
        latex: how the words and symbols this row's notation introduces are
            written in LaTeX, e.g. ``{"ln": "\\ln"}``; the trace tables'
            LaTeX renderer reads every row's (see :func:`latex_words`).
            Values are format templates like ``notation`` (literal braces
            doubled: ``"\\operatorname{{relu}}"``).
        method: the row is also a method of tensors, symbols and scalars
            (``x.exp()``; reductions take ``dim``/``keepdim``).
        operator: the Python operator the row implements, without
            underscores (``"add"``: ``x + y``; binary non-comparisons also get
            the reflected ``__radd__``).
        public: the row's functional op is also a top-level name (``mf.exp``).
        saves: which values the vjp rules read, so an in-place change to them
            after the op ran makes backward refuse (PyTorch's "saved tensors"):
            ``"all"`` (every input and the output; the safe default),
            ``"others"`` (input i's rule reads only the other inputs: ``mul``,
            ``matmul``) or ``"none"`` (shapes and dtypes only: ``add``,
            ``reshape``, ``sum``...).
        batch: the batching rule ``batch(prim, values, batched, size, **params)`` that
            :func:`minifw.vmap.vmap` runs: ``values`` are the operands, each
            batched one with its batch dimension first (``batched[i]``), and
            the result has its batch dimension first.  ``None``: vmap runs
            the primitive once per batch element (and says so once).  The
            rules are registered by :mod:`minifw.vmap` (one per kind of row).
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
    latex: dict = field(default_factory=dict)
    method: bool = False
    operator: str = ""
    public: bool = False
    saves: str = "all"
    batch: Callable[..., Any] | None = None

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    @property
    def elementwise(self) -> bool:
        return self.kind in ("unary", "binary", "compare", "ternary")

    def attributes(self) -> list[tuple[str, bool]]:
        """(attribute name, operands swapped) for each method and operator this
        row gives a tensor-like class: ``[("sub", False), ("__sub__", False),
        ("__rsub__", True)]``."""
        out = [(self.name, False)] if self.method else []
        if self.operator:
            out.append((f"__{self.operator}__", False))
            if self.nin == 2 and self.kind != "compare":  # Python reflects comparisons itself (a < b is b > a)
                out.append((f"__r{self.operator}__", True))
        return out

    def shape_error(self, shapes: Sequence[tuple], why: str) -> ShapeError:
        parts = " and ".join(str(tuple(s)) for s in shapes)
        return ShapeError(f"{self.name}: {why} (got shapes {parts})")


_REGISTRY: dict[str, Primitive] = {}
_LISTENERS: list[tuple[Callable[[Primitive], None], Callable[[Primitive], None]]] = []


def register(prim: Primitive) -> Primitive:
    """Add ``prim``; every listener (functional ops, methods, top-level names) derives its surface now."""
    if prim.name in _REGISTRY:
        raise KeyError(f"primitive {prim.name!r} is already registered")
    if prim.kernel_scalar is None and prim.scalar is not None:
        prim.kernel_scalar = prim.scalar
    _REGISTRY[prim.name] = prim
    for added, _ in _LISTENERS:
        added(prim)
    return prim


def unregister(name: str) -> Primitive:
    """Remove a primitive and, through the listeners, every name made from its row.

    For primitives defined outside minifw (a test's, a lab's): the registry
    is global, so whoever registers a one-off primitive takes it out again.
    """
    prim = get(name)
    del _REGISTRY[name]
    for _, removed in reversed(_LISTENERS):
        removed(prim)
    return prim


def subscribe(added: Callable[[Primitive], None], removed: Callable[[Primitive], None]) -> None:
    """Call ``added(prim)`` for every primitive registered now and later, and
    ``removed(prim)`` when one is unregistered: how the functional ops, the
    tensor methods and the top-level names follow the registry rows."""
    _LISTENERS.append((added, removed))
    for prim in list(_REGISTRY.values()):
        added(prim)


def get(name: str) -> Primitive:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown primitive {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def all_primitives() -> list[Primitive]:
    return list(_REGISTRY.values())


def latex_words() -> dict[str, str]:
    """Every row's LaTeX spellings, merged: ``{"ln": "\\ln", "×": "\\times", ...}``."""
    return {k: v for p in _REGISTRY.values() for k, v in p.latex.items()}
