"""Forward mode and Jacobians, in JAX's shape.

``jvp`` runs a function once on dual numbers (:mod:`minifw.autodiff.dual`):
every primitive's ``jvp`` rule carries the tangent along with the value.
``jacfwd`` pushes one basis tangent per input element (cheap when inputs are
few); ``jacrev`` pulls one basis cotangent per output element back through
the pullback of one :func:`minifw.autodiff.reverse.vjp` (cheap when outputs
are few);
``hessian`` is reverse over forward.

All of them work on eager functions: plain Python floats stay floats (the
scalar path through the registry's ``scalar`` functions), tensors stay
tensors, numpy arrays and lists come back as numpy arrays.

Note: the static/jit frontends (``minifw.static``, ``minifw.jit``) are not
here yet.  These transforms only use :mod:`minifw.functional` and the
registry's rules, so once a traced function's ops go through ``bind`` they
run under ``jit`` unchanged; the hook to wire is ``Dual._mf_bind`` over
symbols (the primal ``bind`` stages a node, the jvp rule stages its tangent).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from minifw import functional as F
from minifw.eager.tensor import Tensor, _wrap
from minifw.errors import TransformError
from minifw.vmap import TRANSFORM_LEVELS, vmap

from .dual import Dual, dual_class
from .reverse import _argnums, vjp


def _lift(x):
    """Inputs: floats stay floats, tensors stay tensors, arrays become tensors."""
    if isinstance(x, (float, int)) and not isinstance(x, bool):
        return float(x), "float"
    if isinstance(x, Tensor) or hasattr(type(x), "_mf_priority"):
        return x, "tensor"
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return _wrap(arr), "array"


def _lower(x, kind: str):
    if type(x) is complex:  # a float path met a power of a negative number: numpy's answer, as grad gives
        warnings.warn("jvp: invalid value encountered (the result is not a real number)", RuntimeWarning,
                      stacklevel=4)
        return float("nan")
    if kind == "tensor" or not isinstance(x, Tensor) or x.requires_grad:
        return x  # a tensor on an enclosing transform's tape stays a tensor
    return x.data


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any]):
    """``(f(*primals), J_f(primals) @ tangents)`` in one forward pass.

    >>> import minifw.functional as F
    >>> y, t = jvp(F.sin, (0.0,), (2.0,))
    >>> y, t
    (0.0, 2.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise TransformError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    level = len(TRANSFORM_LEVELS) + 1
    cls = dual_class(level)
    args, kinds = [], []
    for p, t in zip(primals, tangents):
        p, kind = _lift(p)
        t, _ = _lift(t)
        if F.shape_of(p) != F.shape_of(t):
            raise TransformError(f"jvp: a tangent has shape {F.shape_of(t)} but its primal has shape "
                                 f"{F.shape_of(p)}")
        if isinstance(p, Dual) and getattr(type(t), "_mf_priority", 0) < type(p)._mf_priority:
            # Nested forward mode: lift the tangent to the enclosing level (a
            # constant there) so ``tangent * partial`` dispatches on the dual.
            t = type(p)(t, F.zeros_like(t))
        args.append(cls(p, t))
        kinds.append(kind)
    TRANSFORM_LEVELS.append(level)
    try:
        out = fun(*args)
    finally:
        TRANSFORM_LEVELS.pop()
    kind = "tensor" if "tensor" in kinds else ("array" if "array" in kinds else "float")

    def split(o):
        if type(o) is cls:
            return _lower(o.primal, kind), _lower(o.tangent, kind)
        return _lower(o, kind), _lower(F.zeros_like(o) if not isinstance(o, (int, float)) else 0.0, kind)

    if isinstance(out, (tuple, list)):
        pairs = [split(o) for o in out]
        return type(out)(p for p, _ in pairs), type(out)(t for _, t in pairs)
    return split(out)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _size(x) -> int:
    return _numel(F.shape_of(x))


def _float_dtype(x):
    dt = F.dtype_of(x)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def _eye(n: int, shape: tuple, dtype):
    """The ``n`` basis directions of ``shape``, stacked: shape ``(n,) + shape``, as a constant."""
    return _wrap(np.eye(n, dtype=dtype).reshape((n,) + tuple(shape)))


def _kind(lifted) -> str:
    kinds = [k for _, k in lifted]
    return "tensor" if "tensor" in kinds else ("array" if "array" in kinds else "float")


def _batch_last(j, n: int, out_shape: tuple, in_shape: tuple):
    """``(n,) + out_shape`` (one row per input direction) -> ``out_shape + in_shape``."""
    m = _numel(out_shape)
    return F.reshape(F.transpose(F.reshape(j, (n, m))), tuple(out_shape) + tuple(in_shape))


def jacfwd(fun: Callable, argnums=0) -> Callable:
    """The Jacobian by forward mode: all the basis tangents pushed in one pass
    (:func:`minifw.vmap.vmap` over :func:`jvp`).

    The result has shape ``out.shape + in.shape`` (a tuple of them when
    ``argnums`` is a tuple).
    """

    def wrapped(*args):
        single, nums = _argnums(argnums, len(args))
        lifted = [_lift(a) for a in args]
        kind = _kind(lifted)
        results = []
        for i in nums:
            x = lifted[i][0]
            in_shape = F.shape_of(x)

            def push(t, i=i, x=x):
                def f_i(xi):
                    call = [a for a, _ in lifted]
                    call[i] = xi
                    return fun(*call)

                return jvp(f_i, (x,), (t,))[1]

            if not in_shape:  # one direction: no batch to make (a float stays a float)
                j = push(_wrap(np.ones((), _float_dtype(x))) if isinstance(x, Tensor) else 1.0)
            elif _size(x) == 1:  # one direction: one jvp, shaped out.shape + in.shape
                t = push(_wrap(np.ones(in_shape, _float_dtype(x))))
                j = F.reshape(t, F.shape_of(t) + tuple(in_shape))
            else:
                n = _size(x)
                cols = vmap(push)(_eye(n, in_shape, _float_dtype(x)))
                j = _batch_last(cols, n, F.shape_of(cols)[1:], in_shape)
            results.append(_lower(j, kind) if kind != "float" or not isinstance(j, Tensor) else j.data)
        return results[0] if single else tuple(results)

    return wrapped


def jacrev(fun: Callable, argnums=0) -> Callable:
    """The Jacobian by reverse mode: one forward pass, then all the basis cotangents pulled back at once.

    As in JAX and ``torch.func``: :func:`minifw.autodiff.reverse.vjp` runs ``fun`` once and
    :func:`minifw.vmap.vmap` maps its pullback over the rows of the identity (``(m,) + out.shape``,
    one per output element).  The values the forward pass saved are shared by every row; only the
    cotangent is batched, so each vjp rule runs once on the whole batch (row k is ``e_k^T J``).
    Under an enclosing ``vmap`` (per-example Jacobians) the rows' batch stays the inner one."""

    def wrapped(*args):
        single, nums = _argnums(argnums, len(args))
        out, pullback = vjp(fun, *args, argnums=nums)
        out_shape = F.shape_of(out)
        m = _size(out)
        dtype = _float_dtype(out)
        if m == 1:  # one row: the pullback of 1, no batch to make
            rows = [(g, bool(out_shape)) for g in pullback(np.ones(out_shape, dtype=dtype))]
        else:
            rows = [(g, True) for g in vmap(pullback)(_eye(m, out_shape, np.dtype(dtype)))]
        results = []
        for (g, stacked), i in zip(rows, nums):
            in_shape = F.shape_of(args[i]) if not isinstance(args[i], (list, tuple)) else np.shape(args[i])
            j = F.reshape(g, tuple(out_shape) + tuple(in_shape)) if stacked else g
            if not isinstance(args[i], Tensor) and isinstance(j, Tensor):
                j = j.data
            results.append(j)
        return results[0] if single else tuple(results)

    return wrapped


def hessian(fun: Callable, argnums=0) -> Callable:
    """Second derivatives of scalar ``fun``: reverse mode over forward mode
    (``jacrev(jacfwd(f))``): n tangent passes, each differentiated once more.

    With a tuple ``argnums`` the result is nested: ``H[i][j]`` is
    d²f / d args[i] d args[j]."""
    if isinstance(argnums, int):
        return jacrev(jacfwd(fun, argnums), argnums)

    def wrapped(*args):
        return tuple(tuple(jacrev(jacfwd(fun, i), j)(*args) for j in argnums) for i in argnums)

    return wrapped


__all__ = ["jvp", "jacfwd", "jacrev", "hessian", "Dual"]
