"""Shape and movement primitives: reshape, transpose, broadcast_to,
concatenate, indexing (getitem) and its adjoint scatter_add.

squeeze/unsqueeze/stack/swapaxes/sum_to are composites in
:mod:`minifw.functional` built from these, so they need no rules of their own.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw.registry import Primitive, ShapeError, register


def _one_input(name, kind, impl, rule, vjp, jvp, notation, params):
    """Register a one-input primitive whose parameters say what it does (a shape, axes, an index)."""
    return register(Primitive(name=name, kind=kind, nin=1, impl=impl, shape_rule=rule, vjps=[vjp], jvp=jvp,
                              notation=notation, params=params))


# --- reshape -----------------------------------------------------------------
def _reshape_rule(shp, dts, shape=()):
    (s,) = shp
    if int(np.prod(s, dtype=np.int64)) != int(np.prod(shape, dtype=np.int64)):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(s)} "
                         f"({int(np.prod(s))} elements) into shape {tuple(shape)}")
    return tuple(shape), dts[0]


def _to_shape(name, impl, rule, undo, redo, notation):
    """A primitive giving its input a new ``shape``: the vjp is ``undo(g, shape of x)``,
    the jvp ``redo(tangent, shape)`` (the same op on the tangent)."""
    return _one_input(name, "shape", impl, rule, lambda g, out, x, shape: undo(g, F.shape_of(x)),
                      lambda t, out, x, shape: redo(t[0], shape), notation, ("shape",))


RESHAPE = _to_shape("reshape", lambda x, shape: np.reshape(x, shape), _reshape_rule,
                    lambda g, s: F.reshape(g, s), lambda t, s: F.reshape(t, s), "reshape({0}, {shape})")


# --- transpose ---------------------------------------------------------------
def _transpose_rule(shp, dts, axes=()):
    (s,) = shp
    if sorted(axes) != list(range(len(s))):
        raise ShapeError(f"transpose: axes {tuple(axes)} are not a permutation of the {len(s)} "
                         f"dimensions of shape {tuple(s)}")
    return tuple(s[a] for a in axes), dts[0]


TRANSPOSE = _one_input(
    "transpose", "shape", lambda x, axes: np.transpose(x, axes), _transpose_rule,
    lambda g, out, x, axes: F.permute(g, tuple(np.argsort(axes))),
    lambda t, out, x, axes: F.permute(t[0], axes),
    "{0}ᵀ", ("axes",))


# --- broadcast_to --------------------------------------------------------------
def _broadcast_rule(shp, dts, shape=()):
    (s,) = shp
    try:
        if np.broadcast_shapes(tuple(s), tuple(shape)) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {tuple(s)} to {tuple(shape)}") from None
    return tuple(shape), dts[0]


BROADCAST_TO = _to_shape("broadcast_to", lambda x, shape: np.broadcast_to(x, shape), _broadcast_rule,
                         lambda g, s: F.sum_to(g, s), lambda t, s: F.broadcast_to(t, s), "broadcast({0}, {shape})")


# --- concatenate -----------------------------------------------------------------
def _concat_rule(shp, dts, axis=0):
    first = tuple(shp[0])
    if not first:
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated")
    for s in shp[1:]:
        if len(s) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis):
            raise ShapeError(f"concatenate: shapes {' and '.join(str(tuple(x)) for x in shp)} differ "
                             f"outside axis {axis}")
    out = list(first)
    out[axis] = sum(s[axis] for s in shp)
    return tuple(out), np.result_type(*dts)


def _concat_vjp(i):
    def vjp(g, out, *args, axis):
        start = sum(F.shape_of(a)[axis] for a in args[:i])
        stop = start + F.shape_of(args[i])[axis]
        index = (slice(None),) * axis + (slice(start, stop),)
        return F.getitem(g, index)

    return vjp


class _ConcatVjps:
    """Variadic: one vjp per input, made on demand."""

    def __getitem__(self, i):
        return _concat_vjp(i)


CONCATENATE = register(Primitive(
    name="concatenate", kind="shape", nin=-1, impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
    shape_rule=_concat_rule, vjps=_ConcatVjps(),
    jvp=lambda ts, out, *xs, axis: F.concatenate(
        [t if t is not None else F.zeros_like(x) for t, x in zip(ts, xs)], axis=axis),
    notation="concat({args})", params=("axis",),
))


# --- indexing --------------------------------------------------------------------
def _index_rule(shp, dts, index=()):
    (s,) = shp
    try:
        out = np.empty(s, dtype=np.bool_)[index].shape
    except IndexError as e:
        raise ShapeError(f"getitem: index {_show_index(index)} does not fit shape {tuple(s)}: {e}") from None
    return out, dts[0]


def _show_index(index):
    def one(i):
        if isinstance(i, slice):
            return ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step)).rstrip(":") or ":"
        if isinstance(i, np.ndarray):
            return f"array{i.shape}"
        return str(i)

    return "[" + ", ".join(one(i) for i in index) + "]"


def _has_array(index):
    return any(isinstance(i, np.ndarray) for i in index)


def _scatter_add_impl(g, index, shape):
    out = np.zeros(shape, dtype=np.asarray(g).dtype)
    if _has_array(index):
        np.add.at(out, index, g)  # repeated indices accumulate
    else:
        out[index] = g  # basic slices never repeat an element
    return out


GETITEM = _one_input(
    "getitem", "index", lambda x, index: np.asarray(x)[index], _index_rule,
    lambda g, out, x, index: F.scatter_add(g, index, F.shape_of(x)),
    lambda t, out, x, index: F.getitem(t[0], index),
    "{0}{index}", ("index",))

SCATTER_ADD = _one_input(
    "scatter_add", "index", _scatter_add_impl, lambda shp, dts, index=(), shape=(): (tuple(shape), dts[0]),
    lambda g, out, x, index, shape: F.getitem(g, index),
    lambda t, out, x, index, shape: F.scatter_add(t[0], index, shape),
    "scatter_add({0}, {index})", ("index", "shape"))

# The vjps of moving data around read shapes only (see Primitive.saves).
for _p in (RESHAPE, TRANSPOSE, BROADCAST_TO, CONCATENATE, GETITEM, SCATTER_ADD):
    _p.saves = "none"
