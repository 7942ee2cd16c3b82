"""Forward mode and Jacobians, in JAX's shape.

``jvp`` runs a function once on dual numbers (:mod:`minifw.autodiff.dual`):
every primitive's ``jvp`` rule carries the tangent along with the value.
``jacfwd`` pushes one basis tangent per input element (cheap when inputs are
few); ``jacrev`` pulls one basis cotangent per output element through
:func:`minifw.autodiff.reverse.vjp` (cheap when outputs are few);
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

import itertools
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from minifw import functional as F
from minifw.eager.tensor import Tensor, _wrap

from .dual import Dual, dual_class
from .reverse import _argnums, vjp

_DEPTH = itertools.count(1)
_active: list[int] = []


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
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    level = len(_active) + 1
    cls = dual_class(level)
    args, kinds = [], []
    for p, t in zip(primals, tangents):
        p, kind = _lift(p)
        t, _ = _lift(t)
        if F.shape_of(p) != F.shape_of(t):
            raise ValueError(f"jvp: a tangent has shape {F.shape_of(t)} but its primal has shape {F.shape_of(p)}")
        if isinstance(p, Dual) and not isinstance(t, Dual):
            # Nested forward mode: lift the tangent to the enclosing level (a
            # constant there) so ``tangent * partial`` dispatches on the dual.
            t = type(p)(t, F.zeros_like(t))
        args.append(cls(p, t))
        kinds.append(kind)
    _active.append(level)
    try:
        out = fun(*args)
    finally:
        _active.pop()
    kind = "tensor" if "tensor" in kinds else ("array" if "array" in kinds else "float")

    def split(o):
        if type(o) is cls:
            return _lower(o.primal, kind), _lower(o.tangent, kind)
        return _lower(o, kind), _lower(F.zeros_like(o) if not isinstance(o, (int, float)) else 0.0, kind)

    if isinstance(out, (tuple, list)):
        pairs = [split(o) for o in out]
        return type(out)(p for p, _ in pairs), type(out)(t for _, t in pairs)
    return split(out)


def _basis(x, k: int):
    """The k-th basis direction shaped like ``x``, as a constant."""
    if not isinstance(x, Tensor) and F.shape_of(x) == ():
        return 1.0  # a float, or a dual of a float (nested transforms)
    e = np.zeros(x.shape, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    e.reshape(-1)[k] = 1.0
    return _wrap(e)


def _size(x) -> int:
    n = 1
    for s in F.shape_of(x):
        n *= s
    return n


def _assemble(cols, out_shape, in_shape, axis_last: bool):
    """Stack flat columns/rows into a Jacobian of shape out_shape + in_shape."""
    if len(cols) == 1 and not out_shape and not in_shape:
        return cols[0]
    if all(isinstance(c, (float, np.ndarray)) for c in cols):
        flat = [np.asarray(c).reshape(-1) for c in cols]
        return np.stack(flat, axis=-1 if axis_last else 0).reshape(tuple(out_shape) + tuple(in_shape))
    flat = [F.reshape(c, (-1,)) if hasattr(type(c), "_mf_priority") else _wrap(np.asarray(c).reshape(-1))
            for c in cols]
    j = F.stack(flat, axis=-1 if axis_last else 0)
    return F.reshape(j, tuple(out_shape) + tuple(in_shape))


def jacfwd(fun: Callable, argnums=0) -> Callable:
    """The Jacobian by forward mode: one jvp per input element.

    The result has shape ``out.shape + in.shape`` (a tuple of them when
    ``argnums`` is a tuple).
    """

    def wrapped(*args):
        single, nums = _argnums(argnums, len(args))
        lifted = [_lift(a) for a in args]
        kind = "tensor" if any(k == "tensor" for _, k in lifted) else (
            "array" if any(k == "array" for _, k in lifted) else "float")
        results = []
        for i in nums:
            x = lifted[i][0]
            cols, out_shape = [], ()
            for k in range(_size(x)):
                def f_i(xi, i=i):
                    call = [a for a, _ in lifted]
                    call[i] = xi
                    return fun(*call)

                out, t = jvp(f_i, (x,), (_basis(x, k),))
                out_shape = F.shape_of(out)
                cols.append(t)
            j = _assemble(cols, out_shape, F.shape_of(x), axis_last=True)
            results.append(_lower(j, kind) if kind != "float" or isinstance(j, (float, np.ndarray)) else j.data)
        return results[0] if single else tuple(results)

    return wrapped


def jacrev(fun: Callable, argnums=0) -> Callable:
    """The Jacobian by reverse mode: one vjp per output element."""

    def wrapped(*args):
        single, nums = _argnums(argnums, len(args))
        out, pullback = vjp(fun, *args, argnums=nums)
        out_shape = F.shape_of(out)
        m = _size(out)
        dtype = out.data.dtype if isinstance(out, Tensor) else np.float64
        rows: list[list] = [[] for _ in nums]
        for k in range(m):
            ct = np.zeros(out_shape, dtype=dtype)
            ct.reshape(-1)[k] = 1.0
            for r, g in zip(rows, pullback(ct)):
                r.append(g)
        results = []
        for r, i in zip(rows, nums):
            in_shape = F.shape_of(args[i]) if not isinstance(args[i], (list, tuple)) else np.shape(args[i])
            j = _assemble(r, out_shape, in_shape, axis_last=False)
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
