"""minifw's functional ops: one polymorphic function per primitive.

Every function here works on Python floats (returns a float: the scalar
path the trace tables use), on eager tensors (runs now, records on the tape),
on static symbols (adds a graph node) and on dual numbers.  Which interpreter
runs is decided by :func:`bind`: the argument with the highest
``_mf_priority`` class attribute wins (symbols > tensors > plain values), as
in JAX's Autodidax.  Derivative rules are written with these functions, so a
rule that runs on tensors also runs on symbols, which is what makes symbolic
and higher-order gradients work with one rule table.

The functions that only bind a primitive (every elementwise op, ``matmul``,
the reductions) are not written here: each is made from its registry row
when the row is registered (:func:`_function`), so a new primitive's row is
all it takes to get ``minifw.functional.<name>``.  They are ordinary module
attributes with docstrings; a unary one is a closure calling :func:`_bind1`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from minifw.registry import _REGISTRY as _P
from minifw.registry import ShapeError
from minifw.registry import subscribe as _subscribe
from minifw.shapes import normalize_axes

_Number = (int, float, numbers.Number)
_ndarray = np.ndarray

TRANSFORM_PRIORITY = 10
"""The lowest ``_mf_priority`` of a transform's values (a vmap batch, a dual number): above every frontend's."""


def is_transform_value(x) -> bool:
    """Whether ``x`` is a value of a transform (a vmap batch, a dual number) rather than a frontend's value.

    The reverse sweeps carry such a value through as a cotangent: ``vmap`` over a pullback seeds the sweep with
    a batch of cotangents, and each vjp rule's ops then run on the batch (``jacrev``'s one backward pass)."""
    return getattr(type(x), "_mf_priority", 0) >= TRANSFORM_PRIORITY


def bind(prim, *args, **params):
    """Apply primitive ``prim`` to ``args`` with the interpreter they call for."""
    if not params and prim.scalar is not None:  # fast path: plain floats (the scalar engine's partials)
        for a in args:
            if type(a) is not float and type(a) is not int:
                break
        else:
            return prim.scalar(*args)
    best, best_p = None, 0
    for a in args:
        t = type(a)
        if t is _ndarray:  # the common case in rules run on arrays: skip the attribute miss
            continue
        p = getattr(t, "_mf_priority", 0)
        if p > best_p:
            best, best_p = a, p
    if best is None:
        if prim.scalar is not None and not params and all(isinstance(a, _Number) for a in args):
            return prim.scalar(*args)
        return _INTERPRETERS[-1](prim, args, params)
    return type(best)._mf_bind(prim, args, params)


_NO_PARAMS: dict = {}


def _bind1(prim, x):
    """:func:`bind` for one operand and no params (every unary elementwise
    op): the same dispatch without packing and scanning an argument tuple.
    The scalar engine (W4) and eager code call these in their hottest loops."""
    t = type(x)
    if t is float or t is int:
        return prim.scalar(x)
    if t is not _ndarray:
        run = getattr(t, "_mf_bind", None)
        if run is not None:
            return run(prim, (x,), _NO_PARAMS)
    return bind(prim, x)


def _no_interpreter(prim, args, params):
    raise RuntimeError(f"{prim.name}: no interpreter is registered for plain arrays (import minifw first)")


_INTERPRETERS: list = [_no_interpreter]
"""Who runs a primitive whose operands name no interpreter (numpy arrays,
lists): ``run(prim, args, params)``, innermost last.  The eager frontend
registers itself at the bottom when imported (arrays become tensors); the
reverse sweep pushes the array interpreter while it runs vjp rules that
need no graph (the same rules as bare numpy calls), see :func:`interpreter`."""


class interpreter:  # noqa: N801  (used as a context manager, like no_grad)
    """``with interpreter(run):`` makes ``run`` the interpreter for plain operands inside the block."""

    __slots__ = ("run",)

    def __init__(self, run):
        self.run = run

    def __enter__(self):
        _INTERPRETERS.append(self.run)

    def __exit__(self, *exc):
        _INTERPRETERS.pop()


def register_default_interpreter(run) -> None:
    """Install ``run`` as the outermost interpreter for plain operands (the eager frontend calls this)."""
    _INTERPRETERS[0] = run


# --- small helpers every interpreter understands ------------------------------
def shape_of(x) -> tuple:
    s = getattr(x, "shape", None)
    return tuple(s) if s is not None else ()


def dtype_of(x):
    d = getattr(x, "dtype", None)
    return np.dtype(d) if d is not None else np.result_type(x)


def _is_scalar(x) -> bool:
    return isinstance(x, _Number) and not hasattr(x, "shape")


# --- hand-written ops: the ones that do more than bind (the rest are made from the rows at the end) ---
def cast(x, dtype):
    dtype = np.dtype(dtype)
    if _is_scalar(x):
        return float(x) if dtype.kind == "f" else dtype.type(x).item()
    if dtype_of(x) == dtype:
        return x
    return bind(_P["cast"], x, dtype=dtype)


def eq_float(x, y):
    """1.0 where x == y else 0.0, in x's float dtype (used by max/min rules)."""
    if _is_scalar(x) and _is_scalar(y):
        return 1.0 if x == y else 0.0
    dt = dtype_of(x) if not _is_scalar(x) else dtype_of(y)
    return cast(bind(_P["eq"], x, y), dt if dt.kind == "f" else np.float32)


# --- shape and movement ---------------------------------------------------------------
def _resolve_shape(shape, size: int, opname: str = "reshape") -> tuple:
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"{opname}: only one dimension may be -1, got {shape}")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or size % known:
            raise ShapeError(f"{opname}: cannot reshape {size} elements into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    return shape


def _one_axis(axis, ndim: int, opname: str) -> int:
    """``axis`` in ``[-ndim, ndim)`` as a non-negative int, else a ShapeError
    (never silently wrapped: axis 5 of a 2-D tensor is a mistake, not axis 1)."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise ShapeError(f"{opname}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return a % ndim


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def reshape(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    xs = shape_of(x)
    if None in xs:  # a static placeholder's free dimension: keep it free (resolved when fed)
        shape = tuple(None if s is None or s == -1 else int(s) for s in shape)
        if shape.count(None) != xs.count(None):  # (this module's `sum` is the primitive, not the builtin)
            raise ShapeError(f"reshape: shape {xs} has free (None) dimensions; the new shape {shape} must keep "
                             f"the same number of free dimensions")
    else:
        shape = _resolve_shape(shape, _size(xs))
    if shape == xs:
        return x
    return bind(_P["reshape"], x, shape=shape)


def permute(x, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    nd = len(shape_of(x))
    axes = tuple(_one_axis(a, nd, "permute") for a in axes)
    if axes == tuple(range(nd)):
        return x
    return bind(_P["transpose"], x, axes=axes)


def transpose(x, axes=None):
    """numpy's transpose: reverses the axes unless ``axes`` is given."""
    nd = len(shape_of(x))
    return permute(x, tuple(reversed(range(nd))) if axes is None else tuple(axes))


def swapaxes(x, a: int, b: int):
    nd = len(shape_of(x))
    if nd == 2 and a % 2 != b % 2:  # the matrix transpose every matmul vjp takes
        return bind(_P["transpose"], x, axes=(1, 0))
    axes = list(range(nd))
    a, b = _one_axis(a, nd, "swapaxes"), _one_axis(b, nd, "swapaxes")
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, tuple(axes))


def broadcast_to(x, shape):
    shape = tuple(int(s) for s in shape)
    if shape_of(x) == shape:
        return x
    return bind(_P["broadcast_to"], x, shape=shape)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting)."""
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    if _is_scalar(x):
        return x
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and xs[i + lead] != 1)
    # axes are canonical already: bind directly (this runs once per broadcast operand in every backward)
    y = bind(_P["sum"], x, axis=axes, keepdims=True) if axes else x
    if shape_of(y) == shape:
        return y
    return bind(_P["reshape"], y, shape=shape)


def squeeze(x, axis=None):
    xs = shape_of(x)
    if axis is None:
        axes = tuple(i for i, s in enumerate(xs) if s == 1)
    else:
        axes = normalize_axes(axis, len(xs), "squeeze")
        for a in axes:
            if xs[a] != 1:
                raise ShapeError(f"squeeze: dimension {a} of shape {xs} has size {xs[a]}, not 1")
    return reshape(x, tuple(s for i, s in enumerate(xs) if i not in axes))


def unsqueeze(x, axis: int):
    xs = shape_of(x)
    nd = len(xs) + 1
    a = _one_axis(axis, nd, "unsqueeze")
    return reshape(x, xs[:a] + (1,) + xs[a:])


expand_dims = unsqueeze


def concatenate(xs: Sequence[Any], axis: int = 0):
    xs = list(xs)
    nd = len(shape_of(xs[0]))
    if nd == 0:
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated")
    return bind(_P["concatenate"], *xs, axis=_one_axis(axis, nd, "concatenate"))


cat = concatenate


def stack(xs: Sequence[Any], axis: int = 0):
    xs = list(xs)
    nd = len(shape_of(xs[0])) + 1
    axis = _one_axis(axis, nd, "stack")
    first = shape_of(xs[0])
    for x in xs[1:]:
        if shape_of(x) != first:
            raise ShapeError(f"stack: all tensors must have the same shape "
                             f"(got shapes {' and '.join(str(shape_of(x)) for x in xs)})")
    return concatenate([unsqueeze(x, axis) for x in xs], axis=axis)


def canonical_index(index, shape) -> tuple:
    """Normalise an index to a tuple of ints, slices (with explicit bounds),
    ``None`` and integer numpy arrays, so equal indices compare equal."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if hasattr(i, "_mf_priority"):  # a tensor used as an index
            i = np.asarray(i.numpy() if hasattr(i, "numpy") else i)
        if isinstance(i, (list, np.ndarray)):
            i = np.asarray(i)
            if i.dtype == bool:
                raise IndexError("boolean-mask indexing is not supported; use where() or integer indices")
            i = i.astype(np.int64)
        elif isinstance(i, (np.integer,)):
            i = int(i)
        out.append(i)
    return tuple(out)


def getitem(x, index):
    return bind(_P["getitem"], x, index=canonical_index(index, shape_of(x)))


def scatter_add(g, index, shape):
    return bind(_P["scatter_add"], g, index=index, shape=tuple(shape))


def zeros_like(x):
    return 0.0 * x


# --- nn -----------------------------------------------------------------------------
def log_softmax(x, axis: int = -1):
    return bind(_P["log_softmax"], x, axis=_one_axis(axis, len(shape_of(x)), "log_softmax"))


def softmax(x, axis: int = -1):
    return bind(_P["softmax"], x, axis=_one_axis(axis, len(shape_of(x)), "softmax"))


# --- one function per row: every parameterless primitive (elementwise, matmul) and every reduction ---------
_ARGS = {1: "x", 2: "x, y", 3: "cond, x, y"}


def _function(prim):
    """The functional op a registry row calls for (``exp(x)``, ``add(x, y)``,
    ``sum(x, axis=None, keepdims=False)``), or None: other rows take
    parameters that need checking, so their functions are written above."""
    if prim.kind == "reduce":
        name = prim.name

        def fn(x, axis=None, keepdims=False):
            return bind(prim, x, axis=normalize_axes(axis, len(shape_of(x)), name), keepdims=bool(keepdims))
    elif prim.params or prim.nin not in _ARGS:
        return None
    elif prim.nin == 1:
        def fn(x):  # the hottest path: no argument tuple to pack and scan
            return _bind1(prim, x)
    elif prim.nin == 2:
        def fn(x, y):
            return bind(prim, x, y)
    else:
        def fn(cond, x, y):
            return bind(prim, cond, x, y)
    args = "x" if prim.kind == "reduce" else _ARGS[prim.nin]
    formula = prim.notation.format(*args.split(", ")) if prim.notation else prim.name
    fn.__name__ = fn.__qualname__ = prim.name
    fn.__module__ = __name__
    fn.__doc__ = prim.doc or (f"``{prim.name}({args})`` = {formula}{' over axis' if prim.kind == 'reduce' else ''}, "
                              "on floats, tensors, static symbols and duals (made from its registry row).")
    fn._mf_prim = prim
    return fn


def _expose(prim) -> None:
    fn = _function(prim)
    if fn is not None and not callable(globals().get(prim.name)):  # a hand-written function wins
        globals()[prim.name] = fn
        __all__.append(prim.name)


def _hide(prim) -> None:
    if getattr(globals().get(prim.name), "_mf_prim", None) is prim:
        del globals()[prim.name]
        __all__.remove(prim.name)


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("annotations", "math", "numbers", "np", "Any",
                                                                   "Sequence")]
del math

_subscribe(_expose, _hide)  # exp, add, matmul, sum, ...: now and for every primitive registered later
