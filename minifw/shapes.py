"""Shape and dtype rules shared by the primitive definitions.

Each rule takes ``(prim, shapes, dtypes, **params)`` and returns
``(shape, dtype)`` or raises :class:`~minifw.registry.ShapeError` naming
the op and the shapes.  Static graphs call these when a node is built; the
eager frontend calls them only to explain a failure (the happy path costs
nothing).
"""

from __future__ import annotations

import numpy as np

from minifw.registry import ShapeError


def normalize_axes(axis, ndim: int, opname: str = "op") -> tuple[int, ...]:
    """Turn ``None``, an int or a sequence of ints into a sorted tuple of
    non-negative axes, validating each against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1) and not (ndim == 0 and a in (0, -1)):
            raise ShapeError(f"{opname}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"{opname}: repeated axis in {tuple(axis)}")
    if ndim == 0:  # as in PyTorch, axis 0 / -1 of a 0-d tensor names no real axis: reduce over none
        return ()
    return tuple(sorted(out))


def broadcast(prim, shapes, dtypes, **params):
    try:
        shape = np.broadcast_shapes(*[tuple(s) for s in shapes])
    except ValueError:
        raise prim.shape_error(shapes, "shapes cannot be broadcast together") from None
    dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float32)
    if prim.kind == "compare":
        dtype = np.dtype(bool)
    elif prim.extra.get("float_result") and dtype.kind in "biu":
        dtype = np.dtype(np.float32)
    return shape, dtype


def where_rule(prim, shapes, dtypes, **params):
    shape, _ = broadcast(prim, shapes, dtypes[1:])
    dtype = np.result_type(*dtypes[1:])
    return shape, dtype


def reduce_rule(prim, shapes, dtypes, axis=(), keepdims=False, **params):
    (shape,) = shapes
    for a in axis:
        if a >= len(shape) and len(shape):
            raise prim.shape_error(shapes, f"axis {a} out of range")
    if prim.name in ("max", "min", "argmax", "argmin"):  # numpy: "zero-size array ... has no identity"
        empty = [a for a in axis if a < len(shape) and shape[a] == 0]
        if empty:
            raise prim.shape_error(shapes, f"cannot take the {prim.name} over an empty axis (axis {empty[0]})")
    if keepdims:
        out = tuple(1 if i in axis else d for i, d in enumerate(shape))
    else:
        out = tuple(d for i, d in enumerate(shape) if i not in axis)
    dtype = np.dtype(np.int64) if prim.name in ("argmax", "argmin") else dtypes[0]
    if prim.name == "mean" and dtype.kind in "biu":
        dtype = np.dtype(np.float32)
    return out, dtype


def matmul_rule(prim, shapes, dtypes, **params):
    a, b = (tuple(s) for s in shapes)
    if len(a) == 0 or len(b) == 0:
        raise prim.shape_error(shapes, "operands must have at least one dimension")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise prim.shape_error(
            shapes, f"inner dimensions differ: {a2[-1]} (last of the first) vs {b2[-2]} (second-to-last of the second)"
        )
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise prim.shape_error(shapes, "batch dimensions cannot be broadcast") from None
    out = batch + ((a2[-2],) if len(a) > 1 else ()) + ((b2[-1],) if len(b) > 1 else ())
    return out, np.result_type(*dtypes)


def same_rule(prim, shapes, dtypes, **params):
    return tuple(shapes[0]), dtypes[0]
