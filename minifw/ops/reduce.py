"""Reductions: sum, mean, max, min, argmax, argmin over any axes.

``axis`` is always a canonical sorted tuple of non-negative ints by the time
a primitive sees it (the functional front does the normalising), so two
nodes with the same reduction compare equal in the static compiler.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw import shapes
from minifw.registry import _REGISTRY, Primitive, register

# The ufuncs' reduce methods directly: np.sum/np.max add ~1 µs of Python
# wrapper per call, which the eager path pays on every small reduction.
_add_reduce = np.add.reduce
_max_reduce = np.maximum.reduce
_min_reduce = np.minimum.reduce


def _mean(x, axis, keepdims):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return np.mean(x, axis=axis, keepdims=keepdims)
    n = 1
    for a in axis:
        n *= x.shape[a]
    s = _add_reduce(x, axis=axis, keepdims=keepdims)
    return s / x.dtype.type(n) if n else s * x.dtype.type(np.nan)


def _keep_shape(x_shape, axis):
    return tuple(1 if i in axis else d for i, d in enumerate(x_shape))


def _expand(g, x, axis, keepdims):
    """Broadcast a reduced cotangent back to the shape of ``x``."""
    xs = F.shape_of(x)
    if not keepdims:
        ks = _keep_shape(xs, axis)
        if F.shape_of(g) != ks:
            g = F.bind(_REGISTRY["reshape"], g, shape=ks)
    return g if F.shape_of(g) == xs else F.bind(_REGISTRY["broadcast_to"], g, shape=xs)


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
            differentiable=vjp is not None, method=True, public=True,  # x.sum(dim=1), mf.sum
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
    "sum", lambda x, axis, keepdims: _add_reduce(x, axis=axis, keepdims=keepdims),
    lambda g, out, x, axis, keepdims: _expand(g, x, axis, keepdims),
    lambda t, out, x, axis, keepdims: F.sum(t[0], axis=axis, keepdims=keepdims),
    "Σ {0}",
)
MEAN = _reduce(
    "mean", lambda x, axis, keepdims: _mean(x, axis, keepdims),
    lambda g, out, x, axis, keepdims: _expand(g, x, axis, keepdims) * (1.0 / _count(x, axis)),
    lambda t, out, x, axis, keepdims: F.mean(t[0], axis=axis, keepdims=keepdims),
    "mean {0}",
)
MAX = _reduce("max", lambda x, axis, keepdims: _max_reduce(x, axis=axis, keepdims=keepdims),
              _extremum_vjp, _extremum_jvp, "max {0}")
MIN = _reduce("min", lambda x, axis, keepdims: _min_reduce(x, axis=axis, keepdims=keepdims),
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

# sum and mean spread the cotangent by shape only (see Primitive.saves).
SUM.saves = MEAN.saves = "none"
