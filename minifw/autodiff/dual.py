"""Dual numbers: forward mode as arithmetic on ``a + ε b`` with ``ε² = 0``.

``sin(a + ε b) = sin a + ε b cos a``: the ε part of any result is the
directional derivative.  A :class:`Dual` is an interpreter for
:mod:`minifw.functional` (via ``_mf_bind``): the primal runs with whatever the
parts are (floats, tensors, other duals) and the tangent comes from the
primitive's ``jvp`` rule in the registry (for elementwise ops, built from the
same local ``partials`` the trace tables print).

>>> import math, minifw.functional as F
>>> from minifw.autodiff.dual import Dual, EPS
>>> a, b = 0.5, 3.0
>>> F.sin(a + EPS * b) == Dual(math.sin(a), b * math.cos(a))
True

Nesting (forward over forward) uses one subclass per level, so a dual of a
dual never confuses its perturbations: the innermost transformation has the
highest ``_mf_priority`` and is handled first, as in JAX.
"""

from __future__ import annotations

from minifw import functional as F
from minifw._opsmixin import OpsMixin
from minifw.vmap import level_class

_BASE_PRIORITY = F.TRANSFORM_PRIORITY


class Dual(OpsMixin):
    """``primal + ε·tangent``.  Works on floats and on tensors."""

    __slots__ = ("primal", "tangent")
    _mf_priority = _BASE_PRIORITY
    level = 0
    __array_ufunc__ = None  # numpy refuses to run on duals, so ``tensor * dual`` defers to the dual

    def __init__(self, primal, tangent=0.0):
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
        if prim.jvp is None:
            raise NotImplementedError(f"{prim.name} has no jvp rule, so forward mode cannot pass through it")
        t = prim.jvp(tangents, out, *primals, **params)
        if t is None:  # comparisons, argmax...: no tangent
            return out
        shape = F.shape_of(out)
        if F.shape_of(t) != shape:  # a broadcast input's tangent
            t = F.broadcast_to(t + 0.0 * out, shape)
        return cls(out, t)

    # --- what a number-like object needs ---------------------------------------------
    @property
    def shape(self) -> tuple:
        return F.shape_of(self.primal)

    @property
    def dtype(self):
        return F.dtype_of(self.primal)

    def __eq__(self, other) -> bool:  # type: ignore[override]
        """Equal parts (floats), for the lesson's ``sin(a + εb) == ...``."""
        if not isinstance(other, Dual):
            return NotImplemented
        return bool(_close(self.primal, other.primal) and _close(self.tangent, other.tangent))

    __hash__ = None  # type: ignore[assignment]

    def __float__(self) -> float:
        return float(self.primal)

    def __repr__(self) -> str:
        return f"Dual({self.primal!r}, {self.tangent!r})"

    def __str__(self) -> str:
        return f"{self.primal} + {self.tangent}ε"


def _close(x, y) -> bool:
    import math

    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300) or x == y
    import numpy as np

    return bool(np.allclose(np.asarray(x), np.asarray(y), rtol=1e-12, atol=0))


EPS = Dual(0.0, 1.0)
"""The infinitesimal: ``a + EPS * b`` is the dual number ``a + εb``."""

def dual_class(level: int) -> type:
    """The :class:`Dual` subclass for nesting level ``level`` (cached)."""
    return level_class(Dual, level)


__all__ = ["Dual", "EPS", "dual_class"]
