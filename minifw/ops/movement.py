"""Shape and movement primitives: reshape, transpose, broadcast_to,
concatenate, indexing (getitem) and its adjoint scatter_add.

squeeze/unsqueeze/stack/swapaxes/sum_to are composites in
:mod:`minifw.functional` built from these, so they need no rules of their own.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F

from .registry import Primitive, ShapeError, register


# --- reshape -----------------------------------------------------------------
def _reshape_rule(shp, dts, shape=()):
    (s,) = shp
    if int(np.prod(s, dtype=np.int64)) != int(np.prod(shape, dtype=np.int64)):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(s)} "
                         f"({int(np.prod(s))} elements) into shape {tuple(shape)}")
    return tuple(shape), dts[0]


RESHAPE = register(Primitive(
    name="reshape", kind="shape", nin=1, impl=lambda x, shape: np.reshape(x, shape),
    shape_rule=_reshape_rule,
    vjps=[lambda g, out, x, shape: F.reshape(g, F.shape_of(x))],
    jvp=lambda t, out, x, shape: F.reshape(t[0], shape),
    notation="reshape({0}, {shape})", params=("shape",),
))


# --- transpose ---------------------------------------------------------------
def _transpose_rule(shp, dts, axes=()):
    (s,) = shp
    if sorted(axes) != list(range(len(s))):
        raise ShapeError(f"transpose: axes {tuple(axes)} are not a permutation of the {len(s)} "
                         f"dimensions of shape {tuple(s)}")
    return tuple(s[a] for a in axes), dts[0]


TRANSPOSE = register(Primitive(
    name="transpose", kind="shape", nin=1, impl=lambda x, axes: np.transpose(x, axes),
    shape_rule=_transpose_rule,
    vjps=[lambda g, out, x, axes: F.permute(g, tuple(np.argsort(axes)))],
    jvp=lambda t, out, x, axes: F.permute(t[0], axes),
    notation="{0}ᵀ", params=("axes",),
))


# --- broadcast_to --------------------------------------------------------------
def _broadcast_rule(shp, dts, shape=()):
    (s,) = shp
    try:
        if np.broadcast_shapes(tuple(s), tuple(shape)) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {tuple(s)} to {tuple(shape)}") from None
    return tuple(shape), dts[0]


BROADCAST_TO = register(Primitive(
    name="broadcast_to", kind="shape", nin=1, impl=lambda x, shape: np.broadcast_to(x, shape),
    shape_rule=_broadcast_rule,
    vjps=[lambda g, out, x, shape: F.sum_to(g, F.shape_of(x))],
    jvp=lambda t, out, x, shape: F.broadcast_to(t[0], shape),
    notation="broadcast({0}, {shape})", params=("shape",),
))


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


GETITEM = register(Primitive(
    name="getitem", kind="index", nin=1, impl=lambda x, index: np.asarray(x)[index],
    shape_rule=_index_rule,
    vjps=[lambda g, out, x, index: F.scatter_add(g, index, F.shape_of(x))],
    jvp=lambda t, out, x, index: F.getitem(t[0], index),
    notation="{0}{index}", params=("index",),
))

SCATTER_ADD = register(Primitive(
    name="scatter_add", kind="index", nin=1, impl=_scatter_add_impl,
    shape_rule=lambda shp, dts, index=(), shape=(): (tuple(shape), dts[0]),
    vjps=[lambda g, out, x, index, shape: F.getitem(g, index)],
    jvp=lambda t, out, x, index, shape: F.scatter_add(t[0], index, shape),
    notation="scatter_add({0}, {index})", params=("index", "shape"),
))
