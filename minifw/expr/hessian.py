"""Second derivatives of a parsed expression: forward over reverse, all directions in one pass.

The expression's steps run once on :class:`Tangents`: a float carrying a
batch of ``n`` tangents at once (a numpy array of shape ``(n,)``).  Variable
``x_i`` is seeded with the ``i``-th basis vector, so every value carries its
whole gradient.  The reverse sweep then runs on those numbers: the adjoint of
step ``k`` comes out as a :class:`Tangents` whose primal is ``∂y/∂v_k`` and
whose tangents are ``∂²y/∂v_k∂x_j`` for every ``j``, so the adjoint of ``x_i``
is ``(∂y/∂x_i, row i of the Hessian)``.

One forward and one reverse sweep, each step doing O(n) numpy work: O(steps ×
n) in all, where one reverse-over-forward pass per pair of variables costs
O(steps × n²) (a 120-variable sum took 23 s that way).  The local second
derivatives come from the registry's rules, as everything else does: each
primitive's ``partials`` evaluated on :class:`Tangents`, whose ``_mf_bind``
applies the ``jvp`` rule (built from the same partials).
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw._opsmixin import OpsMixin
from minifw.registry import _REGISTRY

from .parser import ExprError

MAX_HESSIAN_VARIABLES = 500
"""The most variables :func:`hessian` takes: a 500×500 matrix is already more than anyone reads, and the
sweep holds ``n`` floats per step of the expression (twice)."""

_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


class Tangents(OpsMixin):
    """``primal + ε·tangent`` with ``tangent`` a numpy vector: forward mode in ``n`` directions at once.

    A float-only interpreter for :mod:`minifw.functional` (elementwise
    primitives): the primal comes from the primitive's scalar function, the
    tangents from its ``jvp`` rule, which multiplies each input's tangent
    vector by the local partial (a float).
    """

    __slots__ = ("primal", "tangent")
    _mf_priority = 5
    __array_ufunc__ = None  # ndarray * Tangents defers to Tangents.__rmul__

    def __init__(self, primal: float, tangent: np.ndarray):
        self.primal = primal
        self.tangent = tangent

    @classmethod
    def _mf_bind(cls, prim, args, params):
        primals, tangents = [], []
        for a in args:
            if type(a) is cls:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
        out = F.bind(prim, *primals, **params)
        if isinstance(out, complex):
            raise ValueError("the result is not a real number")
        t = prim.jvp(tangents, out, *primals, **params) if prim.jvp is not None else None
        return out if t is None else cls(out, t)

    shape = ()  # a scalar to the functional helpers (eq_float in max/min's rules asks)
    dtype = np.dtype(np.float64)

    def __float__(self) -> float:
        return float(self.primal)

    def __repr__(self) -> str:
        return f"Tangents({self.primal!r}, {self.tangent!r})"


def check_size(ex) -> None:
    """Refuse, before any work, an expression with more than :data:`MAX_HESSIAN_VARIABLES` variables."""
    n = len(ex.variables)
    if n > MAX_HESSIAN_VARIABLES:
        raise ExprError(f"the Hessian is limited to {MAX_HESSIAN_VARIABLES} variables; this expression has {n}",
                        ex.text, None)


def hessian(ex, point) -> np.ndarray:
    """The Hessian of expression ``ex`` at ``point`` (variable -> float): an ``(n, n)`` float64 array, rows
    and columns in ``ex.variables`` order.  A row whose second derivative is undefined there (``x**1.5`` at
    0) is refused with its column."""
    check_size(ex)
    ex.check_point(point)
    names = ex.variables
    n = len(names)
    basis = np.eye(n)
    env = {v: Tangents(float(point[v]), basis[i]) for i, v in enumerate(names)}
    vals: list = []

    def get(a):
        return env[a[1]] if a[0] == "var" else (vals[a[1]] if a[0] == "step" else a[1])

    with np.errstate(all="ignore"):  # an inf in a tangent is a value to report, as the gradient's is
        for k, st in enumerate(ex.steps):  # forward: every value with its gradient
            try:
                vals.append(F.bind(_REGISTRY[st.prim], *(get(a) for a in st.args)))
            except _ERRORS as e:
                raise ex._located(e, k, st) from None

        kind, ref = ex.result
        if kind != "step":  # a variable or a constant: no second derivatives
            return np.zeros((n, n))
        adjoint: dict = {("step", ref): Tangents(1.0, np.zeros(n))}
        for k in range(len(ex.steps) - 1, -1, -1):  # reverse, on values that carry tangents
            g = adjoint.pop(("step", k), None)
            if g is None:
                continue
            st = ex.steps[k]
            prim = _REGISTRY[st.prim]
            args = [get(a) for a in st.args]
            for i, a in enumerate(st.args):
                if a[0] == "const" or prim.partials is None:
                    continue
                try:
                    term = g * prim.partials[i](*args, vals[k])
                except _ERRORS as e:
                    raise ex._located(ValueError(f"its derivatives are undefined here, so is the Hessian ({e})"),
                                      k, st) from None
                key = (a[0], a[1])
                adjoint[key] = term if key not in adjoint else adjoint[key] + term
    rows = []
    for v in names:
        a = adjoint.get(("var", v))
        rows.append(a.tangent if isinstance(a, Tangents) else np.zeros(n))
    return np.array(rows, dtype=np.float64).reshape(n, n)


__all__ = ["hessian", "check_size", "Tangents", "MAX_HESSIAN_VARIABLES"]
