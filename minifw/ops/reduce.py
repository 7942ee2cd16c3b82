"""Reductions: sum, mean, max, min, argmax, argmin over any axes.

``axis`` is always a canonical sorted tuple of non-negative ints by the time
a primitive sees it (the functional front does the normalising), so two
nodes with the same reduction compare equal in the static compiler.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F

from . import shapes
from .registry import Primitive, register


def _keep_shape(x_shape, axis):
    return tuple(1 if i in axis else d for i, d in enumerate(x_shape))


def _expand(g, x, axis, keepdims):
    """Broadcast a reduced cotangent back to the shape of ``x``."""
    xs = F.shape_of(x)
    if not keepdims:
        g = F.reshape(g, _keep_shape(xs, axis))
    return F.broadcast_to(g, xs)


def _count(x, axis):
    xs = F.shape_of(x)
    n = 1
    for a in axis:
        n *= xs[a]
    return n


def _reduce(name, impl, vjp, jvp, notation):
    p = register(
        Primitive(
            name=name, kind="reduce", nin=1, impl=impl,
            shape_rule=lambda shp, dts, **kw: shapes.reduce_rule(p, shp, dts, **kw),
            vjps=[vjp], jvp=jvp, notation=notation, params=("axis", "keepdims"),
            differentiable=vjp is not None,
        )
    )
    return p


def _extremum_vjp(g, out, x, axis, keepdims):
    # The gradient is split evenly between tied extrema (as in PyTorch's amax).
    o = _expand(out, x, axis, keepdims)
    mask = F.eq_float(x, o)
    count = _expand(F.sum(mask, axis=axis, keepdims=True), x, axis, True)
    return _expand(g, x, axis, keepdims) * mask / count


def _extremum_jvp(tangents, out, x, axis, keepdims):
    o = _expand(out, x, axis, keepdims)
    mask = F.eq_float(x, o)
    count = F.sum(mask, axis=axis, keepdims=keepdims)
    return F.sum(tangents[0] * mask, axis=axis, keepdims=keepdims) / count


SUM = _reduce(
    "sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    lambda g, out, x, axis, keepdims: _expand(g, x, axis, keepdims),
    lambda t, out, x, axis, keepdims: F.sum(t[0], axis=axis, keepdims=keepdims),
    "Σ {0}",
)
MEAN = _reduce(
    "mean", lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
    lambda g, out, x, axis, keepdims: _expand(g, x, axis, keepdims) * (1.0 / _count(x, axis)),
    lambda t, out, x, axis, keepdims: F.mean(t[0], axis=axis, keepdims=keepdims),
    "mean {0}",
)
MAX = _reduce("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
              _extremum_vjp, _extremum_jvp, "max {0}")
MIN = _reduce("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
              _extremum_vjp, _extremum_jvp, "min {0}")


def _arg(fn):
    def impl(x, axis, keepdims):
        if len(axis) != 1:
            flat = np.asarray(x).reshape(-1) if len(axis) == np.ndim(x) else None
            if flat is None:
                raise ValueError("argmax/argmin take a single axis or all axes")
            r = fn(flat)
            return np.reshape(r, (1,) * np.ndim(x)) if keepdims else np.asarray(r)
        return np.asarray(fn(x, axis=axis[0], keepdims=keepdims))

    return impl


ARGMAX = _reduce("argmax", _arg(np.argmax), None, lambda t, out, x, axis, keepdims: None, "argmax {0}")
ARGMIN = _reduce("argmin", _arg(np.argmin), None, lambda t, out, x, axis, keepdims: None, "argmin {0}")
