"""``vmap``: run a function written for one example on a whole batch, in one pass.

>>> import numpy as np, minifw as mf
>>> f = lambda x: (x * x).sum()
>>> mf.vmap(f)(np.arange(6.0).reshape(3, 2))
array([ 1., 13., 41.])

A :class:`Batched` value is an interpreter for :mod:`minifw.functional`, like a
dual number (:mod:`minifw.autodiff.dual`): it holds a value whose first
dimension is the batch and reports the shape of *one* example, so the
function inside sees the shapes it was written for.  Each primitive it meets
runs through the primitive's batching rule (``Primitive.batch`` in the
registry: one rule per kind of row, registered here), which turns the
per-example operation into one operation on the whole batch — ``x @ w`` on a
batch of vectors is one matrix product, ``sum(axis=0)`` becomes
``sum(axis=1)``.  Values can be eager tensors, numpy arrays or static symbols,
so ``jit(vmap(f))`` stages the batched graph.

A primitive without a rule (the convolution helpers ``im2col``/``col2im``, and
``getitem``/``scatter_add`` with advanced indices split by a slice) runs once
per batch element and the results are stacked: correct, slower, and said once
per primitive by a :class:`VmapLoopWarning`.

Nesting: every ``vmap`` and ``jvp`` takes the next transform level
(:data:`TRANSFORM_LEVELS`); the innermost transform has the highest
``_mf_priority`` and is handled first, as in JAX, so ``vmap(vmap(f))``,
``vmap(jvp)`` and ``jvp(vmap)`` keep their batch dimensions and tangents apart.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np

from minifw import functional as F
from minifw._opsmixin import OpsMixin
from minifw.eager.tensor import Tensor
from minifw.errors import MinifwError
from minifw.registry import subscribe

__all__ = ["vmap", "Batched", "VmapError", "VmapLoopWarning", "TRANSFORM_LEVELS"]

_BASE_PRIORITY = F.TRANSFORM_PRIORITY  # the same base as dual numbers: levels decide who is inner

TRANSFORM_LEVELS: list[int] = []
"""The levels of the vmap/jvp transforms now running, innermost last (forward mode uses this list too)."""


class VmapError(MinifwError, ValueError):
    """vmap was given axes or values that do not fit (the message names the argument and the shapes)."""


class VmapLoopWarning(UserWarning):
    """vmap met a primitive without a batching rule and runs it once per batch element."""


class Batched(OpsMixin):
    """A batch of values: ``value`` has the batch (``bsize`` long) as its first dimension;
    ``shape`` and ``dtype`` are one example's."""

    __slots__ = ("value", "bsize")
    _mf_priority = _BASE_PRIORITY
    level = 0
    __array_ufunc__ = None  # numpy defers to us: ``array * batched`` is batched

    def __init__(self, value, bsize: int):
        self.value = value
        self.bsize = bsize

    @property
    def shape(self) -> tuple:
        return F.shape_of(self.value)[1:]

    @property
    def dtype(self):
        return F.dtype_of(self.value)

    @classmethod
    def _mf_bind(cls, prim, args, params):
        batched = [type(a) is cls for a in args]
        size = next(a.bsize for a, b in zip(args, batched) if b)
        values = [a.value if b else a for a, b in zip(args, batched)]
        out = None
        if prim.batch is not None:
            out = prim.batch(prim, values, batched, size, **params)
        if out is None:  # no rule, or the rule declines this case
            out = _loop(prim, values, batched, size, **params)
        return cls(out, size)

    def __repr__(self) -> str:
        return f"Batched({self.bsize} x {self.shape}, {self.value!r})"


_LEVEL_CLASSES: dict[tuple[type, int], type] = {}


def level_class(base: type, level: int) -> type:
    """The subclass of a transform's value class (:class:`Batched`, a dual number) for transform level ``level``
    (cached): its ``_mf_priority`` is ``base._mf_priority + level``, so the inner transform is handled first."""
    if level == 0:
        return base
    cls = _LEVEL_CLASSES.get((base, level))
    if cls is None:
        cls = type(f"{base.__name__}{level}", (base,), {"__slots__": (), "level": level,
                                                         "_mf_priority": base._mf_priority + level})
        _LEVEL_CLASSES[(base, level)] = cls
    return cls


def batched_class(level: int) -> type:
    """The :class:`Batched` subclass for transform level ``level``."""
    return level_class(Batched, level)


# --- batching rules: (prim, values, batched, size, **params) -> value with the batch first, or None ----------
def _example_shape(v, b: bool) -> tuple:
    s = F.shape_of(v)
    return s[1:] if b else s


def _lift_rank(v, size: int, shape: tuple, rank: int):
    """A batched value of example ``shape`` with ones inserted after the batch dim up to ``rank`` example dims,
    so broadcasting against unbatched operands lines the batch up with nothing but itself."""
    if len(shape) >= rank:
        return v
    return F.reshape(v, (size,) + (1,) * (rank - len(shape)) + shape)


def _elementwise(prim, values, batched, size, **params):
    shapes = [_example_shape(v, b) for v, b in zip(values, batched)]
    rank = len(np.broadcast_shapes(*shapes)) if shapes else 0
    args = [_lift_rank(v, size, s, rank) if b else v for v, b, s in zip(values, batched, shapes)]
    return F.bind(prim, *args, **params)


def _reduce(prim, values, batched, size, axis, keepdims):
    v = values[0]
    if prim.name in ("argmax", "argmin") and len(axis) != 1:  # they take one axis or all: flatten each example
        shape = _example_shape(v, True)
        if not axis:  # a 0-d example: its only element
            out = F.cast(F.reshape(v, (size,)) * 0.0, np.int64)
        else:
            out = F.bind(prim, F.reshape(v, (size, -1)), axis=(1,), keepdims=False)
        return F.reshape(out, (size,) + (1,) * len(shape)) if keepdims and shape else out
    return F.bind(prim, v, axis=tuple(a + 1 for a in axis), keepdims=keepdims)


def _along_axis(prim, values, batched, size, axis):  # softmax, log_softmax
    return F.bind(prim, values[0], axis=axis + 1)


def _matmul(prim, values, batched, size):
    """numpy's matmul on examples: 1-D operands become matrices ((1, k) on the left, (k, 1) on the right), the
    batched ones get ones after the batch dim until the batch is the leading broadcast dim, and the result is
    reshaped to one example's result shape after the batch."""
    (x, y), (bx, by) = values, batched
    sx, sy = _example_shape(x, bx), _example_shape(y, by)
    out_shape, _ = prim.shape_rule([sx, sy], [F.dtype_of(x), F.dtype_of(y)])
    # one matrix product where the batch folds into rows (numpy's stacked matmul would loop over the examples)
    if bx and not by and len(sx) <= 2 and len(sy) <= 2:  # batch of vectors or matrices times a shared matrix
        rows = x if len(sx) == 1 else F.reshape(x, (size * sx[0], sx[1]))
        return F.reshape(F.bind(prim, rows, y), (size,) + tuple(out_shape))
    if by and not bx and len(sy) == 1 and len(sx) <= 2:  # a shared matrix times a batch of vectors: Y @ x.T
        return F.bind(prim, y, F.transpose(x) if len(sx) == 2 else x)
    if by and not bx and len(sy) == 2 and len(sx) == 2:  # a shared matrix times a batch of matrices (matmul's
        # vjp under a batch of cotangents, jacrev): x @ [y_1 ... y_b] side by side, one product
        (k, p), n = sy, sx[0]
        wide = F.reshape(F.permute(y, (1, 0, 2)), (k, size * p))
        return F.permute(F.reshape(F.bind(prim, x, wide), (n, size, p)), (1, 0, 2))
    if len(sx) == 1:
        x = F.reshape(x, ((size,) if bx else ()) + (1,) + sx)
    if len(sy) == 1:
        y = F.reshape(y, ((size,) if by else ()) + sy + (1,))
    rank = max(len(sx), len(sy), 2)  # example rank each batched operand needs: then its batch dim leads
    if bx:
        x = _lift_rank(x, size, F.shape_of(x)[1:], rank)
    if by:
        y = _lift_rank(y, size, F.shape_of(y)[1:], rank)
    return F.reshape(F.bind(prim, x, y), (size,) + tuple(out_shape))


def _reshape(prim, values, batched, size, shape):
    return F.bind(prim, values[0], shape=(size,) + tuple(shape))


def _transpose(prim, values, batched, size, axes):
    return F.bind(prim, values[0], axes=(0,) + tuple(a + 1 for a in axes))


def _broadcast_to(prim, values, batched, size, shape):
    v = _lift_rank(values[0], size, _example_shape(values[0], True), len(shape))
    return F.bind(prim, v, shape=(size,) + tuple(shape))


def _concatenate(prim, values, batched, size, axis):
    vs = [v if b else F.broadcast_to(v, (size,) + F.shape_of(v)) for v, b in zip(values, batched)]
    return F.bind(prim, *vs, axis=axis + 1)


def _split_advanced(index) -> bool:
    """Whether advanced (array) indices are separated by a slice: numpy then moves their dims to the front,
    before the batch dim, so a leading ``:`` would not commute."""
    at = [k for k, i in enumerate(index) if isinstance(i, np.ndarray)]
    return bool(at) and at[-1] - at[0] + 1 != len(at)


def _getitem(prim, values, batched, size, index):
    if _split_advanced(index):
        return None
    return F.bind(prim, values[0], index=(slice(None),) + tuple(index))


def _scatter_add(prim, values, batched, size, index, shape):
    if _split_advanced(index):
        return None
    return F.bind(prim, values[0], index=(slice(None),) + tuple(index), shape=(size,) + tuple(shape))


def _fold_into_n(lead: tuple, shape_param: str | None = None):
    """A rule for an NCHW row whose operands at ``lead`` carry the examples' N: a batch of such calls is one call
    on N·batch images (each image is computed on its own), reshaped back.  The first of ``lead`` must be batched;
    another operand at ``lead`` that is shared (max pooling's index, saved by the forward pass, under a batch of
    cotangents: ``jacrev``) is repeated for every example.  Other patterns (batched filters) return None: the
    loop."""
    def rule(prim, values, batched, size, **params):
        if not batched[lead[0]] or any(b and k not in lead for k, b in enumerate(batched)):
            return None
        values = [F.broadcast_to(v, (size,) + F.shape_of(v)) if k in lead and not b else v
                  for k, (v, b) in enumerate(zip(values, batched))]
        args = [F.reshape(v, (size * F.shape_of(v)[1],) + tuple(F.shape_of(v)[2:])) if k in lead else v
                for k, v in enumerate(values)]
        if shape_param is not None:
            s = tuple(params[shape_param])
            params = {**params, shape_param: (size * s[0],) + s[1:]}
        out = F.bind(prim, *args, **params)
        s = F.shape_of(out)
        return F.reshape(out, (size, s[0] // size) + tuple(s[1:]))
    return rule


_warned: set[str] = set()


def _loop(prim, values, batched, size, **params):
    """The fallback: one call per batch element, stacked."""
    if prim.name not in _warned:
        _warned.add(prim.name)
        warnings.warn(f"vmap: {prim.name} has no batching rule for these operands; it runs once per batch element "
                      f"({size} calls) and the results are stacked", VmapLoopWarning, stacklevel=4)
    outs = [F.bind(prim, *[F.getitem(v, k) if b else v for v, b in zip(values, batched)], **params)
            for k in range(size)]
    return F.stack(outs, axis=0)


_BY_KIND = {"unary": _elementwise, "binary": _elementwise, "compare": _elementwise, "ternary": _elementwise,
            "unary_cast": _elementwise, "reduce": _reduce, "matmul": _matmul}
_BY_NAME = {"reshape": _reshape, "transpose": _transpose, "broadcast_to": _broadcast_to,
            "concatenate": _concatenate, "getitem": _getitem, "scatter_add": _scatter_add,
            "softmax": _along_axis, "log_softmax": _along_axis,
            "allreduce": _elementwise,  # minifw.distributed's row: an elementwise sum over ranks, one call per batch
            # the convolution rows: the batch folds into the images' N (conv2d_weight_grad sums over N: a loop)
            "conv2d": _fold_into_n((0,)), "conv2d_input_grad": _fold_into_n((0,), "x_shape"),
            "pool_argmax": _fold_into_n((0,)), "pool_gather": _fold_into_n((0, 1)),
            "pool_scatter": _fold_into_n((0, 1), "x_shape")}


def _register(prim) -> None:
    if prim.batch is None:
        prim.batch = _BY_NAME.get(prim.name) or _BY_KIND.get(prim.kind)


def _unregister(prim) -> None:
    pass


subscribe(_register, _unregister)  # every row now, and every row registered later


# --- the transform ----------------------------------------------------------------------------------------------
def _axes(spec, n: int, what: str) -> list:
    if spec is None or isinstance(spec, (int, np.integer)):
        return [spec] * n
    spec = list(spec)
    if len(spec) != n:
        verb = "takes" if what == "in_axes" else "returns"
        raise VmapError(f"vmap: {what} has {len(spec)} entries but the function {verb} {n} value(s)")
    return spec


def move_axis(v, src: int, dst: int):
    """``v`` with its axis ``src`` moved to ``dst`` (numpy's ``moveaxis``, on any value ``F`` ops take)."""
    nd = len(F.shape_of(v))
    src, dst = src % nd, dst % nd
    if src == dst:
        return v
    order = [k for k in range(nd) if k != src]
    order.insert(dst, src)
    return F.permute(v, tuple(order))


def vmap(fun: Callable, in_axes: int | None | Sequence[int | None] = 0,
         out_axes: int | Sequence[int] = 0) -> Callable:
    """``vmap(f)(X)`` equals ``stack([f(x) for x in X])``, computed in one pass.

    ``in_axes``: per argument, the axis to map over, or ``None`` for an argument shared by every example (one
    int or None for all arguments).  ``out_axes``: where the batch goes in each output (one for all, or one per
    output of a tuple/list).  Arguments are arrays, tensors or symbols; numpy arrays in give numpy arrays out.
    """

    def wrapped(*args):
        axes = _axes(in_axes, len(args), "in_axes")
        level = len(TRANSFORM_LEVELS) + 1
        cls = batched_class(level)
        size, call = None, []
        plain = not any(hasattr(type(a), "_mf_priority") for a in args)  # no tensor, symbol or dual: arrays out
        for k, (a, ax) in enumerate(zip(args, axes)):
            if ax is None:
                call.append(a)
                continue
            if isinstance(a, (list, tuple)) or np.isscalar(a) or isinstance(a, np.ndarray):
                a = np.asarray(a)
            shape = F.shape_of(a)
            if not -len(shape) <= ax < max(len(shape), 1) or not shape:
                raise VmapError(f"vmap: in_axes {ax} is out of range for argument {k} of shape {shape}")
            n = shape[ax]
            if size is not None and n != size:
                raise VmapError(f"vmap: argument {k} has size {n} along axis {ax} (shape {shape}), but an earlier "
                                f"argument has batch size {size}")
            size = n
            call.append(cls(move_axis(a, ax, 0), n))
        if size is None:
            raise VmapError("vmap: in_axes names no axis to map over (every entry is None)")
        TRANSFORM_LEVELS.append(level)
        try:
            out = fun(*call)
        finally:
            TRANSFORM_LEVELS.pop()
        many = isinstance(out, (tuple, list))
        outs = list(out) if many else [out]
        oaxes = _axes(out_axes, len(outs), "out_axes")
        result = []
        for o, ax in zip(outs, oaxes):
            if type(o) is cls:
                v = o.value
            else:  # does not depend on a mapped argument: the same for every example
                v = F.broadcast_to(o, (size,) + F.shape_of(o))
            v = move_axis(v, 0, ax)
            result.append(v.data if plain and isinstance(v, Tensor) else v)
        return type(out)(result) if many else result[0]

    return wrapped
